"""CIB ``<status>`` -> :class:`ObservedStatus`: node states, operation history, failcounts.

Node states follow Pacemaker's ``determine_online_status_fencing`` (stonith
enabled) and ``determine_online_status_no_fencing``; the reason a node is
unclean is kept, since fencing lines in a Transition Summary quote it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

from reconciler.base import score as scores
from reconciler.cib.common import Report, nvpairs, truthy
from reconciler.cib.xmlread import LrmResource
from reconciler.model.status import (
    Failcount,
    NodeHistory,
    NodeState,
    ObservedNode,
    ObservedStatus,
    OperationRecord,
    OpRecord,
    ResourceHistory,
    op_record,
    split_agent,
)

_NODE_STATE_ATTRS = {
    "id",
    "uname",
    "in_ccm",
    "crmd",
    "join",
    "expected",
    "shutdown",
    "ha",
    "crm-debug-origin",
    "remote_node",
}


def node_state(
    ns: ET.Element, stonith: bool, transient: dict[str, str]
) -> tuple[NodeState, bool, str | None]:
    """(state, unclean-but-online, reason) of one ``node_state``."""
    in_ccm = ns.get("in_ccm")
    in_cluster = truthy(in_ccm)
    crmd_online = (ns.get("crmd") or "").lower() == "online"
    join = ns.get("join")
    expected = ns.get("expected") or "down"
    terminate = transient.get("terminate", "")
    do_terminate = truthy(terminate) or (terminate[:1].isdigit() and terminate[:1] != "0")
    shutdown = (transient.get("shutdown", ns.get("shutdown", "0")) or "0") not in ("0", "")
    if not stonith:
        if not in_cluster:
            return NodeState.OFFLINE, False, None
        if crmd_online:
            return (NodeState.ONLINE if join == "member" else NodeState.OFFLINE), False, None
        if expected == "member":
            return NodeState.UNCLEAN, True, "peer is unexpectedly down"
        return NodeState.OFFLINE, False, None
    online = in_cluster
    reason: str | None = None
    pending = False
    if shutdown:
        online = crmd_online
    elif in_ccm is None:
        reason = "peer has not been seen by the cluster"
    elif join == "nack":
        reason = "peer failed Pacemaker membership criteria"
    elif not do_terminate and expected == "down":
        pending = in_cluster or crmd_online
    elif do_terminate and join == "down" and not in_cluster and not crmd_online:
        online = False
    elif not in_cluster:
        reason = "peer is no longer part of the cluster"
    elif not crmd_online:
        reason = "peer process is no longer available"
    elif do_terminate:
        reason = "termination was requested"
    elif join == "member":
        pass
    elif join in ("pending", "down"):
        pending = True
    else:
        reason = "peer was in an unknown state"
    if reason is not None:
        return NodeState.UNCLEAN, online, reason
    if pending:
        return NodeState.PENDING, False, None
    return (NodeState.ONLINE if online else NodeState.OFFLINE), False, None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


_HIGH = 1 << 62


def _nonneg(value: str | None, high: int = _HIGH) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= high else None


_new = object.__new__
_setattr = object.__setattr__

# Records are built without pydantic's per-field work (the values are checked here), the
# equivalent of ``model_construct`` with every field given, many times faster: a converged
# 64-node cluster has hundreds of thousands of them. All records of a kind share one
# fields-set (every field is set): the models are frozen, pydantic copies the set before
# it changes one (``model_copy``), and a set per record would be a third of the memory.
_OP_FIELDS = set(OperationRecord.model_fields)
_HISTORY_FIELDS = set(ResourceHistory.model_fields)
#: small non-negative integers as the CIB spells them, parsed once
_SMALL: dict[str, int] = {str(i): i for i in range(256)}


def _nonneg_fast(value: str | None, high: int = 1 << 62) -> int | None:
    if value is None:
        return None
    small = _SMALL.get(value)
    if small is not None:
        return small if small <= high else None
    return _nonneg(value, high)


def operation(attrs: Mapping[str, str]) -> OperationRecord:
    """One ``lrm_rsc_op`` (its attributes). Values are checked here, so the record is built
    unvalidated: a converged 64-node cluster has hundreds of thousands of them."""
    get = attrs.get
    name = get("operation")
    if not name:
        return OperationRecord.model_validate({"operation": ""})  # the model names it
    key = get("transition-key")
    parts = key.split(":", 3) if key else ()
    status_text = get("op-status")
    status = _SMALL.get(status_text) if status_text is not None else 0
    if status is None:
        status = _int(status_text)
        status = status if status is not None and -1 <= status <= 9 else 0
    elif status > 9:
        status = 0
    call_text = get("call-id")
    call_id = _SMALL.get(call_text) if call_text is not None else 0
    if call_id is None:
        call_id = _int(call_text) or 0
    values: dict[str, Any] = {
        "operation": name,
        "interval_ms": _nonneg_fast(get("interval")) or 0,
        "call_id": call_id,
        "rc": _nonneg_fast(get("rc-code"), 255) or 0,
        "expected_rc": _nonneg_fast(parts[2], 255) if len(parts) >= 3 else None,
        "op_status": status,
        "last_rc_change": _nonneg(get("last-rc-change")),  # epoch seconds: never small
        "last_run": _nonneg(get("last-run")),
        "exec_time_ms": _nonneg_fast(get("exec-time")),
        "exit_reason": get("exit-reason") or None,
        "digest": get("op-digest"),
        "restart_digest": get("op-restart-digest"),
        "secure_digest": get("op-secure-digest"),
        "migrate_source": get("migrate_source"),
        "migrate_target": get("migrate_target"),
        "id": get("id"),
    }
    obj = _new(OperationRecord)
    _setattr(obj, "__dict__", values)
    _setattr(obj, "__pydantic_fields_set__", _OP_FIELDS)
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj


#: the light records made straight from their values: ``tuple.__new__`` in C, without the
#: named tuples' Python-level ``__new__`` (over a million calls on a large converged CIB).
#: The values are given in field order, checked here.
_op_tuple = cast(Callable[[tuple[object, ...]], OpRecord], partial(tuple.__new__, OpRecord))
_history_tuple = cast(
    Callable[[tuple[object, ...]], NodeHistory], partial(tuple.__new__, NodeHistory)
)
_OP_ORDER = (
    "operation",
    "interval_ms",
    "rc",
    "call_id",
    "status",
    "expected_rc",
    "last_rc_change",
    "exit_reason",
    "id",
    "op_digest",
)
_HISTORY_ORDER = ("resource", "node", "cls", "type", "provider", "operations", "container")
if OpRecord._fields != _OP_ORDER or NodeHistory._fields != _HISTORY_ORDER:
    raise ImportError("OpRecord/NodeHistory fields changed: update cib.import_status")


def light_operation(
    resource: str, attrs: Mapping[str, str], ints: dict[str, int | None] | None = None
) -> OpRecord:
    """One ``lrm_rsc_op`` straight into the scheduler's record: what
    ``op_record(resource, operation(attrs))`` gives, without the model in between.

    ``ints``: integers as the CIB spells them, parsed once and shared by the records of
    one reading (call ids and times repeat across nodes); each field's bounds are
    checked here as the model's reader checks them."""
    get = attrs.get
    name = get("operation")
    if not name:
        return op_record(resource, operation(attrs))  # the model names what is wrong
    if ints is None:
        ints = dict(_SMALL)
    number = ints.get
    text = get("interval")
    value = 0 if text is None else number(text)
    if value is None and text is not None:
        value = ints[text] = _int(text)
    interval = value if value is not None and value >= 0 else 0
    text = get("rc-code")
    value = 0 if text is None else number(text)
    if value is None and text is not None:
        value = ints[text] = _int(text)
    rc = value if value is not None and 0 <= value <= 255 else 0
    text = get("call-id")
    value = 0 if text is None else number(text)
    if value is None and text is not None:
        value = ints[text] = _int(text)
    call_id = value or 0
    text = get("op-status")
    value = 0 if text is None else number(text)
    if value is None and text is not None:
        value = ints[text] = _int(text)
    status = value if value is not None and -1 <= value <= 9 else 0
    key = get("transition-key")
    parts = key.split(":", 3) if key else ()
    expected = None
    if len(parts) >= 3:
        text = parts[2]
        value = number(text)
        if value is None:
            value = ints[text] = _int(text)
        if value is not None and 0 <= value <= 255:
            expected = value
    if expected is None:
        expected = 7 if (name == "monitor" and interval == 0) else 0
    changed = None
    for field in ("last-rc-change", "last-run"):
        text = get(field)
        if text is None:
            continue
        value = number(text)
        if value is None:
            value = ints[text] = _int(text)
        if value is not None and 0 <= value <= _HIGH:
            changed = value
            break
    return _op_tuple(
        (
            name,
            interval,
            rc,
            call_id,
            status,
            expected,
            changed,
            get("exit-reason") or "",
            get("id") or f"{resource}_{name}_{interval}",
            get("op-digest"),
        )
    )


