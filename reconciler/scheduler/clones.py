"""Clone placement: distribute instances over nodes and choose promoted instances.

Pacemaker's clone assignment: instances sorted (active ones on usable nodes
first), pre-assigned to their current nodes up to an even share, the rest
assigned one by one with at most clone-node-max per node; for promotable
clones the instances with the highest promotion scores (node attribute
``master-<rsc>``, role-specific location rules and colocations) are promoted
up to promoted-max / promoted-node-max.
"""

from __future__ import annotations

from contextlib import suppress
from functools import cmp_to_key
from typing import TYPE_CHECKING

from reconciler.base import score as sc
from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.scheduler.constraints import ROLLBACK_POSITIVE, Coloc, MergeMode
from reconciler.scheduler.units import PROMOTED, UNPROMOTED

if TYPE_CHECKING:
    from reconciler.scheduler.assign_state import Assigner as _Assigner


def apply_coloc_clone(a: _Assigner, dep: str, clone: str, c: Coloc) -> None:
    if clone in a.provisional:
        return
    insts = a.u.clones[clone].instances
    if c.score >= INFINITY:
        ok: set[str] = set()
        for i in insts:
            for p in a.prims_of(i)[:1]:
                node = a.node_of.get(p)
                if node is None:
                    continue
                if c.primary_role is not None and a.role_of.get(p) != c.primary_role:
                    continue
                ok.add(node)
        for n in a.allowed[dep]:
            if n not in ok:
                a.allowed[dep][n] = MINUS_INFINITY
                a.contrib.setdefault(dep, []).append(
                    (f"colocation {c.id} with {clone}", n, MINUS_INFINITY)
                )
        return
    for i in insts:
        p = a.prims_of(i)[0]
        if c.primary_role is not None and a.role_of.get(p) != c.primary_role:
            continue
        node = a.node_of.get(p)
        if node is None:
            continue
        a.apply_to_weights(dep, node, c)


# ------------------------------------------------------------ assignment


