"""Constraints that contradict each other or the groups they touch (where detectable)."""

from __future__ import annotations

from collections import defaultdict

from reconciler.base.errors import Problem
from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.model.base import Manifest
from reconciler.model.checks_objects import promotable_members
from reconciler.model.constraints import Colocation, Location
from reconciler.model.manifestset import ManifestSet


def _group_of(mset: ManifestSet) -> dict[str, str]:
    return {m: g.name for g in mset.groups.values() for m in g.spec.resources}


def _mandatory_locations(mset: ManifestSet) -> list[tuple[Location, str, str, int]]:
    """(constraint, resource, node, score) for simple +/-INFINITY locations without a role."""
    out = []
    for loc in mset.locations.values():
        spec = loc.spec
        if spec.resource is None or spec.node is None or spec.score is None:
            continue
        if spec.role is not None or spec.lifetime is not None:
            continue
        if spec.score in (INFINITY, MINUS_INFINITY):
            out.append((loc, spec.resource, spec.node, spec.score))
    return out


def _location_conflicts(
    mset: ManifestSet, unit_of: dict[str, str], cloned: set[str]
) -> list[Problem]:
    """+INFINITY and -INFINITY for one unit on one node; +INFINITY on two nodes."""
    problems: list[Problem] = []
    by_unit: dict[str, list[tuple[Location, str, str, int]]] = defaultdict(list)
    for item in _mandatory_locations(mset):
        by_unit[unit_of.get(item[1], item[1])].append(item)
    for unit, items in sorted(by_unit.items()):
        must: dict[str, tuple[Location, str]] = {}
        never: dict[str, tuple[Location, str]] = {}
        for loc, res, node, score in items:
            table, other = (must, never) if score == INFINITY else (never, must)
            if node in other:
                prev, prev_res = other[node]
                problems.append(
                    mset.problem(
                        loc,
                        ("spec", "score"),
                        f"contradicts Location {prev.name!r}: {res!r} must"
                        f"{'' if score == INFINITY else ' not'} run on {node!r}, but "
                        f"{prev_res!r} must{' not' if score == INFINITY else ''}"
                        + (
                            f" (both are in Group {unit!r})"
                            if unit != res or unit != prev_res
                            else ""
                        ),
                    )
                )
            table.setdefault(node, (loc, res))
        if unit in cloned:
            continue
        nodes = sorted(must)
        if len(nodes) > 1:
            loc, res = must[nodes[1]]
            prev, prev_res = must[nodes[0]]
            problems.append(
                mset.problem(
                    loc,
                    ("spec", "node"),
                    f"contradicts Location {prev.name!r}: {res!r} must run on {nodes[1]!r} and "
                    f"{prev_res!r} on {nodes[0]!r}, but they run on one node",
                )
            )
    return problems


def check_group_members(mset: ManifestSet) -> list[Problem]:
    """Colocations do not contradict a Group: members of one group are never colocated
    apart, nor colocated with their own group."""
    problems: list[Problem] = []
    group_of = _group_of(mset)
    for col in mset.colocations.values():
        spec = col.spec
        if spec.resource is None or spec.with_resource is None:
            continue
        a, b = spec.resource, spec.with_resource
        ga, gb = group_of.get(a), group_of.get(b)
        same_group = ga is not None and ga == gb
        member_and_own_group = (ga is not None and ga == b) or (gb is not None and gb == a)
        if (same_group or member_and_own_group) and spec.score < 0:
            group = ga if ga is not None else gb
            problems.append(
                mset.problem(
                    col,
                    ("spec", "score"),
                    f"{a!r} and {b!r} always run together in Group {group!r}; a negative "
                    "colocation contradicts the group",
                )
            )
        elif member_and_own_group:
            problems.append(
                mset.problem(
                    col,
                    ("spec", "withResource"),
                    f"colocating a member of Group {ga or gb!r} with its own group is circular",
                )
            )
    return problems


def check_conflicts(mset: ManifestSet) -> list[Problem]:
    """Constraints that cannot all hold are refused: +INFINITY and -INFINITY for one resource
    (or members of one group) on one node, +INFINITY on two nodes for a resource that is not
    cloned, colocations of one pair both +INFINITY and -INFINITY; roles and promote/demote
    actions only for promotable clones."""
    group_of = _group_of(mset)
    cloned = {c.spec.resource for c in mset.clones.values()} | set(mset.clones)
    problems = _location_conflicts(mset, group_of, cloned)
    pairs: dict[frozenset[str], tuple[Colocation, int]] = {}
    for col in mset.colocations.values():
        spec = col.spec
        if spec.resource is None or spec.with_resource is None:
            continue
        if spec.score not in (INFINITY, MINUS_INFINITY) or spec.role or spec.with_role:
            continue
        key = frozenset((spec.resource, spec.with_resource))
        if key in pairs and pairs[key][1] != spec.score:
            problems.append(
                mset.problem(
                    col,
                    ("spec", "score"),
                    f"contradicts Colocation {pairs[key][0].name!r}: {spec.resource!r} and "
                    f"{spec.with_resource!r} cannot both run together and apart",
                )
            )
        pairs.setdefault(key, (col, spec.score))
    problems.extend(_role_checks(mset))
    return problems


def _role_checks(mset: ManifestSet) -> list[Problem]:
    promotable = promotable_members(mset)
    problems: list[Problem] = []

    def need(obj: Manifest, path: tuple[str | int, ...], role: str | None, name: str) -> None:
        if role in ("Promoted", "Unpromoted") and name not in promotable:
            problems.append(
                mset.problem(obj, path, f"role {role} needs {name!r} to be a promotable Clone")
            )

    for loc in mset.locations.values():
        if loc.spec.resource is not None:
            need(loc, ("spec", "role"), loc.spec.role, loc.spec.resource)
            for i, rule in enumerate(loc.spec.rules):
                need(loc, ("spec", "rules", i, "role"), rule.role, loc.spec.resource)
    for col in mset.colocations.values():
        spec = col.spec
        if spec.resource is not None and spec.with_resource is not None:
            need(col, ("spec", "role"), spec.role, spec.resource)
            need(col, ("spec", "withRole"), spec.with_role, spec.with_resource)
        for i, rset in enumerate(spec.sets):
            for name in rset.resources:
                need(col, ("spec", "sets", i, "role"), rset.role, name)
    for order in mset.orders.values():
        ospec = order.spec
        if ospec.first is not None and ospec.then is not None:
            if ospec.first_action in ("promote", "demote"):
                need(order, ("spec", "firstAction"), "Promoted", ospec.first)
            if ospec.effective_then_action in ("promote", "demote"):
                need(order, ("spec", "thenAction"), "Promoted", ospec.then)
    return [
        Problem(
            p.message.replace("role Promoted needs", "promote/demote needs"),
            p.file,
            p.line,
            p.column,
            p.path,
            p.hint,
        )
        if p.path and p.path.endswith("Action")
        else p
        for p in problems
    ]
