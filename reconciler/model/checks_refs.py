"""Reference checks: every name points at an object of the right kind, contained at most once."""

from __future__ import annotations

import re
from collections.abc import Iterator

from reconciler.base.errors import Problem
from reconciler.model.base import Manifest
from reconciler.model.constraints import Colocation, Location, Order
from reconciler.model.hints import did_you_mean
from reconciler.model.kinds import RESOURCE_KINDS
from reconciler.model.manifestset import FieldPath, ManifestSet


def constraint_refs(obj: Manifest) -> Iterator[tuple[FieldPath, str]]:
    """(field path, resource name) for every resource a constraint names."""
    if isinstance(obj, Location):
        if obj.spec.resource is not None:
            yield ("spec", "resource"), obj.spec.resource
    elif isinstance(obj, Colocation):
        if obj.spec.resource is not None and obj.spec.with_resource is not None:
            yield ("spec", "resource"), obj.spec.resource
            yield ("spec", "withResource"), obj.spec.with_resource
        for i, rset in enumerate(obj.spec.sets):
            for j, name in enumerate(rset.resources):
                yield ("spec", "sets", i, "resources", j), name
    elif isinstance(obj, Order):
        if obj.spec.first is not None and obj.spec.then is not None:
            yield ("spec", "first"), obj.spec.first
            yield ("spec", "then"), obj.spec.then
        for i, rset in enumerate(obj.spec.sets):
            for j, name in enumerate(rset.resources):
                yield ("spec", "sets", i, "resources", j), name


def node_refs(mset: ManifestSet) -> Iterator[tuple[Manifest, FieldPath, str]]:
    for loc in mset.locations.values():
        if loc.spec.node is not None:
            yield loc, ("spec", "node"), loc.spec.node
    for dev in mset.fencing_devices.values():
        for i, node in enumerate(dev.spec.host_list):
            yield dev, ("spec", "hostList", i), node
        for node in sorted(dev.spec.host_map):
            yield dev, ("spec", "hostMap", node), node
    for topo in mset.fencing_topologies.values():
        if topo.spec.node is not None:
            yield topo, ("spec", "node"), topo.spec.node


def _missing(  # noqa: PLR0917
    mset: ManifestSet, obj: Manifest, path: FieldPath, what: str, name: str, names: list[str]
) -> Problem:
    kinds = {"Resource or Group": ("Resource", "Group"), "resource": RESOURCE_KINDS}.get(
        what, (what,)
    )
    broken = [n for k, n in sorted(mset.unparsed) if k in kinds]
    hint = did_you_mean(name, [*names, *broken])
    return mset.problem(obj, path, f"{what} {name!r} does not exist", hint)


def check_references(mset: ManifestSet) -> list[Problem]:
    """No dangling references: Group members are Resources, a Clone wraps a Resource or Group,
    constraints name existing resources, topologies name existing FencingDevices, and (when
    the set defines any Node) node names are Nodes. Near-miss names get a hint."""
    problems: list[Problem] = []
    unparsed = {name for _, name in mset.unparsed}
    resource_names = sorted({*mset.resources, *mset.groups, *mset.clones})
    for group in mset.groups.values():
        for i, member in enumerate(group.spec.resources):
            path: FieldPath = ("spec", "resources", i)
            if member in mset.resources or member in unparsed:
                continue
            if member in mset.groups or member in mset.clones:
                kind = "Group" if member in mset.groups else "Clone"
                problems.append(
                    mset.problem(
                        group, path, f"a Group holds only Resources; {member!r} is a {kind}"
                    )
                )
            else:
                problems.append(
                    _missing(mset, group, path, "Resource", member, list(mset.resources))
                )
    for clone in mset.clones.values():
        target = clone.spec.resource
        cpath: FieldPath = ("spec", "resource")
        if target in mset.resources or target in mset.groups or target in unparsed:
            continue
        if target in mset.clones:
            problems.append(mset.problem(clone, cpath, f"cannot clone a Clone ({target!r})"))
        else:
            problems.append(
                _missing(
                    mset,
                    clone,
                    cpath,
                    "Resource or Group",
                    target,
                    [*mset.resources, *mset.groups],
                )
            )
    for obj in (*mset.locations.values(), *mset.colocations.values(), *mset.orders.values()):
        for rpath, name in constraint_refs(obj):
            if mset.resource_like(name) is None and name not in unparsed:
                problems.append(_missing(mset, obj, rpath, "resource", name, resource_names))
    for loc in mset.locations.values():
        if loc.spec.resource_pattern is not None:
            try:
                re.compile(loc.spec.resource_pattern)
            except re.error as e:
                problems.append(
                    mset.problem(loc, ("spec", "resourcePattern"), f"not a regular expression: {e}")
                )
    for topo in mset.fencing_topologies.values():
        for i, level in enumerate(topo.spec.levels):
            for j, dev in enumerate(level.devices):
                if dev not in mset.fencing_devices and dev not in unparsed:
                    problems.append(
                        _missing(
                            mset,
                            topo,
                            ("spec", "levels", i, "devices", j),
                            "FencingDevice",
                            dev,
                            list(mset.fencing_devices),
                        )
                    )
    if mset.nodes:  # node names are checked only when the set defines nodes
        for owner, npath, node in node_refs(mset):
            if node not in mset.nodes and node not in unparsed:
                problems.append(_missing(mset, owner, npath, "Node", node, list(mset.nodes)))
    return problems