def assign_clone(a: _Assigner, cid: str) -> str | None:
    if cid not in a.provisional:
        return None
    if cid in a.allocating:
        return None
    a.allocating.add(cid)
    clone = a.u.clones[cid]
    if clone.promotable:
        add_promotion_scores(a, cid)
    for c in a.this_with.get(cid, []):
        a.assign(c.primary)
    for c in a.with_this.get(cid, []):
        if not c.influence:
            continue
        res = a.merge(
            c.dependent,
            a.allowed[cid],
            c.node_attribute,
            c.score / INFINITY,
            ROLLBACK_POSITIVE,
        )
        if res is not None:
            a.allowed[cid] = res
    available = [n for n in a.node_names if a.available(n)]
    max_total = clone.clone_max
    per_node = clone.clone_node_max
    all_coloc = max_total < len(available)
    loop_max = max(1, max_total // len(available)) if available else 1
    a.clone_count[cid] = {}
    insts = sorted_instances(a, cid)
    allocated = 0
    for inst in insts:
        if allocated >= max_total:
            break
        cur = a.current_node(inst)
        if cur is None or inst not in a.provisional:
            continue
        if any(a.u.state[p].failed for p in a.prims_of(inst)):
            continue
        if not a.available(cur) or a.allowed[cid].get(cur, MINUS_INFINITY) < 0:
            continue
        if a.clone_count[cid].get(cur, 0) >= loop_max:
            continue
        if assign_instance(a, cid, inst, prefer=cur, all_coloc=all_coloc, limit=per_node):
            allocated += 1
    for inst in insts:
        if inst not in a.provisional:
            continue
        if allocated >= max_total:
            for p in a.prims_of(inst):
                for n in a.node_names:
                    a._add(p, n, MINUS_INFINITY, "clone limit reached")
            a.assign(inst)
            continue
        if assign_instance(a, cid, inst, prefer=None, all_coloc=all_coloc, limit=per_node):
            allocated += 1
    if clone.promotable:
        set_roles(a, cid, insts)
    a.provisional.discard(cid)
    a.allocating.discard(cid)
    return None


def sorted_instances(a: _Assigner, cid: str) -> list[str]:
    """Instances in Pacemaker's assignment order (pcmk__cmp_instance)."""
    clone = a.u.clones[cid]
    info: dict[str, tuple[int, str | None, bool]] = {}
    per_node: dict[str, int] = {}
    for inst in clone.instances:
        nodes: list[str] = []
        failed = False
        for p in a.prims_of(inst):
            st = a.u.state[p]
            nodes.extend(n for n in st.running_on if n not in nodes)
            failed = failed or st.failed
        cur = nodes[0] if nodes else None
        info[inst] = (len(nodes), cur, failed)
        if cur is not None:
            per_node[cur] = per_node.get(cur, 0) + 1

    def allowed(inst: str, node: str | None) -> bool:
        table = a.allowed[a.prims_of(inst)[0]]
        return node is None or table.get(node, MINUS_INFINITY) >= 0

    def cmp(i1: str, i2: str) -> int:
        n1, c1, f1 = info[i1]
        n2, c2, f2 = info[i2]
        if n1 > 0 and n2 > 0 and n1 != n2:
            return -1 if n1 < n2 else 1
        ok1, ok2 = allowed(i1, c1), allowed(i2, c2)
        if ok1 != ok2:
            return -1 if ok1 else 1
        if not ok1:
            c1 = None
        if not ok2:
            c2 = None
        p1, p2 = a.priority(i1), a.priority(i2)
        if p1 != p2:
            return -1 if p1 > p2 else 1
        if c1 is None and c2 is None:
            return 0
        if c1 is None or c2 is None:
            return 1 if c1 is None else -1
        av1, av2 = a.available(c1), a.available(c2)
        if av1 != av2:
            return -1 if av1 else 1
        top1 = a.allowed[cid].get(c1, MINUS_INFINITY) >= 0
        top2 = a.allowed[cid].get(c2, MINUS_INFINITY) >= 0
        if top1 != top2:
            return -1 if top1 else 1
        if per_node.get(c1, 0) != per_node.get(c2, 0):
            return -1 if per_node.get(c1, 0) < per_node.get(c2, 0) else 1
        if f1 != f2:
            return -1 if not f1 else 1
        s1 = a.allowed[cid].get(c1, 0)
        s2 = a.allowed[cid].get(c2, 0)
        if s1 != s2:
            return -1 if s1 > s2 else 1
        return clone.instances.index(i1) - clone.instances.index(i2)

    return sorted(clone.instances, key=cmp_to_key(cmp))


def assign_instance(
    a: _Assigner, cid: str, inst: str, *, prefer: str | None, all_coloc: bool, limit: int
) -> bool:
    if inst not in a.provisional:
        return a.node_of.get(a.prims_of(inst)[0]) is not None
    target = a.prims_of(inst)[0] if inst in a.u.groups else inst
    # parent colocations apply to every instance
    for c in a.this_with.get(cid, []):
        cc = Coloc(
            c.id,
            target,
            c.primary,
            c.score,
            c.dependent_role,
            c.primary_role,
            c.node_attribute,
            c.influence,
        )
        if cc not in a.this_with.setdefault(target, []):
            a.this_with[target].append(cc)
    for c in a.with_this.get(cid, []):
        if all_coloc or c.score < 0 or c.score >= INFINITY:
            cc = Coloc(
                c.id,
                c.dependent,
                target,
                c.score,
                c.dependent_role,
                c.primary_role,
                c.node_attribute,
                c.influence,
            )
            if cc not in a.with_this.setdefault(target, []):
                a.with_this[target].append(cc)
    if prefer is not None:
        w = a.allowed[target].get(prefer)
        if w is None or w < 0:
            return False
    counts = a.clone_count.setdefault(cid, {})
    backups = {p: dict(a.allowed[p]) for p in a.prims_of(inst)}
    for p in a.prims_of(inst):
        for n in a.allowed[p]:
            if counts.get(n, 0) >= limit or not a.available(n):
                a.allowed[p][n] = MINUS_INFINITY
    saved = (dict(a.num_resources), {k: dict(v) for k, v in a.clone_count.items()})
    chosen = a.assign(inst, prefer)
    if inst in a.u.groups:
        # group counts once per node, not once per member
        pass
    if chosen is not None and prefer is not None and chosen != prefer:
        for p in a.prims_of(inst):
            a.allowed[p] = backups[p]
            a.provisional.add(p)
            a.node_of.pop(p, None)
            a.role_of.pop(p, None)
        a.provisional.add(inst)
        a.num_resources, a.clone_count = saved[0], saved[1]
        return False
    if inst in a.u.groups and chosen is not None:
        per_node = a.clone_count.setdefault(cid, {})
        members = len(a.prims_of(inst))
        per_node[chosen] = per_node.get(chosen, 0) - (members - 1)
    return chosen is not None


def _score_applies(a: _Assigner, inst: str, p: str, node: str) -> bool:
    """Pacemaker's promotion_score_applies for one primitive instance ``p`` on ``node``."""
    prim = a.u.prims[p]
    st = a.u.state[p]
    clone = a.u.clones[prim.clone] if prim.clone is not None else None
    if clone is not None and not prim.unique:
        same_base = [q for q in a.u.base_to_instances.get(prim.base, ()) if q in a.u.state]
        active = next((q for q in same_base if node in a.u.state[q].running_on), None)
        if active == p:
            return _allowed(a, p, node)
        if active is None and any(node in a.u.state[q].probed_nodes for q in same_base):
            return _allowed(a, p, node)
    if not st.running_on and not st.probed_nodes:
        return _allowed(a, p, node)
    if node in st.probed_nodes or node in st.running_on:
        return _allowed(a, p, node)
    _ = inst
    return False


def _allowed(a: _Assigner, p: str, node: str) -> bool:
    return a.allowed[p].get(node, MINUS_INFINITY) >= 0


def promotion_score(a: _Assigner, inst: str, node: str, default: int) -> int:
    """Pacemaker's promotion_score: the ``master-<name>`` node attribute (summed for groups)."""
    prims = a.prims_of(inst)
    if inst in a.u.groups:
        score = default
        for p in prims:
            c_score = _prim_promotion_score(a, inst, p, node, default)
            score = c_score if score == default else score + c_score
        return score
    return _prim_promotion_score(a, inst, prims[0], node, default)


def _prim_promotion_score(a: _Assigner, inst: str, p: str, node: str, default: int) -> int:
    if not _score_applies(a, inst, p, node):
        return default
    prim = a.u.prims[p]
    names = [h for n, h in a.u.state[p].history_names if n == node] or [prim.id]
    raw = a.nodes[node].attrs.get("master-" + names[-1])
    if raw is None and not prim.unique and prim.base != prim.id:
        raw = a.nodes[node].attrs.get("master-" + prim.base)
    if raw is None:
        return default
    with suppress(ValueError):
        return sc.parse(raw)
    return default


def add_promotion_scores(a: _Assigner, cid: str) -> None:
    """Positive promotion scores make instances prefer those nodes (before placement)."""
    for inst in a.u.clones[cid].instances:
        target = a.prims_of(inst)[0]
        for node in list(a.allowed[target]):
            if not a.available(node):
                continue
            score = promotion_score(a, inst, node, 0)
            if score > 0:
                new = sc.add(a.allowed[target][node], score)
                if new != a.allowed[target][node]:
                    a.contrib.setdefault(target, []).append(("promotion score", node, score))
                    a.allowed[target][node] = new
            if score > a.inst_priority.get(inst, a.priority(inst)):
                a.inst_priority[inst] = score


def _coloc_to_priority(a: _Assigner, p: str, node: str, c: Coloc, prio: int) -> int:
    """Pacemaker's pcmk__apply_coloc_to_priority for a role colocation of an instance."""
    primaries = a.prims_of(c.primary)
    if not primaries:
        return prio
    if c.primary in a.u.clones:
        pnodes = [
            a.node_of.get(a.prims_of(i)[0])
            for i in a.u.clones[c.primary].instances
            if c.primary_role is None or a.role_of.get(a.prims_of(i)[0]) == c.primary_role
        ]
        pnode = next(
            (
                n
                for n in pnodes
                if n is not None and a.attr(n, c.node_attribute) == a.attr(node, c.node_attribute)
            ),
            None,
        )
        prole = c.primary_role
    else:
        pnode = a.node_of.get(primaries[0])
        prole = a.role_of.get(primaries[0])
    if pnode is None:
        return prio
    if a.attr(pnode, c.node_attribute) != a.attr(node, c.node_attribute):
        if c.score >= INFINITY and c.dependent_role == PROMOTED:
            return MINUS_INFINITY
        return prio
    if c.primary_role is not None and c.primary_role != prole:
        return prio
    mult = -1 if c.dependent_role == UNPROMOTED else 1
    _ = p
    return sc.add(mult * c.score, prio)


def set_roles(a: _Assigner, cid: str, order: list[str]) -> None:
    """Pacemaker's pcmk__set_instance_roles + promotion_order."""
    clone = a.u.clones[cid]
    no_promotion = not a.u.have_quorum and a.nqp == "demote"
    target = (clone.meta.get("target-role") or "").lower()
    target_unpromoted = target in ("unpromoted", "slave")
    sort_index: dict[str, int] = {}
    node_of: dict[str, str] = {}
    for inst in order:
        p = a.prims_of(inst)[0]
        node = a.node_of.get(p)
        if node is None:
            sort_index[inst] = 0
            continue
        node_of[inst] = node
        prio = promotion_score(a, inst, node, -1)
        if node in a.u.state[p].demote_nodes or target_unpromoted:
            prio = MINUS_INFINITY
        for q in a.prims_of(inst):
            for loc in a.promo_locs.get(q, []):
                if loc.node == node and loc.role == PROMOTED:
                    prio = sc.add(loc.score, prio)
                    break
        for c in a.this_with.get(p, []):
            if c.dependent_role in (PROMOTED, UNPROMOTED):
                prio = _coloc_to_priority(a, p, node, c, prio)
        sort_index[inst] = prio
    # promotion_order: merge with the clone's scores and role colocations
    table = dict(a.allowed[cid])
    for inst, node in node_of.items():
        if sort_index[inst] >= 0 and node in table:
            table[node] = sc.add(sort_index[inst], table[node])
    for c in a.this_with.get(cid, []):
        if c.dependent_role == PROMOTED:
            mode = MergeMode(rollback=c.score < INFINITY)
            res = a.merge(c.primary, table, c.node_attribute, c.score / INFINITY, mode)
            table = res if res is not None else table
    for c in a.with_this.get(cid, []):
        if c.primary_role == PROMOTED and c.influence:
            res = a.merge(
                c.dependent, table, c.node_attribute, c.score / INFINITY, ROLLBACK_POSITIVE
            )
            table = res if res is not None else table
    for inst, node in node_of.items():
        if sort_index[inst] >= 0 and node in table:
            sort_index[inst] = table[node]
    rank = {inst: i for i, inst in enumerate(order)}

    def key(inst: str) -> tuple[int, int, int]:
        cur = 1 if a.u.state[a.prims_of(inst)[0]].role == PROMOTED else 0
        return (-sort_index[inst], -cur, rank[inst])

    promoted = 0
    per_node: dict[str, int] = {}
    for inst in sorted(order, key=key):
        a.promotion[inst] = sort_index[inst]
        node = node_of.get(inst)
        if node is None or sort_index[inst] < 0 or no_promotion:
            continue
        if promoted >= clone.promoted_max:
            continue
        if per_node.get(node, 0) >= clone.promoted_node_max:
            continue
        per_node[node] = per_node.get(node, 0) + 1
        promoted += 1
        for q in a.prims_of(inst):
            a.role_of[q] = PROMOTED
