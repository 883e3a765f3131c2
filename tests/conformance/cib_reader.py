"""A small, test-side reader: Pacemaker CIB XML -> the scheduler's input values.

This is deliberately independent of the production import path (CIB ->
manifests -> ``from_model``); the conformance suite uses it to iterate against
Pacemaker's regression corpus, and the production path is checked against it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from reconciler.base import score as sc
from reconciler.scheduler.input import (
    Clone,
    ClusterOptions,
    Colocation,
    Expression,
    FailCount,
    FencingLevel,
    Group,
    Location,
    Node,
    NodeState,
    Observed,
    Operation,
    OpRecord,
    Order,
    Primitive,
    ResourceHistory,
    ResourceSet,
    Rule,
    SchedulerInput,
)

# A fixed "now" for cases without execution-date: late enough that every
# failure-timeout in the corpus has long expired, as when the corpus was made.
DEFAULT_NOW = 1_764_000_000


def _truthy(v: str | None, default: bool = False) -> bool:
    if v is None:
        return default
    return v.strip().lower() in ("true", "on", "yes", "y", "1")


def _nvpairs(el: ET.Element | None, tag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if el is None:
        return out
    for block in el.findall(tag):
        for nv in block.findall("nvpair"):
            name = nv.get("name")
            if name is not None:
                out[name] = nv.get("value", "")
    return out


def _ms(text: str | None) -> int:
    from reconciler.scheduler.units import parse_ms

    return parse_ms(text or "0")


def _ops(el: ET.Element) -> tuple[Operation, ...]:
    ops = []
    opsel = el.find("operations")
    if opsel is None:
        return ()
    for op in opsel.findall("op"):
        meta = {k: v for k, v in op.attrib.items() if k not in ("id", "name", "interval")}
        meta.update(_nvpairs(op, "meta_attributes"))
        timeout = op.get("timeout")
        ops.append(
            Operation(
                name=op.get("name", ""),
                interval_ms=_ms(op.get("interval")),
                timeout_ms=_ms(timeout) if timeout else None,
                role=op.get("role"),
                on_fail=op.get("on-fail"),
                meta=MappingProxyType(meta),
                id=op.get("id", ""),
            )
        )
    return tuple(ops)


def _util(el: ET.Element) -> Mapping[str, int]:
    raw = _nvpairs(el, "utilization")
    out = {}
    for k, v in raw.items():
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = 0
    return MappingProxyType(out)


def _primitive(el: ET.Element) -> Primitive:
    return Primitive(
        id=el.get("id", ""),
        cls=el.get("class", ""),
        provider=el.get("provider"),
        type=el.get("type", ""),
        params=MappingProxyType(_nvpairs(el, "instance_attributes")),
        meta=MappingProxyType(_nvpairs(el, "meta_attributes")),
        utilization=_util(el),
        operations=_ops(el),
    )


def _group(el: ET.Element) -> Group:
    return Group(
        id=el.get("id", ""),
        members=tuple(_primitive(p) for p in el.findall("primitive")),
        meta=MappingProxyType(_nvpairs(el, "meta_attributes")),
    )


def _resource(el: ET.Element) -> Primitive | Group | Clone | None:
    if el.tag == "primitive":
        return _primitive(el)
    if el.tag == "group":
        return _group(el)
    if el.tag in ("clone", "master"):
        meta = _nvpairs(el, "meta_attributes")
        child_el = el.find("primitive")
        child: Primitive | Group
        if child_el is not None:
            child = _primitive(child_el)
        else:
            g = el.find("group")
            assert g is not None, f"clone {el.get('id')} has no child"
            child = _group(g)
        return Clone(
            id=el.get("id", ""),
            child=child,
            meta=MappingProxyType(meta),
            promotable=el.tag == "master" or _truthy(meta.get("promotable")),
        )
    return None


def _expr(el: ET.Element) -> Expression | Rule:
    if el.tag == "rule":
        return _rule(el)
    return Expression(
        attribute=el.get("attribute", ""),
        operation=el.get("operation", "eq"),
        value=el.get("value"),
        type=el.get("type"),
        value_source=el.get("value-source", "literal"),
    )


def _rule(el: ET.Element) -> Rule:
    s = el.get("score")
    return Rule(
        id=el.get("id", ""),
        expressions=tuple(_expr(c) for c in el if c.tag in ("expression", "rule")),
        boolean_op=el.get("boolean-op", "and"),
        score=sc.parse(s) if s is not None else None,
        score_attribute=el.get("score-attribute"),
        role=el.get("role"),
    )


def _sets(el: ET.Element) -> tuple[ResourceSet, ...]:
    out = []
    for s in el.findall("resource_set"):
        sv = s.get("score")
        out.append(
            ResourceSet(
                id=s.get("id", ""),
                resources=tuple(r.get("id", "") for r in s.findall("resource_ref")),
                sequential=_truthy(s.get("sequential"), True),
                require_all=_truthy(s.get("require-all"), True),
                role=s.get("role"),
                action=s.get("action"),
                score=sc.parse(sv) if sv else None,
                kind=s.get("kind"),
            )
        )
    return tuple(out)


def _node_state(ns: ET.Element, stonith: bool, transient: dict[str, str]) -> NodeState:
    """Pacemaker's determine_online_status(_fencing) for cluster nodes."""
    name = ns.get("uname", "")
    in_ccm = ns.get("in_ccm")
    crmd_online = (ns.get("crmd") or "").lower() == "online"
    join = ns.get("join")
    expected = ns.get("expected") or "down"
    terminate = transient.get("terminate", "")
    do_terminate = _truthy(terminate) or (terminate[:1].isdigit() and terminate[:1] != "0")
    shutdown_attr = transient.get("shutdown", ns.get("shutdown", "0")) or "0"
    shutdown = shutdown_attr not in ("0", "")
    online = False
    unclean = False
    pending = False
    reason = ""
    in_cluster = _truthy(in_ccm)
    if stonith:
        online = in_cluster
        if shutdown:
            online = crmd_online
        elif in_ccm is None:
            unclean, reason = True, "peer has not been seen by the cluster"
        elif join == "nack":
            unclean, reason = True, "peer failed Pacemaker membership criteria"
        elif not do_terminate and expected == "down":
            if in_cluster or crmd_online:
                pending = True
        elif do_terminate and join == "down" and not in_cluster and not crmd_online:
            online = False
        elif not in_cluster:
            unclean, reason = True, "peer is no longer part of the cluster"
        elif not crmd_online:
            unclean, reason = True, "peer process is no longer available"
        elif do_terminate:
            unclean, reason = True, "termination was requested"
        elif join == "member":
            pass
        elif join in ("pending", "down"):
            pending = True
        else:
            unclean, reason = True, "peer was in an unknown state"
    elif not in_cluster:
        online = False
    elif crmd_online:
        online = join == "member"
    elif expected == "member":
        unclean, reason = True, "peer is unexpectedly down"
    attrs = dict(transient)
    return NodeState(
        name=name,
        online=online and not pending,
        unclean=unclean,
        shutdown=shutdown,
        pending=pending,
        transient_attributes=MappingProxyType(attrs),
        unclean_reason=reason or None,
    )


