"""Assigning resources: a resource's primaries first (and their colocations applied),
dependents' preferences merged in, then the best node by Pacemaker's tie-breaks
(score, then fewest assigned resources, then the current node, then node order),
and the choice recorded (role, counts, remaining capacity)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.scheduler.constraints import ROLLBACK
from reconciler.scheduler.units import PROMOTED, STARTED, STOPPED, UNPROMOTED

if TYPE_CHECKING:
    from reconciler.scheduler.assign_state import Assigner, Table


def assign(a: Assigner, rid: str, prefer: str | None = None) -> str | None:
    if rid in a.u.groups:
        return a.assign_group(rid, prefer)
    if rid in a.u.clones:
        return a.assign_clone(rid)
    return a.assign_prim(rid, prefer)


def assign_group(a: Assigner, gid: str, prefer: str | None) -> str | None:
    g = a.u.groups[gid]
    if gid not in a.provisional:
        return a.node_of.get(g.members[0])
    if gid in a.allocating:
        return None
    a.allocating.add(gid)
    first: str | None = None
    for i, m in enumerate(g.members):
        n = a.assign_prim(m, prefer)
        if i == 0:
            first = n
    a.provisional.discard(gid)
    a.allocating.discard(gid)
    return first


def assign_prim(a: Assigner, pid: str, prefer: str | None) -> str | None:
    prim = a.u.prims[pid]
    if pid not in a.provisional:
        return a.node_of.get(pid)
    if pid in a.allocating:
        return None
    a.allocating.add(pid)
    for c in list(a.this_with.get(pid, [])):
        archive = None
        if c.dependent_role == PROMOTED or MINUS_INFINITY < c.score < 0:
            archive = dict(a.allowed[pid])
        a.assign(c.primary)
        a.apply_coloc(pid, c)
        if archive is not None and not any(
            a.available(n) and w >= 0 for n, w in a.allowed[pid].items()
        ):
            a.allowed[pid] = archive
    for c in a.with_this.get(pid, []):
        if not c.influence:
            continue
        res = a.merge(c.dependent, a.allowed[pid], c.node_attribute, c.score / INFINITY, ROLLBACK)
        if res is not None:
            a.allowed[pid] = res
    st = a.u.state[pid]
    if not prim.managed or st.blocked:
        node = st.running_on[0] if st.running_on else None
        a.finalize(pid, node, force=True)
        a.role_of[pid] = st.role
    elif a.stop_all:
        a.finalize(pid, None, force=True)
    else:
        a.choose(pid, prefer)
    a.allocating.discard(pid)
    return a.node_of.get(pid)


def choose(a: Assigner, pid: str, prefer: str | None) -> None:
    table = a.allowed[pid]
    prim = a.u.prims[pid]
    if a.strategy != "default":
        a.ban_insufficient_capacity(pid)
    current = a.current_node(pid)
    nodes = a.sort_nodes(table, current)
    chosen: str | None = None
    best = nodes[0] if nodes else None
    if (
        prefer is not None
        and best is not None
        and prefer in table
        and table[prefer] >= table[best]
        and a.available(prefer)
        and table[prefer] >= 0
    ):
        chosen = prefer
    if chosen is None and best is not None:
        chosen = best
        unique_clone = prim.clone is not None and prim.unique
        if (
            not unique_clone
            and table[chosen] > 0
            and a.available(chosen)
            and current is not None
            and a.available(current)
            and table.get(current, -1) >= 0
        ):
            for n in nodes[1:]:
                if table[n] != table[chosen]:
                    break
                if n == current:
                    chosen = n
    a.finalize(pid, chosen, force=False)


def sort_nodes(a: Assigner, table: Table, current: str | None) -> list[str]:
    """Nodes best first: score (unavailable ones -INFINITY), then for balanced
    the most capacity left, then fewest assigned resources, then the current
    node, then the name (minimal: score and name only)."""
    avail, count, strategy = a.available_set, a.num_resources, a.strategy
    keys: list[tuple[int, int, int, int, str]]
    if strategy == "minimal":
        keys = [(-(w if n in avail else MINUS_INFINITY), 0, 0, 0, n) for n, w in table.items()]
    elif strategy == "balanced":
        left = a.util_left
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


def finalize(a: Assigner, pid: str, chosen: str | None, force: bool) -> None:
    if (
        not force
        and chosen is not None
        and (a.allowed[pid].get(chosen, MINUS_INFINITY) < 0 or not a.available(chosen))
    ):
        chosen = None
    a.provisional.discard(pid)
    a.node_of[pid] = chosen
    if chosen is None:
        a.role_of[pid] = STOPPED
        a.stop_reason.setdefault(pid, "node availability")
        return
    prim = a.u.prims[pid]
    a.role_of[pid] = UNPROMOTED if prim.promotable else STARTED
    a.num_resources[chosen] += 1
    for k, v in prim.utilization.items():
        a.util_left[chosen][k] = a.util_left[chosen].get(k, 0) - v
    if prim.clone is not None:
        cc = a.clone_count.setdefault(prim.clone, {})
        cc[chosen] = cc.get(chosen, 0) + 1