def _history(
    name: str, agent: str | None, container: str | None, ops: list[dict[str, str]]
) -> ResourceHistory:
    fields = {
        "name": name,
        "agent": agent,
        "container": container,
        "operations": tuple([operation(o) for o in ops]),
    }
    if not name:
        return ResourceHistory.model_validate(fields)  # the model names what is wrong
    obj = _new(ResourceHistory)
    _setattr(obj, "__dict__", fields)  # every field, in the model's order
    _setattr(obj, "__pydantic_fields_set__", _HISTORY_FIELDS)
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj


def failcounts(transient: dict[str, str], report: Report, where: str) -> list[Failcount]:
    out = []
    for key in sorted(transient):
        if not key.startswith("fail-count-"):
            continue
        rest = key[len("fail-count-") :]
        rsc, op, interval = rest, None, None
        if "#" in rest:
            rsc, opi = rest.split("#", 1)
            op, _, iv = opi.rpartition("_")
            interval = int(iv) if iv.isdigit() else 0
            if op == "legacy":  # how the exporter writes a per-resource count
                op, interval = None, None
        last = transient.get("last-failure-" + rest)
        try:
            count = int(scores.parse(transient[key]))
        except ValueError:
            report.unsupported(where, f"{key}={transient[key]}", "not a count")
            continue
        out.append(
            Failcount(
                resource=rsc,
                operation=op or None,
                interval_ms=interval,
                count=count,
                last_failure=int(last) if last and last.isdigit() else None,
            )
        )
    return out


