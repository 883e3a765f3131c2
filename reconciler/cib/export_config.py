"""Manifests -> a CIB ``<configuration>`` element that Pacemaker 2.1 accepts.

Meta attributes are written under Pacemaker's names and only where they differ
from the defaults; cluster options that decide placement are always written.
Element ids are the object names where they are unique, else suffixed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from reconciler.base import score as scores
from reconciler.model import (
    Clone,
    Colocation,
    FencingDevice,
    Group,
    Location,
    ManifestSet,
    Order,
    Resource,
)
from reconciler.model import Expression as MExpression
from reconciler.model import ResourceSet as MSet
from reconciler.model import Rule as MRule
from reconciler.model.cluster import ClusterSpec
from reconciler.model.pacemaker_meta import (
    NODE_ID_ANNOTATION,
    SET_IDS_ANNOTATION,
    clone_meta,
    common_meta,
    ms_text,
    primitive_meta,
)
from reconciler.model.resources import Operation


class Ids:
    """Unique XML ids: the wanted one when free, else with a numeric suffix."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def name(self, name: str) -> str:
        """A resource's own name: kept as it is (everything refers to it)."""
        self.used.add(name)
        return name

    def __call__(self, wanted: str) -> str:
        base = "".join(c if c.isalnum() or c in "-_." else "_" for c in wanted) or "id"
        if not (base[0].isalpha() or base[0] == "_"):
            base = f"_{base}"
        candidate, n = base, 1
        while candidate in self.used:
            n += 1
            candidate = f"{base}-{n}"
        self.used.add(candidate)
        return candidate


def _bool(value: bool) -> str:
    return "true" if value else "false"


def nvset(parent: ET.Element, tag: str, owner: str, values: Mapping[str, str], ids: Ids) -> None:
    if not values:
        return
    block = ET.SubElement(parent, tag, id=ids(f"{owner}-{tag}"))
    for name, value in values.items():
        ET.SubElement(block, "nvpair", id=ids(f"{owner}-{tag}-{name}"), name=name, value=str(value))


def cluster_properties(spec: ClusterSpec) -> dict[str, str]:
    props = {
        "stonith-enabled": _bool(spec.fencing_enabled),
        "stonith-action": spec.fencing_action,
        "symmetric-cluster": _bool(spec.symmetric_cluster),
        "no-quorum-policy": "suicide"
        if spec.no_quorum_policy == "fence"
        else spec.no_quorum_policy,
        "placement-strategy": spec.placement_strategy,
        "start-failure-is-fatal": _bool(spec.start_failure_is_fatal),
        "maintenance-mode": _bool(spec.maintenance_mode),
        "stop-all-resources": _bool(spec.stop_all_resources),
        "concurrent-fencing": _bool(spec.concurrent_fencing),
        "stonith-timeout": ms_text(spec.fencing_timeout.milliseconds),
        "cluster-recheck-interval": ms_text(spec.cluster_recheck_interval.milliseconds),
        "dc-deadtime": ms_text(spec.startup_wait.milliseconds),
    }
    if spec.priority_fencing_delay is not None:
        props["priority-fencing-delay"] = ms_text(spec.priority_fencing_delay.milliseconds)
    if spec.batch_limit:
        props["batch-limit"] = str(spec.batch_limit)
    return props


def rsc_defaults(spec: ClusterSpec) -> dict[str, str]:
    out = {}
    if spec.default_stickiness != 0:
        out["resource-stickiness"] = scores.render(spec.default_stickiness)
    if spec.default_migration_threshold != scores.INFINITY:
        out["migration-threshold"] = scores.render(spec.default_migration_threshold)
    return out


def fencing_params(dev: FencingDevice) -> dict[str, str]:
    spec = dev.spec
    params = dict(spec.params)
    if spec.host_list:
        params["pcmk_host_list"] = " ".join(spec.host_list)
    if spec.host_map:
        params["pcmk_host_map"] = ";".join(f"{k}:{v}" for k, v in sorted(spec.host_map.items()))
    if spec.host_check is not None:
        params["pcmk_host_check"] = spec.host_check
    if spec.host_argument is not None:
        params["pcmk_host_argument"] = spec.host_argument
    if spec.delay_base is not None:
        params["pcmk_delay_base"] = ms_text(spec.delay_base.milliseconds)
    if spec.delay_max is not None:
        params["pcmk_delay_max"] = ms_text(spec.delay_max.milliseconds)
    return params


