"""ObservedStatus -> a CIB ``<status>`` element (node_state, transient attributes, lrm).

Node states are written so that Pacemaker derives the same state again (see
``import_status.node_state``). Operation records without a digest get the
digest of the exported configuration, so that crm_simulate does not restart
everything "due to resource definition change".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from reconciler.base import score as scores
from reconciler.base.limits import DEFAULT_OP_TIMEOUT_S
from reconciler.cib.digest import op_digest
from reconciler.cib.export_config import fencing_params
from reconciler.model import ManifestSet
from reconciler.model.resources import Operation
from reconciler.model.status import NodeState, ObservedNode, ObservedStatus, OperationRecord

LEGACY = "legacy"
#: operations whose digest Pacemaker compares with the configuration (others never matter)
_DIGESTED = frozenset({"start", "monitor", "promote", "demote", "migrate_to", "migrate_from"})
TRANSITION_UUID = "00000000-0000-4000-8000-000000000000"

_BY_REASON = {
    "peer has not been seen by the cluster": (None, "offline", "member", "member"),
    "peer process is no longer available": ("true", "offline", "member", "member"),
    "peer is no longer part of the cluster": ("false", "offline", "member", "member"),
    "peer failed Pacemaker membership criteria": ("true", "online", "nack", "member"),
    "termination was requested": ("true", "online", "member", "member"),
    "peer was in an unknown state": ("true", "online", "unknown", "member"),
    "peer is unexpectedly down": ("true", "offline", "member", "member"),
}


def membership(node: ObservedNode) -> tuple[str | None, str, str, str]:
    """(in_ccm, crmd, join, expected) that Pacemaker reads back as ``node.state``."""
    if node.state is NodeState.ONLINE:
        return "true", "online", "member", "member"
    if node.state is NodeState.PENDING:
        return "true", "online", "pending", "member"
    if node.state is NodeState.OFFLINE:
        return "false", "offline", "down", "down"
    if node.reason in _BY_REASON:
        return _BY_REASON[node.reason]
    if node.unclean_online:
        return "true", "offline", "member", "member"
    return "false", "offline", "member", "member"


class Digests:
    """The configured parameters and monitor timeouts of each resource, for op digests."""

    def __init__(self, mset: ManifestSet) -> None:
        self.params: dict[str, Mapping[str, str]] = {}
        self.ops: dict[str, tuple[Operation, ...]] = {}
        for res in mset.resources.values():
            self.params[res.name] = res.spec.params
            self.ops[res.name] = res.spec.operations
        for dev in mset.fencing_devices.values():
            self.params[dev.name] = fencing_params(dev)
            self.ops[dev.name] = dev.spec.operations
        self.child = {cl.name: cl.spec.resource for cl in mset.clones.values()}

    def __call__(self, rsc: str, record: OperationRecord) -> str | None:
        base = rsc.split(":", 1)[0]
        base = self.child.get(base, base)
        if base not in self.params:
            return None
        timeout_ms = int(DEFAULT_OP_TIMEOUT_S * 1000)
        for op in self.ops.get(base, ()):
            same = op.name == record.operation and op.interval.milliseconds == record.interval_ms
            if same and op.timeout is not None:
                timeout_ms = op.timeout.milliseconds
        return op_digest(self.params[base], record.interval_ms, timeout_ms)


def _op(parent: ET.Element, rsc: str, record: OperationRecord, digests: Digests) -> None:
    key = f"{record.call_id}:{max(record.call_id, 0)}:{record.target_rc}:{TRANSITION_UUID}"
    op_id = record.id or f"{rsc}_{record.operation}_{record.interval_ms}"
    el = ET.SubElement(
        parent,
        "lrm_rsc_op",
        id=op_id,
        operation_key=f"{rsc}_{record.operation}_{record.interval_ms}",
        operation=record.operation,
    )
    el.set("transition-key", key)
    el.set("transition-magic", f"{record.op_status}:{record.rc};{key}")
    el.set("call-id", str(record.call_id))
    el.set("rc-code", str(record.rc))
    el.set("op-status", str(record.op_status))
    el.set("interval", str(record.interval_ms))
    for attr, value in (
        ("last-rc-change", record.last_rc_change),
        ("last-run", record.last_run),
        ("exec-time", record.exec_time_ms),
    ):
        if value is not None:
            el.set(attr, str(value))
    digest = record.digest
    if digest is None and record.operation in _DIGESTED and record.rc == record.target_rc:
        digest = digests(rsc, record) if record.op_status == 0 else None
    if digest is not None:
        el.set("op-digest", digest)
    for attr, text in (
        ("op-restart-digest", record.restart_digest),
        ("op-secure-digest", record.secure_digest),
        ("exit-reason", record.exit_reason),
        ("migrate_source", record.migrate_source),
        ("migrate_target", record.migrate_target),
    ):
        if text is not None:
            el.set(attr, text)


def node_state(parent: ET.Element, node: ObservedNode, nid: str, digests: Digests) -> None:
    in_ccm, crmd, join, expected = membership(node)
    el = ET.SubElement(parent, "node_state", id=nid, uname=node.name)
    if in_ccm is not None:
        el.set("in_ccm", in_ccm)
    el.set("crmd", crmd)
    el.set("join", join)
    el.set("expected", expected)
    attrs = dict(node.attributes)
    for fc in node.failcounts:
        # A CIB of feature set >= 3.0.13 only counts per-operation names; a legacy
        # per-resource count is written under the operation name "legacy".
        suffix = f"{fc.resource}#{fc.operation or LEGACY}_{fc.interval_ms or 0}"
        attrs[f"fail-count-{suffix}"] = scores.render(fc.count)
        if fc.last_failure is not None:
            attrs[f"last-failure-{suffix}"] = str(fc.last_failure)
    if attrs:
        ta = ET.SubElement(el, "transient_attributes", id=nid)
        block = ET.SubElement(ta, "instance_attributes", id=f"status-{nid}")
        for name, value in attrs.items():
            ET.SubElement(block, "nvpair", id=f"status-{nid}-{name}", name=name, value=value)
    lrm = ET.SubElement(el, "lrm", id=nid)
    resources = ET.SubElement(lrm, "lrm_resources")
    for history in node.resources:
        lr = ET.SubElement(resources, "lrm_resource", id=history.name)
        parts = (history.agent or "ocf:heartbeat:Dummy").split(":")
        lr.set("class", parts[0])
        if parts[0] == "ocf" and len(parts) >= 3:
            lr.set("provider", parts[1])
            lr.set("type", ":".join(parts[2:]))
        else:
            lr.set("type", ":".join(parts[1:]) or parts[0])
        if history.container is not None:
            lr.set("container", history.container)
        for record in history.operations:
            _op(lr, history.name, record, digests)


def status_element(
    root: ET.Element, mset: ManifestSet, status: ObservedStatus, node_id: Mapping[str, str]
) -> None:
    block = ET.SubElement(root, "status")
    digests = Digests(mset)
    for node in status.nodes:
        node_state(block, node, node_id.get(node.name, node.id or node.name), digests)