def _op_record(op: ET.Element) -> OpRecord:
    key = op.get("transition-key") or ""
    parts = key.split(":")
    expected = 0
    if len(parts) >= 3 and parts[2].lstrip("-").isdigit():
        expected = int(parts[2])
    lrc = op.get("last-rc-change") or op.get("last-run")
    return OpRecord(
        operation=op.get("operation", ""),
        # status records give the interval in milliseconds (configuration: seconds)
        interval_ms=int(op.get("interval") or "0"),
        rc=int(op.get("rc-code", "0")),
        call_id=int(op.get("call-id", "0")),
        status=int(op.get("op-status", "0")),
        expected_rc=expected,
        last_rc_change=int(lrc) if lrc and lrc.lstrip("-").isdigit() else None,
        exit_reason=op.get("exit-reason", ""),
        id=op.get("id", ""),
        op_digest=op.get("op-digest"),
    )


def read_cib(path: Path) -> tuple[SchedulerInput, int]:
    """Parse a CIB file; return the scheduler input and the ``now`` to plan at."""
    root = ET.parse(path).getroot()
    conf = root.find("configuration")
    assert conf is not None
    props = _nvpairs(conf.find("crm_config"), "cluster_property_set")
    rsc_defaults = _nvpairs(conf.find("rsc_defaults"), "meta_attributes")
    op_defaults = _nvpairs(conf.find("op_defaults"), "meta_attributes")
    stonith = _truthy(props.get("stonith-enabled"), True)

    def prop(name: str, default: str) -> str:
        return props.get(name, props.get(name.replace("-", "_"), default))

    options = ClusterOptions(
        symmetric_cluster=_truthy(prop("symmetric-cluster", "true"), True),
        stonith_enabled=stonith,
        stonith_action=prop("stonith-action", "reboot"),
        no_quorum_policy=prop("no-quorum-policy", "stop"),
        placement_strategy=prop("placement-strategy", "default"),
        maintenance_mode=_truthy(prop("maintenance-mode", "false")),
        stop_all_resources=_truthy(prop("stop-all-resources", "false")),
        start_failure_is_fatal=_truthy(prop("start-failure-is-fatal", "true"), True),
        startup_fencing=_truthy(prop("startup-fencing", "true"), True),
        concurrent_fencing=_truthy(prop("concurrent-fencing", "false")),
        stop_orphan_resources=_truthy(prop("stop-orphan-resources", "true"), True),
        stop_orphan_actions=_truthy(prop("stop-orphan-actions", "true"), True),
        node_health_strategy=prop("node-health-strategy", "none"),
        rsc_defaults=MappingProxyType(rsc_defaults),
        op_defaults=MappingProxyType(op_defaults),
        properties=MappingProxyType(props),
    )

    nodes: list[Node] = []
    nodes_el = conf.find("nodes")
    for n in nodes_el.findall("node") if nodes_el is not None else []:
        s = n.get("score")
        nodes.append(
            Node(
                name=n.get("uname", ""),
                id=n.get("id", ""),
                kind=n.get("type", "member") or "member",
                attributes=MappingProxyType(_nvpairs(n, "instance_attributes")),
                utilization=_util(n),
                score=sc.parse(s) if s else 0,
            )
        )

    resources = []
    res_el = conf.find("resources")
    for r in list(res_el) if res_el is not None else []:
        rr = _resource(r)
        if rr is not None:
            resources.append(rr)

    locs: list[Location] = []
    cols: list[Colocation] = []
    ords: list[Order] = []
    cons = conf.find("constraints")
    for c in list(cons) if cons is not None else []:
        cid = c.get("id", "")
        if c.tag == "rsc_location":
            s = c.get("score")
            locs.append(
                Location(
                    id=cid,
                    rsc=c.get("rsc"),
                    rsc_pattern=c.get("rsc-pattern"),
                    sets=_sets(c),
                    node=c.get("node"),
                    score=sc.parse(s) if s is not None else None,
                    rules=tuple(_rule(x) for x in c.findall("rule")),
                    role=c.get("role"),
                    resource_discovery=c.get("resource-discovery", "always"),
                )
            )
        elif c.tag == "rsc_colocation":
            cols.append(
                Colocation(
                    id=cid,
                    score=sc.parse(c.get("score", "0")),
                    rsc=c.get("rsc"),
                    with_rsc=c.get("with-rsc"),
                    rsc_role=c.get("rsc-role"),
                    with_rsc_role=c.get("with-rsc-role"),
                    node_attribute=c.get("node-attribute", "#uname"),
                    sets=_sets(c),
                    influence=_truthy(c.get("influence")) if c.get("influence") else None,
                )
            )
        elif c.tag == "rsc_order":
            s = c.get("score")
            sym = c.get("symmetrical")
            ords.append(
                Order(
                    id=cid,
                    first=c.get("first"),
                    then=c.get("then"),
                    first_action=c.get("first-action"),
                    then_action=c.get("then-action"),
                    kind=c.get("kind"),
                    score=sc.parse(s) if s is not None else None,
                    symmetrical=_truthy(sym) if sym is not None else None,
                    require_all=_truthy(c.get("require-all"), True),
                    sets=_sets(c),
                )
            )

    levels = []
    fen = conf.find("fencing-topology")
    for lv in fen.findall("fencing-level") if fen is not None else []:
        levels.append(
            FencingLevel(
                target=lv.get("target", ""),
                index=int(lv.get("index", "0")),
                devices=tuple(d for d in lv.get("devices", "").split(",") if d),
            )
        )

    # ---- status
    states: list[NodeState] = []
    history: list[ResourceHistory] = []
    failcounts: list[FailCount] = []
    status = root.find("status")
    by_id = {n.id: n.name for n in nodes}
    for ns in status.findall("node_state") if status is not None else []:
        if ns.get("remote_node") == "true":
            continue
        name = ns.get("uname") or by_id.get(ns.get("id", ""), "")
        transient = _nvpairs(ns.find("transient_attributes"), "instance_attributes")
        state = _node_state(ns, stonith, transient)
        states.append(state)
        for k, v in sorted(transient.items()):
            if not k.startswith("fail-count-"):
                continue
            rest = k[len("fail-count-") :]
            op: str | None = None
            interval: int | None = None
            rsc = rest
            if "#" in rest:
                rsc, opi = rest.split("#", 1)
                op, _, iv = opi.rpartition("_")
                interval = int(iv) if iv.isdigit() else 0
            lf_key = "last-failure-" + rest
            lf = transient.get(lf_key)
            failcounts.append(
                FailCount(
                    resource=rsc,
                    node=name,
                    count=sc.parse(v),
                    operation=op,
                    interval_ms=interval,
                    last_failure=int(lf) if lf and lf.isdigit() else None,
                )
            )
        lrm = ns.find("lrm")
        lrs = lrm.find("lrm_resources") if lrm is not None else None
        for lr in lrs.findall("lrm_resource") if lrs is not None else []:
            history.append(
                ResourceHistory(
                    resource=lr.get("id", ""),
                    node=name,
                    cls=lr.get("class", ""),
                    provider=lr.get("provider"),
                    type=lr.get("type", ""),
                    operations=tuple(_op_record(o) for o in lr.findall("lrm_rsc_op")),
                    container=lr.get("container"),
                )
            )
    hq = root.get("have-quorum", "false")
    dc_uuid = root.get("dc-uuid")
    observed = Observed(
        nodes=tuple(states),
        history=tuple(history),
        failcounts=tuple(failcounts),
        have_quorum=_truthy(hq),
        dc=by_id.get(dc_uuid or ""),
    )
    inp = SchedulerInput(
        options=options,
        nodes=tuple(nodes),
        resources=tuple(resources),
        locations=tuple(locs),
        colocations=tuple(cols),
        orders=tuple(ords),
        fencing_levels=tuple(levels),
        observed=observed,
    )
    ed = root.get("execution-date")
    now = int(ed) if ed and ed.isdigit() else DEFAULT_NOW
    return inp, now
