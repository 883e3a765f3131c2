"""Manifests + observed status -> the scheduler's input (:class:`SchedulerInput`).

This is the production path into ``plan()``: `hactl simulate`, the
coordinator and `hactl import-cib` + simulate all come through here. Meta
attributes are written back under Pacemaker's names (``resource-stickiness``,
``clone-max`` ...), which is the contract of ``scheduler.input``; only values
that differ from the defaults are written.

Resource order follows the manifests' input order (Pacemaker breaks some ties
by the order of the CIB): a top-level resource takes the position of the first
of its documents (member Resource, Group or Clone) in the set.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from reconciler.base import score as scores
from reconciler.model import (
    Clone,
    Cluster,
    Colocation,
    FencingDevice,
    Group,
    Location,
    ManifestSet,
    Order,
    Resource,
)
from reconciler.model import DateExpression as MDate
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
from reconciler.model.resources import Operation as MOperation
from reconciler.model.status import (
    NodeHistory,
    ObservedStatus,
    OperationRecord,
    op_record,
    split_agent,
)
from reconciler.model.status import NodeState as ObservedState
from reconciler.scheduler import input as si


def _freeze(values: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(values)) if values else si.EMPTY


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --------------------------------------------------------------------------- cluster


def options(cluster: Cluster | None) -> si.ClusterOptions:
    spec = cluster.spec if cluster is not None else ClusterSpec()
    defaults: dict[str, str] = {}
    if spec.default_stickiness != 0:
        defaults["resource-stickiness"] = scores.render(spec.default_stickiness)
    if spec.default_migration_threshold != scores.INFINITY:
        defaults["migration-threshold"] = scores.render(spec.default_migration_threshold)
    return si.ClusterOptions(
        symmetric_cluster=spec.symmetric_cluster,
        stonith_enabled=spec.fencing_enabled,
        stonith_action=spec.fencing_action,
        no_quorum_policy="suicide" if spec.no_quorum_policy == "fence" else spec.no_quorum_policy,
        placement_strategy=spec.placement_strategy,
        maintenance_mode=spec.maintenance_mode,
        stop_all_resources=spec.stop_all_resources,
        start_failure_is_fatal=spec.start_failure_is_fatal,
        concurrent_fencing=spec.concurrent_fencing,
        rsc_defaults=_freeze(defaults),
    )


def nodes(mset: ManifestSet, status: ObservedStatus | None) -> tuple[si.Node, ...]:
    out = []
    for obj in mset.objects:
        if obj.kind != "Node" or obj.name not in mset.nodes or mset.nodes[obj.name] is not obj:
            continue
        spec = mset.nodes[obj.name].spec
        attrs = dict(spec.attributes)
        if spec.standby:
            attrs["standby"] = "on"
        if spec.maintenance:
            attrs["maintenance"] = "on"
        out.append(
            si.Node(
                name=obj.name,
                id=obj.metadata.annotations.get(NODE_ID_ANNOTATION, obj.name),
                attributes=_freeze(attrs),
                utilization=MappingProxyType(dict(spec.utilization))
                if spec.utilization
                else si.EMPTY_INT,
            )
        )
    known = {n.name for n in out}
    for node in status.nodes if status is not None else ():
        if node.name not in known:  # seen by the cluster, not configured: still a node
            out.append(si.Node(name=node.name, id=node.id or node.name))
    return tuple(out)


# ------------------------------------------------------------------------- resources


def _operation(rid: str, op: MOperation) -> si.Operation:
    meta: dict[str, str] = {}
    if not op.enabled:
        meta["enabled"] = "false"
    if op.start_delay is not None:
        meta["start-delay"] = ms_text(op.start_delay.milliseconds)
    return si.Operation(
        name=op.name,
        interval_ms=op.interval.milliseconds,
        timeout_ms=op.timeout.milliseconds if op.timeout is not None else None,
        role=op.role,
        on_fail=op.on_fail,
        meta=_freeze(meta),
        id=f"{rid}-{op.name}-interval-{op.interval.milliseconds}",
    )


def primitive(res: Resource) -> si.Primitive:
    spec = res.spec
    meta = primitive_meta(res)
    return si.Primitive(
        id=res.name,
        cls=spec.agent.standard,
        type=spec.agent.type,
        provider=spec.agent.provider,
        params=_freeze(spec.params),
        meta=_freeze(meta),
        utilization=MappingProxyType(dict(spec.utilization)) if spec.utilization else si.EMPTY_INT,
        operations=tuple(_operation(res.name, op) for op in spec.operations),
    )


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


def fencing_device(dev: FencingDevice) -> si.Primitive:
    spec = dev.spec
    meta: dict[str, str] = {}
    if spec.priority:
        meta["priority"] = str(spec.priority)
    if spec.target_role != "Started":
        meta["target-role"] = spec.target_role
    return si.Primitive(
        id=dev.name,
        cls="stonith",
        type=spec.agent.removeprefix("stonith:"),
        params=_freeze(fencing_params(dev)),
        meta=_freeze(meta),
        operations=tuple(_operation(dev.name, op) for op in spec.operations),
    )


def group(mset: ManifestSet, grp: Group) -> si.Group:
    meta = common_meta(grp.spec)
    members = tuple(primitive(mset.resources[m]) for m in grp.spec.resources)
    return si.Group(id=grp.name, members=members, meta=_freeze(meta))


def clone(mset: ManifestSet, cl: Clone) -> si.Clone:
    spec = cl.spec
    meta = clone_meta(spec)
    child: si.Primitive | si.Group
    if spec.resource in mset.groups:
        child = group(mset, mset.groups[spec.resource])
    else:
        child = primitive(mset.resources[spec.resource])
    return si.Clone(id=cl.name, child=child, meta=_freeze(meta), promotable=spec.promotable)


def resources(mset: ManifestSet) -> tuple[si.Resource, ...]:
    """Top-level resources, each at the position of its first document."""
    owner: dict[str, str] = {}
    for grp in mset.groups.values():
        for member in grp.spec.resources:
            owner[member] = grp.name
    for cl in mset.clones.values():
        owner[cl.spec.resource] = cl.name

    def top(name: str) -> str:
        seen = 0
        while name in owner and seen < 3:
            name, seen = owner[name], seen + 1
        return name

    out: list[si.Resource] = []
    done: set[str] = set()
    for obj in mset.objects:
        if obj.kind not in ("Resource", "Group", "Clone", "FencingDevice"):
            continue
        name = obj.name if obj.kind == "FencingDevice" else top(obj.name)
        key = f"{obj.kind == 'FencingDevice'}:{name}"
        if key in done:
            continue
        done.add(key)
        if obj.kind == "FencingDevice":
            out.append(fencing_device(mset.fencing_devices[name]))
        elif name in mset.clones:
            out.append(clone(mset, mset.clones[name]))
        elif name in mset.groups:
            out.append(group(mset, mset.groups[name]))
        elif name in mset.resources:
            out.append(primitive(mset.resources[name]))
    return tuple(out)


# ----------------------------------------------------------------------- constraints


def _expression(rid: str, e: MExpression) -> si.Expression | si.DateExpression | si.Rule:
    if e.rule is not None:
        return _rule(rid, e.rule)
    if e.date is not None:
        return _date(e.date)
    return si.Expression(
        attribute=e.attribute or "",
        operation=e.operation or "eq",
        value=e.value,
        type=e.type,
        value_source=e.value_source,
    )


def _date(d: MDate) -> si.DateExpression:
    duration = None
    if d.duration is not None:
        fields = d.duration.model_dump()
        duration = MappingProxyType({k: str(v) for k, v in fields.items() if v})
    spec = None
    if d.spec is not None:
        values = {k: v for k, v in d.spec.model_dump().items() if k in si.DateSpec.__slots__}
        spec = si.DateSpec(**values)
    return si.DateExpression(
        operation=d.operation,
        start=d.start.isoformat() if d.start is not None else None,
        end=d.end.isoformat() if d.end is not None else None,
        duration=duration,
        date_spec=spec,
    )


def _rule(rid: str, rule: MRule) -> si.Rule:
    exprs = tuple(_expression(f"{rid}-{i}", e) for i, e in enumerate(rule.expressions))
    score = getattr(rule, "score", None)
    return si.Rule(
        id=rid,
        expressions=exprs,
        boolean_op=rule.boolean_op,
        score=scores.clamp(score) if score is not None else None,
        score_attribute=getattr(rule, "score_attribute", None),
        role=getattr(rule, "role", None),
    )


def _targets(mset: ManifestSet, loc: Location) -> list[tuple[str, str | None, str | None]]:
    """(constraint id, rsc, rsc_pattern) for each resource a Location addresses."""
    spec = loc.spec
    if spec.resource_selector is not None:
        out: list[tuple[str, str | None, str | None]] = []
        for obj in mset.objects:
            if obj.kind in ("Resource", "Group", "Clone") and spec.resource_selector.matches(
                dict(obj.metadata.labels)
            ):
                out.append((f"{loc.name}-{obj.name}", obj.name, None))
        return out
    return [(loc.name, spec.resource, spec.resource_pattern)]


def locations(mset: ManifestSet) -> tuple[si.Location, ...]:
    out = []
    for obj in mset.objects:
        if not isinstance(obj, Location):
            continue
        spec = obj.spec
        for cid, rsc, pattern in _targets(mset, obj):
            out.append(
                si.Location(
                    id=cid,
                    rsc=rsc,
                    rsc_pattern=pattern,
                    node=spec.node,
                    score=scores.clamp(spec.score) if spec.score is not None else None,
                    rules=tuple(_rule(f"{cid}-rule-{i}", r) for i, r in enumerate(spec.rules)),
                    role=spec.role,
                    resource_discovery=spec.resource_discovery,
                )
            )
    return tuple(out)


def _sets(
    cid: str, sets: tuple[MSet, ...], annotations: Mapping[str, str]
) -> tuple[si.ResourceSet, ...]:
    ids = annotations.get(SET_IDS_ANNOTATION, "").split(",")
    if len(ids) != len(sets):
        ids = [f"{cid}-set-{i}" for i in range(len(sets))]
    return tuple(
        si.ResourceSet(
            id=ids[i],
            resources=s.resources,
            sequential=s.sequential,
            require_all=s.require_all,
            role=s.role,
            action=s.action,
        )
        for i, s in enumerate(sets)
    )


def colocations(mset: ManifestSet) -> tuple[si.Colocation, ...]:
    return tuple(
        si.Colocation(
            id=obj.name,
            score=scores.clamp(obj.spec.score),
            rsc=obj.spec.resource,
            with_rsc=obj.spec.with_resource,
            rsc_role=obj.spec.role,
            with_rsc_role=obj.spec.with_role,
            node_attribute=obj.spec.node_attribute,
            sets=_sets(obj.name, obj.spec.sets, obj.metadata.annotations),
            influence=obj.spec.influence,
        )
        for obj in mset.objects
        if isinstance(obj, Colocation)
    )


def orders(mset: ManifestSet) -> tuple[si.Order, ...]:
    return tuple(
        si.Order(
            id=obj.name,
            first=obj.spec.first,
            then=obj.spec.then,
            first_action=obj.spec.first_action,
            then_action=obj.spec.then_action,
            kind=obj.spec.kind,
            symmetrical=obj.spec.symmetrical,
            sets=_sets(obj.name, obj.spec.sets, obj.metadata.annotations),
        )
        for obj in mset.objects
        if isinstance(obj, Order)
    )


def fencing_levels(mset: ManifestSet) -> tuple[si.FencingLevel, ...]:
    out = []
    for topo in mset.fencing_topologies.values():
        if topo.spec.node is None:
            continue  # pattern and attribute targets do not change the plan
        for i, level in enumerate(topo.spec.levels, 1):
            out.append(si.FencingLevel(target=topo.spec.node, index=i, devices=level.devices))
    return tuple(out)


# -------------------------------------------------------------------------- observed


def _op_records(name: str, operations: tuple[OperationRecord, ...]) -> tuple[si.OpRecord, ...]:
    return tuple([op_record(name, op) for op in operations])


def observed(
    status: ObservedStatus | None, history: tuple[NodeHistory, ...] | None = None
) -> si.Observed:
    """The scheduler's view of the status. ``history``: the operation history already read
    into the scheduler's records (from a CIB); the nodes' own ``resources`` are then not
    looked at."""
    if status is None:
        return si.Observed()
    states, records, counts = [], [], []
    for node in status.nodes:
        attrs = dict(node.attributes)
        for fc in node.failcounts:
            suffix = fc.resource
            if fc.operation is not None:
                suffix += f"#{fc.operation}_{fc.interval_ms or 0}"
            attrs[f"fail-count-{suffix}"] = scores.render(fc.count)
            if fc.last_failure is not None:
                attrs[f"last-failure-{suffix}"] = str(fc.last_failure)
            counts.append(
                si.FailCount(
                    resource=fc.resource,
                    node=node.name,
                    count=scores.clamp(fc.count),
                    operation=fc.operation,
                    interval_ms=fc.interval_ms,
                    last_failure=fc.last_failure,
                )
            )
        if node.reason is not None:
            attrs["#unclean-reason"] = node.reason
        unclean = node.state is ObservedState.UNCLEAN
        states.append(
            si.NodeState(
                name=node.name,
                online=node.state is ObservedState.ONLINE or (unclean and node.unclean_online),
                unclean=unclean,
                shutdown=attrs.get("shutdown", "0") not in ("0", ""),
                pending=node.state is ObservedState.PENDING,
                transient_attributes=_freeze(attrs),
            )
        )
        if history is not None:
            continue
        for h in node.resources:
            cls, provider, type_ = split_agent(h.agent)
            ops = _op_records(h.name, h.operations)
            records.append(
                si.ResourceHistory(
                    resource=h.name,
                    node=node.name,
                    cls=cls,
                    type=type_,
                    provider=provider,
                    operations=ops,
                    container=h.container,
                )
            )
    return si.Observed(
        nodes=tuple(states),
        history=history if history is not None else tuple(records),
        failcounts=tuple(counts),
        have_quorum=status.have_quorum,
        dc=status.dc_node,
    )


def from_model(
    mset: ManifestSet,
    status: ObservedStatus | None = None,
    history: tuple[NodeHistory, ...] | None = None,
) -> si.SchedulerInput:
    """The scheduler's input for these manifests and this observed status (``history``: its
    operation history read straight into the scheduler's records, see ``observed``)."""
    return si.SchedulerInput(
        options=options(mset.cluster),
        nodes=nodes(mset, status),
        resources=resources(mset),
        locations=locations(mset),
        colocations=colocations(mset),
        orders=orders(mset),
        fencing_levels=fencing_levels(mset),
        observed=observed(status, history),
    )
