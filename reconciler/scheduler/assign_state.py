"""The working state of one assignment run: score tables, colocation lists, counters.

:class:`Assigner` holds every table the assignment stage works on and builds them
(locations, stickiness, failure bans, target roles, group and configured
colocations). The stages that work on it live in their own modules and are reached
through its methods: ``assign_choose`` (assign resources and pick their nodes),
``assign_merge`` (dependents' preferences merged into a primary's scores),
``assign_coloc`` (an assigned primary's colocations applied to a dependent),
``assign_capacity`` (utilization) and ``clones``. It never escapes ``assign()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.base import score as sc
from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.scheduler import (
    assign_capacity,
    assign_choose,
    assign_coloc,
    assign_merge,
    clones,
)
from reconciler.scheduler.constraints import Coloc, LocScore, MergeMode
from reconciler.scheduler.units import PROMOTED, STOPPED, UNPROMOTED
from reconciler.scheduler.unpack import NodeInfo, Unpacked

Table = dict[str, int]


@dataclass(frozen=True, slots=True)
class AssignOptions:
    """Cluster options the assignment stage needs."""

    symmetric: bool = True
    strategy: str = "default"
    no_quorum_policy: str = "stop"
    stop_all: bool = False


class Assigner:
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

    def attr(self, node: str, name: str) -> str | None:
        return self.nodes[node].attrs.get(name)

    # ------------------------------------------------------------ the stages (modules)
    def sort_nodes(self, table: Table, current: str | None) -> list[str]:
        return assign_choose.sort_nodes(self, table, current)

    def best_score_matching(self, rid: str, attr: str, value: str | None) -> int:
        return assign_merge.best_score_matching(self, rid, attr, value)

    def best_by_value(self, rid: str, attr: str) -> dict[str | None, int]:
        return assign_merge.best_by_value(self, rid, attr)

    def add_scores_matching(
        self, work: Table, rid: str, attr: str, factor: float, only_positive: bool
    ) -> None:
        assign_merge.add_scores_matching(
            self, work, rid, attr, factor=factor, only_positive=only_positive
        )

    def merge(
        self, rid: str, table: Table | None, attr: str, factor: float, mode: MergeMode
    ) -> Table | None:
        return assign_merge.merge(self, rid, table, attr, factor=factor, mode=mode)

    def apply_coloc(self, dep: str, c: Coloc) -> None:
        assign_coloc.apply_coloc(self, dep, c)

    def apply_to_weights(self, dep: str, pnode: str | None, c: Coloc) -> None:
        assign_coloc.apply_to_weights(self, dep, pnode, c)

    def assign(self, rid: str, prefer: str | None = None) -> str | None:
        return assign_choose.assign(self, rid, prefer)

    def assign_group(self, gid: str, prefer: str | None) -> str | None:
        return assign_choose.assign_group(self, gid, prefer)

    def assign_prim(self, pid: str, prefer: str | None) -> str | None:
        return assign_choose.assign_prim(self, pid, prefer)

    def choose(self, pid: str, prefer: str | None) -> None:
        assign_choose.choose(self, pid, prefer)

    def colocated_resources(self, pid: str) -> list[str]:
        return assign_capacity.colocated_resources(self, pid)

    def ban_insufficient_capacity(self, pid: str) -> None:
        assign_capacity.ban_insufficient_capacity(self, pid)

    def fits(self, node: str, need: Mapping[str, int]) -> bool:
        return assign_capacity.fits(self, node, need)

    def finalize(self, pid: str, chosen: str | None, force: bool) -> None:
        assign_choose.finalize(self, pid, chosen, force)

    def apply_coloc_clone(self, dep: str, clone: str, c: Coloc) -> None:
        clones.apply_coloc_clone(self, dep, clone, c)

    def assign_clone(self, cid: str) -> str | None:
        return clones.assign_clone(self, cid)
