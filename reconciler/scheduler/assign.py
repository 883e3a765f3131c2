"""Stage 2 (assign): choose a node and a role for every resource instance.

Follows Pacemaker's assignment: resources sorted by priority and score, each
primitive's primaries assigned first and their colocations applied, dependents'
preferences merged into the primary's scores (scaled by score/INFINITY), the
best node chosen with Pacemaker's tie-breaks (score, then fewest assigned
resources, then the current node, then the node name), clones distributed
over nodes (current nodes first, at most clone-node-max each) and promotable
clone instances promoted by promotion score.

The working tables are local to :func:`assign`; the result is immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cmp_to_key
from types import MappingProxyType

from reconciler.base import score as sc
from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.scheduler import clones
from reconciler.scheduler.constraints import (
    FORWARD,
    ROLLBACK,
    Coloc,
    LocScore,
    MergeMode,
)
from reconciler.scheduler.units import PROMOTED, STARTED, STOPPED, UNPROMOTED
from reconciler.scheduler.unpack import NodeInfo, Unpacked

Table = dict[str, int]


@dataclass(frozen=True, slots=True)
class Assignment:
    """Result of the assignment stage."""

    node: Mapping[str, str | None]  # prim instance -> node
    next_role: Mapping[str, str]  # prim instance -> Stopped/Started/Unpromoted/Promoted
    scores: Mapping[str, Mapping[str, int]]  # resource -> node -> final score
    contributions: Mapping[str, tuple[tuple[str, str, int], ...]]  # rsc -> (source, node, score)
    promotion: Mapping[str, int]
    stop_reason: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class AssignOptions:
    """Cluster options the assignment stage needs."""

    symmetric: bool = True
    strategy: str = "default"
    no_quorum_policy: str = "stop"
    stop_all: bool = False


class _Assigner:
    """Working state of one assignment run (never escapes :func:`assign`)."""

    def __init__(
        self,
        u: Unpacked,
        locs: tuple[LocScore, ...],
        colocs: tuple[Coloc, ...],
        opts: AssignOptions,
    ) -> None:
        symmetric, strategy = opts.symmetric, opts.strategy
        no_quorum_policy, stop_all = opts.no_quorum_policy, opts.stop_all
        self.u = u
        self.nodes: dict[str, NodeInfo] = {n.name: n for n in u.nodes}
        self.node_names = [n.name for n in u.nodes]
        self.available_set = frozenset(n.name for n in u.nodes if n.available)
        self.symmetric = symmetric
        self.strategy = strategy
        self.stop_all = stop_all
        self.nqp = no_quorum_policy
        self.allowed: dict[str, Table] = {}
        self.contrib: dict[str, list[tuple[str, str, int]]] = {}
        self.this_with: dict[str, list[Coloc]] = {}
        self.with_this: dict[str, list[Coloc]] = {}
        self.provisional: set[str] = set()
        self.allocating: set[str] = set()
        self.merging: set[str] = set()
        self.node_of: dict[str, str | None] = {}
        self.role_of: dict[str, str] = {}
        self.num_resources: dict[str, int] = dict.fromkeys(self.node_names, 0)
        self.util_left: dict[str, dict[str, int]] = {n.name: dict(n.utilization) for n in u.nodes}
        self.promo_locs: dict[str, list[LocScore]] = {}
        self.promotion: dict[str, int] = {}
        self.inst_priority: dict[str, int] = {}
        self.stop_reason: dict[str, str] = {}
        self.clone_count: dict[str, dict[str, int]] = {}
        self._build(locs, colocs)

    # ------------------------------------------------------------ setup
    def entities(self) -> list[str]:
        return list(self.u.prims) + list(self.u.groups) + list(self.u.clones)

    def children(self, rid: str) -> list[str]:
        if rid in self.u.groups:
            return list(self.u.groups[rid].members)
        if rid in self.u.clones:
            return list(self.u.clones[rid].instances)
        return []

    def prims_of(self, rid: str) -> list[str]:
        if rid in self.u.prims:
            return [rid]
        out: list[str] = []
        for c in self.children(rid):
            out.extend(self.prims_of(c))
        return out

    def _add(self, rid: str, node: str, score: int, source: str) -> None:
        t = self.allowed[rid]
        if node not in t:
            t[node] = self.nodes[node].base_score
        t[node] = sc.add(t[node], score)
        self.contrib.setdefault(rid, []).append((source, node, score))

    def _add_recursive(self, rid: str, node: str, score: int, source: str) -> None:
        """A location on a resource applies to its children; in a (colocated) group
        only the first member gets the score, the others just the node with 0
        (Pacemaker's group_rsc_location: the members follow the first anyway)."""
        self._add(rid, node, score, source)
        first = True
        for c in self.children(rid):
            self._add_recursive(c, node, score if first else 0, source)
            if rid in self.u.groups:
                first = False

    def _build(self, locs: tuple[LocScore, ...], colocs: tuple[Coloc, ...]) -> None:
        for rid in self.entities():
            self.allowed[rid] = (
                {n.name: n.base_score for n in self.u.nodes} if self.symmetric else {}
            )
            self.provisional.add(rid)
        for loc in locs:
            if loc.role in (PROMOTED, UNPROMOTED):
                for p in self.prims_of(loc.resource):
                    self.promo_locs.setdefault(p, []).append(loc)
                continue
            self._add_recursive(loc.resource, loc.node, loc.score, loc.source)
        # stickiness and failure bans (primitive instances)
        for pid, prim in self.u.prims.items():
            st = self.u.state[pid]
            for node, why in st.bans:
                if node in self.nodes:
                    self._ban_failed(pid, node, why)
            if prim.managed and prim.stickiness > 0 and len(st.running_on) == 1:
                node = st.running_on[0]
                if node in self.nodes and (self.symmetric or node in self.allowed[pid]):
                    self._add(pid, node, prim.stickiness, "stickiness")
            if prim.target_role == STOPPED or prim.orphan:
                for n in self.node_names:
                    self._add(pid, n, MINUS_INFINITY, "target-role Stopped")
            elif st.on_fail_stop:
                for n in self.node_names:
                    self._add(pid, n, MINUS_INFINITY, "on-fail=stop")
        for rid in list(self.u.groups) + list(self.u.clones):
            meta_tr = None
            if rid in self.u.groups:
                meta_tr = self.u.groups[rid].meta.get("target-role")
            else:
                meta_tr = self.u.clones[rid].meta.get("target-role")
            if meta_tr is not None and meta_tr.lower() == "stopped":
                for n in self.node_names:
                    self._add_recursive(rid, n, MINUS_INFINITY, "target-role Stopped")
        # colocations: group internal + configured
        internal: list[Coloc] = []
        for g in self.u.groups.values():
            for prev, cur in zip(g.members, g.members[1:], strict=False):
                internal.append(
                    Coloc(f"{g.id}-internal", cur, prev, INFINITY, None, None, "#uname", True)
                )
        for c in list(internal) + list(colocs):
            self._add_coloc(c)
        for key in self.this_with:
            self.this_with[key].sort(key=lambda c: -self.priority(c.primary))
        for key in self.with_this:
            self.with_this[key].sort(key=lambda c: -self.priority(c.dependent))

    def _add_coloc(self, c: Coloc) -> None:
        if c.score == 0:
            return
        dep = c.dependent
        if dep in self.u.groups:
            dep = self.u.groups[dep].members[0]
            c = Coloc(
                c.id,
                dep,
                c.primary,
                c.score,
                c.dependent_role,
                c.primary_role,
                c.node_attribute,
                c.influence,
            )
        self.this_with.setdefault(dep, []).append(c)
        pri = c.primary
        if pri in self.u.groups:
            pri = self.u.groups[pri].members[-1]
        self.with_this.setdefault(pri, []).append(c)

    def _ban_failed(self, pid: str, node: str, why: str) -> None:
        prim = self.u.prims[pid]
        if prim.clone is not None and not prim.unique:
            # anonymous clone: failures count for every instance on that node
            for other in self.u.base_to_instances.get(prim.base, (pid,)):
                self._add(other, node, MINUS_INFINITY, why)
        else:
            self._add(pid, node, MINUS_INFINITY, why)

    def priority(self, rid: str) -> int:
        if rid in self.inst_priority:
            return self.inst_priority[rid]
        if rid in self.u.prims:
            return self.u.prims[rid].priority
        if rid in self.u.groups:
            return max((self.u.prims[m].priority for m in self.u.groups[rid].members), default=0)
        if rid in self.u.clones:
            from reconciler.scheduler.units import parse_score

            return parse_score(self.u.clones[rid].meta.get("priority"), 0)
        return 0

    # ------------------------------------------------------------ helpers
    def available(self, node: str) -> bool:
        return node in self.available_set

    def current_node(self, rid: str) -> str | None:
        for p in self.prims_of(rid):
            st = self.u.state[p]
            if st.running_on:
                return st.running_on[0]
        return None

    def sort_nodes(self, table: Table, current: str | None) -> list[str]:
        """Nodes best first: score (unavailable ones -INFINITY), then for balanced
        the most capacity left, then fewest assigned resources, then the current
        node, then the name (minimal: score and name only)."""
        avail, count, strategy = self.available_set, self.num_resources, self.strategy
        keys: list[tuple[int, int, int, int, str]]
        if strategy == "minimal":
            keys = [(-(w if n in avail else MINUS_INFINITY), 0, 0, 0, n) for n, w in table.items()]
        elif strategy == "balanced":
            left = self.util_left
            keys = [
                (
                    -(w if n in avail else MINUS_INFINITY),
                    -sum(left[n].values()),
                    count[n],
                    n != current,
                    n,
                )
                for n, w in table.items()
            ]
        else:
            keys = [
                (-(w if n in avail else MINUS_INFINITY), 0, count[n], n != current, n)
                for n, w in table.items()
            ]
        keys.sort()
        return [k[4] for k in keys]

    def attr(self, node: str, name: str) -> str | None:
        return self.nodes[node].attrs.get(name)

    # ------------------------------------------------------------ merging
    def best_score_matching(self, rid: str, attr: str, value: str | None) -> int:
        best = MINUS_INFINITY
        for n, w in self.allowed[rid].items():
            if w > best and self.available(n) and self.attr(n, attr) == value:
                best = sc.clamp(w)
        return best

    def best_by_value(self, rid: str, attr: str) -> dict[str | None, int]:
        """For each value of ``attr``: the best score of ``rid`` on an available node."""
        avail = self.available_set
        if attr == "#uname":
            return {n: w for n, w in self.allowed[rid].items() if n in avail and w > MINUS_INFINITY}
        best: dict[str | None, int] = {}
        nodes = self.nodes
        for n, w in self.allowed[rid].items():
            if n in avail:
                v = nodes[n].attrs.get(attr)
                if w > best.get(v, MINUS_INFINITY):
                    best[v] = w
        return best

    def add_scores_matching(
        self, work: Table, rid: str, attr: str, factor: float, only_positive: bool
    ) -> None:
        best = self.best_by_value(rid, attr)
        nodes = self.nodes
        add = sc.add
        by_name = attr == "#uname"  # the usual case: the value is the node's name
        for n in list(work):
            score = best.get(n if by_name else nodes[n].attrs.get(attr), MINUS_INFINITY)
            if factor < 0 and score < 0:
                continue
            if work[n] == _HACK:
                continue
            wf = factor * score
            w = int(wf - 0.5) if wf < 0 else int(wf + 0.5)
            if w == 0 and score != 0:
                w = 1 if factor > 0 else (-1 if factor < 0 else 0)
            new = add(w, work[n])
            if only_positive and new < 0 and work[n] > 0:
                work[n] = _HACK
                continue
            if only_positive and new < 0 and work[n] == 0:
                continue
            work[n] = new

    def merge(
        self, rid: str, table: Table | None, attr: str, factor: float, mode: MergeMode
    ) -> Table | None:
        """Pacemaker's add_colocated_node_scores; returns the new table."""
        this_with, only_positive = mode.this_with, mode.only_positive
        if rid in self.u.groups:
            rid_first = self.u.groups[rid].members[0]
            return self.merge(rid_first, table, attr, factor, mode)
        if rid in self.merging:
            return table
        self.merging.add(rid)
        if table is None:
            work = dict(self.allowed[rid])
        else:
            work = dict(table)
            self.add_scores_matching(work, rid, attr, factor, only_positive)
        if any(self.available(n) and w >= 0 for n, w in work.items() if w != _HACK):
            cons = self.this_with.get(rid, []) if this_with else self.with_this.get(rid, [])
            for c in cons:
                if this_with:
                    other = c.primary
                else:
                    if not c.influence:
                        continue
                    other = c.dependent
                # Pacemaker 2.1.5 passes only the sign of the factor down the chain
                # (pcmk__native_merge_weights' "multiplier"), not the product: a
                # negative colocation with a group merges the group's internal
                # INFINITY colocations at full strength (-INFINITY), which is what
                # moves a sticky group away in colocation-vs-stickiness
                f = (-1 if factor < 0 else 1) * c.score / INFINITY
                res = self.merge(other, work, c.node_attribute, f, mode)
                if res is not None:
                    work = res
        elif mode.rollback:
            self.merging.discard(rid)
            return table
        if only_positive:
            for n in work:
                if work[n] == _HACK:
                    work[n] = 1
        self.merging.discard(rid)
        return work

    # ------------------------------------------------------------ colocation
    def apply_coloc(self, dep: str, c: Coloc) -> None:
        """Apply one colocation to the dependent primitive's scores (primary assigned)."""
        pri = c.primary
        if pri in self.u.groups:
            members = self.u.groups[pri].members
            pri = members[-1] if c.score >= INFINITY else members[0]
            c = Coloc(
                c.id,
                c.dependent,
                pri,
                c.score,
                c.dependent_role,
                c.primary_role,
                c.node_attribute,
                c.influence,
            )
        if pri in self.u.clones:
            self.apply_coloc_clone(dep, pri, c)
            return
        if pri in self.provisional:
            return
        if (
            c.primary_role is not None
            and self.role_of.get(pri) != c.primary_role
            and (c.primary_role != UNPROMOTED or self.role_of.get(pri) != STARTED)
        ):
            return
        self.apply_to_weights(dep, self.node_of.get(pri), c)

    def apply_to_weights(self, dep: str, pnode: str | None, c: Coloc) -> None:
        attr = c.node_attribute
        value = self.attr(pnode, attr) if pnode is not None else None
        if pnode is None and c.score < 0:
            return
        work = dict(self.allowed[dep])
        for n, w in work.items():
            if pnode is None:
                work[n] = sc.add(-c.score, w)
            elif self.attr(n, attr) == value:
                if c.score < INFINITY:
                    work[n] = sc.add(c.score, w)
            elif c.score >= INFINITY:
                work[n] = sc.add(-c.score, w)
        if (
            c.score <= MINUS_INFINITY
            or c.score >= INFINITY
            or any(self.available(n) and w >= 0 for n, w in work.items())
        ):
            old = self.allowed[dep]
            source = f"colocation {c.id} with {c.primary}"
            for n, w in work.items():
                if w != old[n]:
                    self.contrib.setdefault(dep, []).append((source, n, w - old[n]))
                elif c.score >= INFINITY and pnode is not None and self.attr(n, attr) == value:
                    # a mandatory colocation that this node satisfies (no score change)
                    self.contrib.setdefault(dep, []).append((source, n, 0))
            self.allowed[dep] = work

    def apply_coloc_clone(self, dep: str, clone: str, c: Coloc) -> None:
        clones.apply_coloc_clone(self, dep, clone, c)

    def assign(self, rid: str, prefer: str | None = None) -> str | None:
        if rid in self.u.groups:
            return self.assign_group(rid, prefer)
        if rid in self.u.clones:
            return self.assign_clone(rid)
        return self.assign_prim(rid, prefer)

    def assign_group(self, gid: str, prefer: str | None) -> str | None:
        g = self.u.groups[gid]
        if gid not in self.provisional:
            return self.node_of.get(g.members[0])
        if gid in self.allocating:
            return None
        self.allocating.add(gid)
        first: str | None = None
        for i, m in enumerate(g.members):
            n = self.assign_prim(m, prefer)
            if i == 0:
                first = n
        self.provisional.discard(gid)
        self.allocating.discard(gid)
        return first

    def assign_prim(self, pid: str, prefer: str | None) -> str | None:
        prim = self.u.prims[pid]
        if pid not in self.provisional:
            return self.node_of.get(pid)
        if pid in self.allocating:
            return None
        self.allocating.add(pid)
        for c in list(self.this_with.get(pid, [])):
            archive = None
            if c.dependent_role == PROMOTED or MINUS_INFINITY < c.score < 0:
                archive = dict(self.allowed[pid])
            self.assign(c.primary)
            self.apply_coloc(pid, c)
            if archive is not None and not any(
                self.available(n) and w >= 0 for n, w in self.allowed[pid].items()
            ):
                self.allowed[pid] = archive
        for c in self.with_this.get(pid, []):
            if not c.influence:
                continue
            res = self.merge(
                c.dependent, self.allowed[pid], c.node_attribute, c.score / INFINITY, ROLLBACK
            )
            if res is not None:
                self.allowed[pid] = res
        st = self.u.state[pid]
        if not prim.managed or st.blocked:
            node = st.running_on[0] if st.running_on else None
            self.finalize(pid, node, force=True)
            self.role_of[pid] = st.role
        elif self.stop_all:
            self.finalize(pid, None, force=True)
        else:
            self.choose(pid, prefer)
        self.allocating.discard(pid)
        return self.node_of.get(pid)

    def choose(self, pid: str, prefer: str | None) -> None:
        table = self.allowed[pid]
        prim = self.u.prims[pid]
        if self.strategy != "default":
            self.ban_insufficient_capacity(pid)
        current = self.current_node(pid)
        nodes = self.sort_nodes(table, current)
        chosen: str | None = None
        best = nodes[0] if nodes else None
        if (
            prefer is not None
            and best is not None
            and prefer in table
            and table[prefer] >= table[best]
            and self.available(prefer)
            and table[prefer] >= 0
        ):
            chosen = prefer
        if chosen is None and best is not None:
            chosen = best
            unique_clone = prim.clone is not None and prim.unique
            if (
                not unique_clone
                and table[chosen] > 0
                and self.available(chosen)
                and current is not None
                and self.available(current)
                and table.get(current, -1) >= 0
            ):
                for n in nodes[1:]:
                    if table[n] != table[chosen]:
                        break
                    if n == current:
                        chosen = n
        self.finalize(pid, chosen, force=False)

    def colocated_resources(self, pid: str) -> list[str]:
        """Primitives mandatorily colocated with ``pid`` (either direction), ``pid`` first."""
        seen = [pid]
        todo = [pid]
        while todo:
            cur = todo.pop()
            links = [c.primary for c in self.this_with.get(cur, []) if c.score >= INFINITY]
            links += [c.dependent for c in self.with_this.get(cur, []) if c.score >= INFINITY]
            for other in links:
                for p in self.prims_of(other) if other not in self.u.clones else []:
                    if p not in seen:
                        seen.append(p)
                        todo.append(p)
        return seen

    def ban_insufficient_capacity(self, pid: str) -> None:
        """Pacemaker's pcmk__ban_insufficient_capacity."""
        table = self.allowed[pid]
        group = [p for p in self.colocated_resources(pid) if p == pid or p in self.provisional]
        need: dict[str, int] = {}
        for p in group:
            for k, v in self.u.prims[p].utilization.items():
                need[k] = need.get(k, 0) + v
        if not need:
            return
        usable = [n for n in table if self.available(n) and table[n] >= 0]
        own = self.u.prims[pid].utilization
        basis = need if any(self.fits(n, need) for n in usable) else own
        for n in usable:
            if not self.fits(n, basis):
                table[n] = MINUS_INFINITY
                self.contrib.setdefault(pid, []).append(
                    ("insufficient capacity", n, MINUS_INFINITY)
                )

    def fits(self, node: str, need: Mapping[str, int]) -> bool:
        left = self.util_left[node]
        return all(left.get(k, 0) >= v for k, v in need.items())

    def finalize(self, pid: str, chosen: str | None, force: bool) -> None:
        if (
            not force
            and chosen is not None
            and (self.allowed[pid].get(chosen, MINUS_INFINITY) < 0 or not self.available(chosen))
        ):
            chosen = None
        self.provisional.discard(pid)
        self.node_of[pid] = chosen
        if chosen is None:
            self.role_of[pid] = STOPPED
            self.stop_reason.setdefault(pid, "node availability")
            return
        prim = self.u.prims[pid]
        self.role_of[pid] = UNPROMOTED if prim.promotable else STARTED
        self.num_resources[chosen] += 1
        for k, v in prim.utilization.items():
            self.util_left[chosen][k] = self.util_left[chosen].get(k, 0) - v
        if prim.clone is not None:
            cc = self.clone_count.setdefault(prim.clone, {})
            cc[chosen] = cc.get(chosen, 0) + 1

    # ------------------------------------------------------------ clones
    def assign_clone(self, cid: str) -> str | None:
        return clones.assign_clone(self, cid)


_HACK = INFINITY - 1


def capacity_cmp(left: Mapping[str, Mapping[str, int]], n1: str, n2: str) -> int:
    """Pacemaker's pcmk__compare_node_capacities: negative when ``n1`` has more
    remaining capacity (one vote per utilization attribute, either node's)."""
    result = 0
    for names in (left[n1], left[n2]):
        for k in sorted(names):
            c1, c2 = left[n1].get(k, 0), left[n2].get(k, 0)
            result += -1 if c1 > c2 else (1 if c1 < c2 else 0)
    return result


def _nodes_for_resource_order(a: _Assigner) -> list[str]:
    """The node order Pacemaker compares resources' scores in (pcmk__sort_resources
    sorts the nodes with compare_nodes first): available nodes by weight, then
    (balanced) remaining capacity, then name."""

    def cmp(n1: str, n2: str) -> int:
        w1 = a.nodes[n1].base_score if a.available(n1) else MINUS_INFINITY
        w2 = a.nodes[n2].base_score if a.available(n2) else MINUS_INFINITY
        if w1 != w2:
            return -1 if w1 > w2 else 1
        if a.strategy == "balanced":
            c = capacity_cmp(a.util_left, n1, n2)
            if c:
                return -1 if c < 0 else 1
        return -1 if n1 < n2 else (1 if n1 > n2 else 0)

    return sorted(a.node_names, key=cmp_to_key(cmp))


def assign(
    u: Unpacked,
    locs: tuple[LocScore, ...],
    colocs: tuple[Coloc, ...],
    *,
    symmetric: bool,
    strategy: str,
    no_quorum_policy: str,
    stop_all: bool,
) -> Assignment:
    """Assign every resource instance to a node and a role."""
    a = _Assigner(
        u,
        locs,
        colocs,
        AssignOptions(symmetric, strategy, no_quorum_policy, stop_all),
    )
    tops = list(u.tops)
    nodes_sorted = _nodes_for_resource_order(a)
    if strategy == "default":
        # Pacemaker assigns in configuration order, sorted by priority only
        ordered = sorted(tops, key=lambda r: -a.priority(r))
    else:
        keys: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        for rid in tops:
            table = a.merge(rid, None, "#uname", 1.0, FORWARD) or {}
            cur = a.current_node(rid)
            cur_score = table.get(cur, MINUS_INFINITY) if cur is not None else MINUS_INFINITY
            keys[rid] = (
                a.priority(rid),
                cur_score,
                tuple(table.get(n, MINUS_INFINITY) for n in nodes_sorted),
            )
        ordered = sorted(
            tops, key=lambda r: (-keys[r][0], -keys[r][1], tuple(-x for x in keys[r][2]))
        )
    for rid in ordered:
        a.assign(rid)
    for pid in u.prims:
        if pid in a.provisional:
            a.assign_prim(pid, None)
    return Assignment(
        node=MappingProxyType(dict(a.node_of)),
        next_role=MappingProxyType(dict(a.role_of)),
        scores=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in a.allowed.items()}),
        contributions=MappingProxyType({k: tuple(v) for k, v in a.contrib.items()}),
        promotion=MappingProxyType(dict(a.promotion)),
        stop_reason=MappingProxyType(dict(a.stop_reason)),
    )