def operations(parent: ET.Element, owner: str, ops: tuple[Operation, ...], ids: Ids) -> None:
    if not ops:
        return
    block = ET.SubElement(parent, "operations")
    for op in ops:
        ms = op.interval.milliseconds
        el = ET.SubElement(
            block,
            "op",
            id=ids(f"{owner}-{op.name}-interval-{ms}"),
            name=op.name,
            interval=ms_text(ms),
        )
        if op.timeout is not None:
            el.set("timeout", ms_text(op.timeout.milliseconds))
        if op.role is not None:
            el.set("role", op.role)
        if op.on_fail is not None:
            el.set("on-fail", op.on_fail)
        if not op.enabled:
            el.set("enabled", "false")
        if op.start_delay is not None:
            el.set("start-delay", ms_text(op.start_delay.milliseconds))


def primitive(parent: ET.Element, res: Resource, ids: Ids) -> None:
    agent = res.spec.agent
    el = ET.SubElement(parent, "primitive", id=ids.name(res.name), type=agent.type)
    el.set("class", agent.standard)
    if agent.provider is not None:
        el.set("provider", agent.provider)
    nvset(el, "instance_attributes", res.name, res.spec.params, ids)
    nvset(el, "meta_attributes", res.name, primitive_meta(res), ids)
    nvset(el, "utilization", res.name, {k: str(v) for k, v in res.spec.utilization.items()}, ids)
    operations(el, res.name, res.spec.operations, ids)


def fencing_device(parent: ET.Element, dev: FencingDevice, ids: Ids) -> None:
    el = ET.SubElement(
        parent, "primitive", id=ids.name(dev.name), type=dev.spec.agent.removeprefix("stonith:")
    )
    el.set("class", "stonith")
    nvset(el, "instance_attributes", dev.name, fencing_params(dev), ids)
    meta = {}
    if dev.spec.priority:
        meta["priority"] = str(dev.spec.priority)
    if dev.spec.target_role != "Started":
        meta["target-role"] = dev.spec.target_role
    nvset(el, "meta_attributes", dev.name, meta, ids)
    operations(el, dev.name, dev.spec.operations, ids)


def group(parent: ET.Element, mset: ManifestSet, grp: Group, ids: Ids) -> None:
    el = ET.SubElement(parent, "group", id=ids.name(grp.name))
    nvset(el, "meta_attributes", grp.name, common_meta(grp.spec), ids)
    for member in grp.spec.resources:
        primitive(el, mset.resources[member], ids)


def clone(parent: ET.Element, mset: ManifestSet, cl: Clone, ids: Ids) -> None:
    spec = cl.spec
    el = ET.SubElement(parent, "clone", id=ids.name(cl.name))
    meta = clone_meta(spec)
    nvset(el, "meta_attributes", cl.name, meta, ids)
    if spec.resource in mset.groups:
        group(el, mset, mset.groups[spec.resource], ids)
    else:
        primitive(el, mset.resources[spec.resource], ids)


def top_level(mset: ManifestSet) -> list[tuple[str, str]]:
    """(kind, name) of each top-level resource, at the position of its first document."""
    owner: dict[str, str] = {}
    for grp in mset.groups.values():
        for member in grp.spec.resources:
            owner[member] = grp.name
    for cl in mset.clones.values():
        owner[cl.spec.resource] = cl.name
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for obj in mset.objects:
        if obj.kind == "FencingDevice":
            key = ("FencingDevice", obj.name)
        elif obj.kind in ("Resource", "Group", "Clone"):
            name, hops = obj.name, 0
            while name in owner and hops < 3:
                name, hops = owner[name], hops + 1
            kind = (
                "Clone" if name in mset.clones else "Group" if name in mset.groups else "Resource"
            )
            key = (kind, name)
        else:
            continue
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def resources(parent: ET.Element, mset: ManifestSet, ids: Ids) -> None:
    block = ET.SubElement(parent, "resources")
    for kind, name in top_level(mset):
        if kind == "FencingDevice":
            fencing_device(block, mset.fencing_devices[name], ids)
        elif kind == "Clone":
            clone(block, mset, mset.clones[name], ids)
        elif kind == "Group":
            group(block, mset, mset.groups[name], ids)
        elif name in mset.resources:
            primitive(block, mset.resources[name], ids)


