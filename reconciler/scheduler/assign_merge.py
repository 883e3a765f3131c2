"""Dependents' preferences merged into a primary's scores (Pacemaker's
``add_colocated_node_scores``): before a resource is placed, the scores of the
resources colocated with it are added, scaled by colocation score / INFINITY,
following chains of colocations; a merge that would leave no usable node is rolled
back when the mode says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.base import score as sc
from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.scheduler.constraints import MergeMode

if TYPE_CHECKING:
    from reconciler.scheduler.assign_state import Assigner, Table


#: a score that stands for "keep, but below zero" while merging only positive scores
_HACK = INFINITY - 1


def best_score_matching(a: Assigner, rid: str, attr: str, value: str | None) -> int:
    best = MINUS_INFINITY
    for n, w in a.allowed[rid].items():
        if w > best and a.available(n) and a.attr(n, attr) == value:
            best = sc.clamp(w)
    return best


def best_by_value(a: Assigner, rid: str, attr: str) -> dict[str | None, int]:
    """For each value of ``attr``: the best score of ``rid`` on an available node."""
    avail = a.available_set
    if attr == "#uname":
        return {n: w for n, w in a.allowed[rid].items() if n in avail and w > MINUS_INFINITY}
    best: dict[str | None, int] = {}
    nodes = a.nodes
    for n, w in a.allowed[rid].items():
        if n in avail:
            v = nodes[n].attrs.get(attr)
            if w > best.get(v, MINUS_INFINITY):
                best[v] = w
    return best


def add_scores_matching(
    a: Assigner, work: Table, rid: str, attr: str, *, factor: float, only_positive: bool
) -> None:
    best = a.best_by_value(rid, attr)
    nodes = a.nodes
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
    a: Assigner, rid: str, table: Table | None, attr: str, *, factor: float, mode: MergeMode
) -> Table | None:
    """Pacemaker's add_colocated_node_scores; returns the new table."""
    this_with, only_positive = mode.this_with, mode.only_positive
    if rid in a.u.groups:
        rid_first = a.u.groups[rid].members[0]
        return a.merge(rid_first, table, attr, factor, mode)
    if rid in a.merging:
        return table
    a.merging.add(rid)
    if table is None:
        work = dict(a.allowed[rid])
    else:
        work = dict(table)
        a.add_scores_matching(work, rid, attr, factor, only_positive)
    if any(a.available(n) and w >= 0 for n, w in work.items() if w != _HACK):
        cons = a.this_with.get(rid, []) if this_with else a.with_this.get(rid, [])
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
            res = a.merge(other, work, c.node_attribute, f, mode)
            if res is not None:
                work = res
    elif mode.rollback:
        a.merging.discard(rid)
        return table
    if only_positive:
        for n in work:
            if work[n] == _HACK:
                work[n] = 1
    a.merging.discard(rid)
    return work
