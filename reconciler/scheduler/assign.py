"""Stage 2 (assign): choose a node and a role for every resource instance.

Follows Pacemaker's assignment: resources sorted by priority and score, each
primitive's primaries assigned first and their colocations applied, dependents'
preferences merged into the primary's scores (scaled by score/INFINITY), the
best node chosen with Pacemaker's tie-breaks (score, then fewest assigned
resources, then the current node, then the node name), clones distributed
over nodes (current nodes first, at most clone-node-max each) and promotable
clone instances promoted by promotion score.

The working tables (``assign_state.Assigner``) are local to :func:`assign`; the
result is immutable. The stages are modules of their own: ``assign_choose``,
``assign_merge``, ``assign_coloc``, ``assign_capacity`` and ``clones``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from reconciler.base.score import MINUS_INFINITY
from reconciler.scheduler.assign_capacity import nodes_for_resource_order
from reconciler.scheduler.assign_state import Assigner, AssignOptions
from reconciler.scheduler.constraints import (
    FORWARD,
    Coloc,
    LocScore,
)
from reconciler.scheduler.unpack import Unpacked

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
    a = Assigner(
        u,
        locs,
        colocs,
        AssignOptions(symmetric, strategy, no_quorum_policy, stop_all),
    )
    tops = list(u.tops)
    nodes_sorted = nodes_for_resource_order(a)
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