def check_containment(mset: ManifestSet) -> list[Problem]:
    """A Resource is in at most one Group or Clone (a Group in at most one Clone); constraints
    name the Clone, not what is inside it; promotable-only fields (promotedMax,
    promotedPerNodeMax, Promoted target roles) need `promotable: true`; promotable clones
    wrap only OCF agents."""
    problems: list[Problem] = []
    parent: dict[str, Manifest] = {}

    def claim(child: str, owner: Manifest, path: FieldPath) -> None:
        if child in parent:
            other = parent[child]
            problems.append(
                mset.problem(
                    owner,
                    path,
                    f"{child!r} is already in {other.kind} {other.name!r}; a resource belongs to "
                    "at most one Group or Clone",
                )
            )
        else:
            parent[child] = owner

    for group in mset.groups.values():
        for i, member in enumerate(group.spec.resources):
            if member in group.spec.resources[:i]:
                problems.append(
                    mset.problem(group, ("spec", "resources", i), f"{member!r} is listed twice")
                )
                continue
            claim(member, group, ("spec", "resources", i))
    for clone in mset.clones.values():
        claim(clone.spec.resource, clone, ("spec", "resource"))
    # Constraints must name the clone, not what is inside it.
    cloned: dict[str, str] = {}
    for clone in mset.clones.values():
        cloned[clone.spec.resource] = clone.name
        cloned_group = mset.groups.get(clone.spec.resource)
        if cloned_group is not None:
            for member in cloned_group.spec.resources:
                cloned.setdefault(member, clone.name)
    for obj in (*mset.locations.values(), *mset.colocations.values(), *mset.orders.values()):
        for path, name in constraint_refs(obj):
            if name in cloned:
                problems.append(
                    mset.problem(
                        obj,
                        path,
                        f"{name!r} is inside Clone {cloned[name]!r}",
                        hint=f"constrain the clone: `{cloned[name]}`",
                    )
                )
    problems.extend(_check_clones(mset))
    return problems


def _check_clones(mset: ManifestSet) -> list[Problem]:
    problems: list[Problem] = []
    for clone in mset.clones.values():
        spec = clone.spec
        if not spec.promotable:
            for field, value in (
                ("promotedMax", spec.promoted_max),
                ("promotedPerNodeMax", spec.promoted_per_node_max),
            ):
                if value is not None:
                    problems.append(
                        mset.problem(
                            clone,
                            ("spec", field),
                            f"{field} is only for promotable clones",
                            hint="add `promotable: true` or remove it",
                        )
                    )
            if spec.target_role in ("Promoted", "Unpromoted"):
                problems.append(
                    mset.problem(
                        clone,
                        ("spec", "targetRole"),
                        f"targetRole {spec.target_role} is only for promotable clones",
                    )
                )
            continue
        members = [spec.resource]
        group = mset.groups.get(spec.resource)
        if group is not None:
            members = list(group.spec.resources)
        for name in members:
            res = mset.resources.get(name)
            if res is not None and res.spec.agent.standard != "ocf":
                problems.append(
                    mset.problem(
                        clone,
                        ("spec", "promotable"),
                        f"{name!r} uses a {res.spec.agent.standard} agent, which cannot be "
                        "promoted",
                        hint="only OCF agents with promote/demote can be promotable",
                    )
                )
    return problems
