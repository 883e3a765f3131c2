"""Utilization: nodes without the capacity a resource (with everything mandatorily
colocated with it) needs are banned for it, and the order nodes are compared in
when resources are sorted (balanced: by remaining capacity)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cmp_to_key
from typing import TYPE_CHECKING

from reconciler.base.score import INFINITY, MINUS_INFINITY

if TYPE_CHECKING:
    from reconciler.scheduler.assign_state import Assigner


def colocated_resources(a: Assigner, pid: str) -> list[str]:
    """Primitives mandatorily colocated with ``pid`` (either direction), ``pid`` first."""
    seen = [pid]
    todo = [pid]
    while todo:
        cur = todo.pop()
        links = [c.primary for c in a.this_with.get(cur, []) if c.score >= INFINITY]
        links += [c.dependent for c in a.with_this.get(cur, []) if c.score >= INFINITY]
        for other in links:
            for p in a.prims_of(other) if other not in a.u.clones else []:
                if p not in seen:
                    seen.append(p)
                    todo.append(p)
    return seen


def ban_insufficient_capacity(a: Assigner, pid: str) -> None:
    """Pacemaker's pcmk__ban_insufficient_capacity."""
    table = a.allowed[pid]
    group = [p for p in a.colocated_resources(pid) if p == pid or p in a.provisional]
    need: dict[str, int] = {}
    for p in group:
        for k, v in a.u.prims[p].utilization.items():
            need[k] = need.get(k, 0) + v
    if not need:
        return
    usable = [n for n in table if a.available(n) and table[n] >= 0]
    own = a.u.prims[pid].utilization
    basis = need if any(a.fits(n, need) for n in usable) else own
    for n in usable:
        if not a.fits(n, basis):
            table[n] = MINUS_INFINITY
            a.contrib.setdefault(pid, []).append(("insufficient capacity", n, MINUS_INFINITY))


def fits(a: Assigner, node: str, need: Mapping[str, int]) -> bool:
    left = a.util_left[node]
    return all(left.get(k, 0) >= v for k, v in need.items())


def capacity_cmp(left: Mapping[str, Mapping[str, int]], n1: str, n2: str) -> int:
    """Pacemaker's pcmk__compare_node_capacities: negative when ``n1`` has more
    remaining capacity (one vote per utilization attribute, either node's)."""
    result = 0
    for names in (left[n1], left[n2]):
        for k in sorted(names):
            c1, c2 = left[n1].get(k, 0), left[n2].get(k, 0)
            result += -1 if c1 > c2 else (1 if c1 < c2 else 0)
    return result


def nodes_for_resource_order(a: Assigner) -> list[str]:
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