# ------------------------------------------------------------------------ constraints


def expression(parent: ET.Element, owner: str, e: MExpression, ids: Ids) -> None:
    if e.rule is not None:
        rule(parent, owner, e.rule, ids)
        return
    if e.date is not None:
        d = e.date
        el = ET.SubElement(
            parent, "date_expression", id=ids(f"{owner}-date"), operation=d.operation
        )
        if d.start is not None:
            el.set("start", d.start.isoformat())
        if d.end is not None:
            el.set("end", d.end.isoformat())
        if d.duration is not None:
            fields = {k: str(v) for k, v in d.duration.model_dump().items() if v}
            ET.SubElement(el, "duration", id=ids(f"{owner}-duration"), attrib=fields)
        if d.spec is not None:
            fields = {k: v for k, v in d.spec.model_dump().items() if v is not None}
            ET.SubElement(el, "date_spec", id=ids(f"{owner}-spec"), attrib=fields)
        return
    el = ET.SubElement(
        parent,
        "expression",
        id=ids(f"{owner}-expr"),
        attribute=e.attribute or "",
        operation=e.operation or "eq",
    )
    if e.value is not None:
        el.set("value", e.value)
    if e.type is not None:
        el.set("type", e.type)
    if e.value_source != "literal":
        el.set("value-source", e.value_source)


def rule(parent: ET.Element, owner: str, r: MRule, ids: Ids) -> None:
    el = ET.SubElement(parent, "rule", id=ids(f"{owner}-rule"))
    score = getattr(r, "score", None)
    if score is not None:
        el.set("score", scores.render(score))
    elif not getattr(r, "score_attribute", None):
        el.set("score", "0")  # the schema wants one on nested rules too; Pacemaker ignores it
    if getattr(r, "score_attribute", None):
        el.set("score-attribute", str(getattr(r, "score_attribute", "")))
    if getattr(r, "role", None):
        el.set("role", str(getattr(r, "role", "")))
    if r.boolean_op != "and":
        el.set("boolean-op", r.boolean_op)
    for e in r.expressions:
        expression(el, el.get("id", owner), e, ids)


def location(parent: ET.Element, mset: ManifestSet, loc: Location, ids: Ids) -> None:
    spec = loc.spec
    targets: list[tuple[str, str]] = []
    if spec.resource is not None:
        targets = [("rsc", spec.resource)]
    elif spec.resource_pattern is not None:
        targets = [("rsc-pattern", spec.resource_pattern)]
    elif spec.resource_selector is not None:
        for obj in mset.objects:
            if obj.kind in ("Resource", "Group", "Clone") and spec.resource_selector.matches(
                dict(obj.metadata.labels)
            ):
                targets.append(("rsc", obj.name))
    for attr, target in targets:
        el = ET.SubElement(parent, "rsc_location", id=ids(loc.name))
        el.set(attr, target)
        if spec.node is not None:
            el.set("node", spec.node)
            el.set("score", scores.render(spec.score or 0))
        if spec.role is not None:
            el.set("role", spec.role)
        if spec.resource_discovery != "always":
            el.set("resource-discovery", spec.resource_discovery)
        for r in spec.rules:
            rule(el, el.get("id", loc.name), r, ids)


def resource_sets(
    parent: ET.Element, owner: str, sets: tuple[MSet, ...], annotations: Mapping[str, str], ids: Ids
) -> None:
    wanted = annotations.get(SET_IDS_ANNOTATION, "").split(",")
    if len(wanted) != len(sets):
        wanted = [f"{owner}-set-{i}" for i in range(len(sets))]
    for i, s in enumerate(sets):
        el = ET.SubElement(parent, "resource_set", id=ids(wanted[i]))
        if not s.sequential:
            el.set("sequential", "false")
        if not s.require_all:
            el.set("require-all", "false")
        if s.role is not None:
            el.set("role", s.role)
        if s.action is not None:
            el.set("action", s.action)
        for name in s.resources:
            ET.SubElement(el, "resource_ref", id=name)


