"""An assigned primary's colocation applied to a dependent's scores: mandatory
colocations keep only the nodes matching the primary's node attribute (``#uname``:
its node), advisory ones add their score there; role-restricted colocations apply
only when the primary has that role, colocations with a clone go through ``clones``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.base import score as sc
from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.scheduler.constraints import Coloc
from reconciler.scheduler.units import STARTED, UNPROMOTED

if TYPE_CHECKING:
    from reconciler.scheduler.assign_state import Assigner


def apply_coloc(a: Assigner, dep: str, c: Coloc) -> None:
    """Apply one colocation to the dependent primitive's scores (primary assigned)."""
    pri = c.primary
    if pri in a.u.groups:
        members = a.u.groups[pri].members
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
    if pri in a.u.clones:
        a.apply_coloc_clone(dep, pri, c)
        return
    if pri in a.provisional:
        return
    if (
        c.primary_role is not None
        and a.role_of.get(pri) != c.primary_role
        and (c.primary_role != UNPROMOTED or a.role_of.get(pri) != STARTED)
    ):
        return
    a.apply_to_weights(dep, a.node_of.get(pri), c)


def apply_to_weights(a: Assigner, dep: str, pnode: str | None, c: Coloc) -> None:
    attr = c.node_attribute
    value = a.attr(pnode, attr) if pnode is not None else None
    if pnode is None and c.score < 0:
        return
    work = dict(a.allowed[dep])
    for n, w in work.items():
        if pnode is None:
            work[n] = sc.add(-c.score, w)
        elif a.attr(n, attr) == value:
            if c.score < INFINITY:
                work[n] = sc.add(c.score, w)
        elif c.score >= INFINITY:
            work[n] = sc.add(-c.score, w)
    if (
        c.score <= MINUS_INFINITY
        or c.score >= INFINITY
        or any(a.available(n) and w >= 0 for n, w in work.items())
    ):
        old = a.allowed[dep]
        source = f"colocation {c.id} with {c.primary}"
        for n, w in work.items():
            if w != old[n]:
                a.contrib.setdefault(dep, []).append((source, n, w - old[n]))
            elif c.score >= INFINITY and pnode is not None and a.attr(n, attr) == value:
                # a mandatory colocation that this node satisfies (no score change)
                a.contrib.setdefault(dep, []).append((source, n, 0))
        a.allowed[dep] = work
