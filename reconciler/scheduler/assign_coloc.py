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
    score = c.score
    if pnode is None and score < 0:
        return
    attr = c.node_attribute
    nodes = a.nodes
    by_name = attr == "#uname"  # the usual case: a node's #uname is its name
    value = (pnode if by_name else nodes[pnode].attrs.get(attr)) if pnode is not None else None
    add = sc.add
    work = dict(a.allowed[dep])
    if pnode is None:
        for n, w in work.items():
            work[n] = add(-score, w)
    else:
        for n, w in work.items():
            if (n if by_name else nodes[n].attrs.get(attr)) == value:
                if score < INFINITY:
                    work[n] = add(score, w)
            elif score >= INFINITY:
                work[n] = add(-score, w)
    if (
        score <= MINUS_INFINITY
        or score >= INFINITY
        or any(a.available(n) and w >= 0 for n, w in work.items())
    ):
        old = a.allowed[dep]
        source = f"colocation {c.id} with {c.primary}"
        contrib: list[tuple[str, str, int]] = []
        mandatory = score >= INFINITY and pnode is not None
        for n, w in work.items():
            if w != old[n]:
                contrib.append((source, n, w - old[n]))
            elif mandatory and (n if by_name else nodes[n].attrs.get(attr)) == value:
                # a mandatory colocation that this node satisfies (no score change)
                contrib.append((source, n, 0))
        if contrib:
            a.contrib.setdefault(dep, []).extend(contrib)
        a.allowed[dep] = work