def colocation(parent: ET.Element, col: Colocation, ids: Ids) -> None:
    spec = col.spec
    el = ET.SubElement(parent, "rsc_colocation", id=ids(col.name), score=scores.render(spec.score))
    if spec.sets:
        resource_sets(el, col.name, spec.sets, col.metadata.annotations, ids)
    else:
        el.set("rsc", spec.resource or "")
        el.set("with-rsc", spec.with_resource or "")
        if spec.role is not None:
            el.set("rsc-role", spec.role)
        if spec.with_role is not None:
            el.set("with-rsc-role", spec.with_role)
    if spec.node_attribute != "#uname":
        el.set("node-attribute", spec.node_attribute)
    if spec.influence is not None:
        el.set("influence", _bool(spec.influence))


def order(parent: ET.Element, o: Order, ids: Ids) -> None:
    spec = o.spec
    el = ET.SubElement(parent, "rsc_order", id=ids(o.name), kind=spec.kind)
    if spec.sets:
        resource_sets(el, o.name, spec.sets, o.metadata.annotations, ids)
    else:
        el.set("first", spec.first or "")
        el.set("then", spec.then or "")
        el.set("first-action", spec.first_action)
        if spec.then_action is not None:
            el.set("then-action", spec.then_action)
    if spec.symmetrical is not None:
        el.set("symmetrical", _bool(spec.symmetrical))


def constraints(parent: ET.Element, mset: ManifestSet, ids: Ids) -> None:
    block = ET.SubElement(parent, "constraints")
    for obj in mset.objects:
        if isinstance(obj, Location):
            location(block, mset, obj, ids)
        elif isinstance(obj, Colocation):
            colocation(block, obj, ids)
        elif isinstance(obj, Order):
            order(block, obj, ids)


def fencing_topology(parent: ET.Element, mset: ManifestSet, ids: Ids) -> None:
    if not mset.fencing_topologies:
        return
    block = ET.SubElement(parent, "fencing-topology")
    for topo in mset.fencing_topologies.values():
        spec = topo.spec
        for i, level in enumerate(spec.levels, 1):
            el = ET.SubElement(
                block,
                "fencing-level",
                id=ids(f"{topo.name}-level-{i}"),
                index=str(i),
                devices=",".join(level.devices),
            )
            if spec.node is not None:
                el.set("target", spec.node)
            elif spec.node_pattern is not None:
                el.set("target-pattern", spec.node_pattern)
            elif spec.node_attribute is not None:
                el.set("target-attribute", spec.node_attribute.name)
                el.set("target-value", spec.node_attribute.value)


def node_ids(mset: ManifestSet, extra: list[str]) -> dict[str, str]:
    """Node name -> Pacemaker node id (the imported one, else the next free number)."""
    out: dict[str, str] = {}
    for obj in mset.objects:
        if obj.kind == "Node" and obj.name not in out:
            out[obj.name] = obj.metadata.annotations.get(NODE_ID_ANNOTATION, "")
    for name in extra:
        out.setdefault(name, "")
    used = {v for v in out.values() if v}
    n = 1
    for name, value in out.items():
        if not value:
            while str(n) in used:
                n += 1
            out[name] = str(n)
            used.add(str(n))
    return out


def configuration(
    root: ET.Element, mset: ManifestSet, node_id: Mapping[str, str], ids: Ids
) -> None:
    conf = ET.SubElement(root, "configuration")
    spec = mset.cluster.spec if mset.cluster is not None else ClusterSpec()
    crm = ET.SubElement(conf, "crm_config")
    nvset(crm, "cluster_property_set", "cib-bootstrap-options", cluster_properties(spec), ids)
    nodes = ET.SubElement(conf, "nodes")
    for name, nid in node_id.items():
        el = ET.SubElement(nodes, "node", id=nid, uname=name)
        ids.used.add(nid)
        node = mset.nodes.get(name)
        if node is None:
            continue
        attrs = dict(node.spec.attributes)
        if node.spec.standby:
            attrs["standby"] = "on"
        if node.spec.maintenance:
            attrs["maintenance"] = "on"
        nvset(el, "instance_attributes", f"nodes-{nid}", attrs, ids)
        util = {k: str(v) for k, v in node.spec.utilization.items()}
        nvset(el, "utilization", f"nodes-{nid}", util, ids)
    resources(conf, mset, ids)
    constraints(conf, mset, ids)
    defaults = ET.SubElement(conf, "rsc_defaults")
    nvset(defaults, "meta_attributes", "rsc-options", rsc_defaults(spec), ids)
    if not len(defaults):
        conf.remove(defaults)
    fencing_topology(conf, mset, ids)