class StatusReader:
    """Turns ``node_state`` elements into ObservedNodes, one at a time (they can be huge).

    ``light``: the operation history goes straight into the scheduler's records
    (:attr:`history`), and the nodes carry none (``resources`` empty): what planning a
    CIB needs, at a fraction of the cost. Otherwise each node carries its history as
    the status model's records (for the status file).
    """

    def __init__(
        self, conf: ET.Element | None, stonith: bool, report: Report, *, light: bool = False
    ) -> None:
        self.stonith = stonith
        self.report = report
        self.light = light
        self.ids: dict[str, str] = {}
        nodes_el = conf.find("nodes") if conf is not None else None
        for n in nodes_el.findall("node") if nodes_el is not None else []:
            self.ids[n.get("id", "")] = n.get("uname") or n.get("id") or ""
        self.by_name = {name: nid for nid, name in self.ids.items()}
        self.nodes: list[ObservedNode] = []
        self.history: list[NodeHistory] = []
        #: integers as spelled in the status, parsed once (see light_operation)
        self.ints: dict[str, int | None] = dict(_SMALL)
        #: (class, provider, type) -> "class:provider:type" and its parts, once per agent
        self.agents: dict[
            tuple[str, str | None, str | None], tuple[str | None, tuple[str, str | None, str]]
        ] = {}

    def _agent(self, attrs: Mapping[str, str]) -> tuple[str | None, tuple[str, str | None, str]]:
        get = attrs.get
        spelled = (get("class", ""), get("provider"), get("type"))
        known = self.agents.get(spelled)
        if known is None:
            agent = ":".join(p for p in spelled if p) or None
            known = self.agents[spelled] = (agent, split_agent(agent))
        return known

    def add(self, ns: ET.Element, lrm: list[LrmResource]) -> None:
        name = ns.get("uname") or self.ids.get(ns.get("id", ""), "")
        where = f"node_state {name or ns.get('id', '?')}"
        if truthy(ns.get("remote_node")):
            self.report.unsupported(where, "a remote node's state")
            return
        transient = nvpairs(ns.find("transient_attributes"), "instance_attributes")
        if ns.get("shutdown") not in (None, "", "0") and "shutdown" not in transient:
            transient["shutdown"] = ns.get("shutdown", "")  # the pre-1.1 place for it
        state, unclean_online, reason = node_state(ns, self.stonith, transient)
        attributes = {
            k: v
            for k, v in sorted(transient.items())
            if not k.startswith(("fail-count-", "last-failure-"))
        }
        histories: tuple[ResourceHistory, ...] = ()
        light = self.light and self._light(name, lrm)
        if not light:
            histories = tuple(
                _history(attrs.get("id", ""), self._agent(attrs)[0], attrs.get("container"), ops)
                for attrs, ops in lrm
            )
        self.nodes.append(
            ObservedNode(
                name=name,
                id=ns.get("id") or self.by_name.get(name),
                state=state,
                unclean_online=unclean_online,
                reason=reason,
                attributes=attributes,
                failcounts=tuple(failcounts(transient, self.report, where)),
                resources=histories,
            )
        )

    def _light(self, node: str, lrm: list[LrmResource]) -> bool:
        """Read the node's history into :attr:`history`. False (nothing read) when a
        resource has no id or is listed twice: the status model then says what is wrong,
        as it does without ``light``. An invalid record raises what the model raises."""
        names = [attrs.get("id", "") for attrs, _ in lrm]
        if not all(names) or len(set(names)) != len(names):
            return False
        out = []
        agents = self.agents
        record = light_operation
        make = _history_tuple
        ints = self.ints
        for (attrs, ops), rsc in zip(lrm, names, strict=True):
            get = attrs.get
            known = agents.get((get("class", ""), get("provider"), get("type")))
            cls, provider, type_ = (known or self._agent(attrs))[1]
            records = tuple([record(rsc, o, ints) for o in ops])
            out.append(make((rsc, node, cls, type_, provider, records, get("container"))))
        self.history.extend(out)
        return True

    def result(self, root: ET.Element) -> ObservedStatus:
        dc = root.get("dc-uuid")
        now = _int(root.get("execution-date"))
        return ObservedStatus(
            have_quorum=truthy(root.get("have-quorum"), False),
            now=now if now is not None and now >= 0 else None,
            dc_node=self.ids.get(dc) if dc else None,
            nodes=tuple(self.nodes),
        )
