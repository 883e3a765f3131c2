"""The observed-status file: what the cluster looks like right now.

It is the counterpart of the manifests (what the cluster should look like):
node states, per resource per node the history of operations with their
return codes, failcounts and transient node attributes (promotion scores such
as ``master-<rsc>``, ``pingd``, ``shutdown``). `hactl import-cib` writes one
from a Pacemaker CIB's ``<status>``; `hactl simulate --status` reads one.

Example::

    apiVersion: hactl.io/v1
    kind: ObservedStatus
    haveQuorum: true
    nodes:
      - name: node1
        state: online
        attributes: {master-db: "10"}
        failcounts:
          - {resource: web, operation: monitor, intervalMs: 10000, count: 1,
             lastFailure: 1700000000}
        resources:
          - name: web
            agent: ocf:heartbeat:apache
            operations:
              - {operation: monitor, intervalMs: 0, callId: 1, rc: 7, expectedRc: 7}
              - {operation: start, callId: 2, rc: 0}
      - name: node2
        state: unclean

Node states:

``online``
    a member of the cluster that can run resources.
``offline``
    cleanly down: nothing runs there.
``unclean``
    lost without a clean stop: it must be fenced before its resources are
    recovered elsewhere. ``uncleanOnline: true`` marks a node that is still a
    member but whose node agent is gone (Pacemaker's ``UNCLEAN (online)``).
``pending``
    joining, not yet allowed to run resources.

Pydantic lives here only because this is an edge (a file users write); the
scheduler gets frozen dataclasses from ``reconciler.scheduler.from_model``.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reconciler.base import score as scores
from reconciler.base.errors import Problem, ValidationError
from reconciler.model.manifestset import render_path
from reconciler.model.yamlsource import parse_text

API_VERSION: Literal["hactl.io/v1"] = "hactl.io/v1"
KIND: Literal["ObservedStatus"] = "ObservedStatus"

#: OCF return codes by name, for readable errors and the table output.
OCF_RC_NAMES: dict[int, str] = {
    0: "ok",
    1: "unknown error",
    2: "invalid parameter",
    3: "unimplemented feature",
    4: "insufficient privileges",
    5: "not installed",
    6: "not configured",
    7: "not running",
    8: "running (promoted)",
    9: "failed (promoted)",
    190: "degraded",
    191: "degraded (promoted)",
}

#: Executor statuses (Pacemaker's ``op-status``): did the operation complete at all.
OP_STATUS_NAMES: dict[int, str] = {
    -1: "pending",
    0: "done",
    1: "cancelled",
    2: "timed out",
    3: "not supported",
    4: "error",
    5: "not installed",
    6: "not connected",
    7: "invalid",
    8: "error (hard)",
    9: "error (fatal)",
}


class NodeState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    UNCLEAN = "unclean"
    PENDING = "pending"


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, str_strip_whitespace=True
    )


NonNegInt = Annotated[int, Field(ge=0)]


class OperationRecord(_Strict):
    """One completed (or pending) operation of a resource on a node."""

    operation: Annotated[str, Field(min_length=1)]
    interval_ms: NonNegInt = Field(0, alias="intervalMs")
    call_id: int = Field(0, alias="callId")
    rc: Annotated[int, Field(ge=0, le=255)] = 0
    expected_rc: Annotated[int, Field(ge=0, le=255)] | None = Field(None, alias="expectedRc")
    op_status: Annotated[int, Field(ge=-1, le=9)] = Field(0, alias="opStatus")
    last_rc_change: NonNegInt | None = Field(None, alias="lastRcChange")
    last_run: NonNegInt | None = Field(None, alias="lastRun")
    exec_time_ms: NonNegInt | None = Field(None, alias="execTimeMs")
    exit_reason: str | None = Field(None, alias="exitReason")
    digest: str | None = None
    restart_digest: str | None = Field(None, alias="restartDigest")
    secure_digest: str | None = Field(None, alias="secureDigest")
    migrate_source: str | None = Field(None, alias="migrateSource")
    migrate_target: str | None = Field(None, alias="migrateTarget")
    #: the id Pacemaker gave the history entry; kept so a round trip is stable
    id: str | None = None

    @property
    def is_probe(self) -> bool:
        return self.operation == "monitor" and self.interval_ms == 0

    @property
    def target_rc(self) -> int:
        """The rc the operation was expected to return (a probe expects "not running")."""
        if self.expected_rc is not None:
            return self.expected_rc
        return 7 if self.is_probe else 0

    @property
    def key(self) -> str:
        """Pacemaker's operation key: ``<rsc>_<op>_<interval>`` without the resource."""
        return f"{self.operation}_{self.interval_ms}"


class ResourceHistory(_Strict):
    """The operation history of one resource (or clone instance) on one node."""

    name: Annotated[str, Field(min_length=1)]
    agent: str | None = None  # "ocf:heartbeat:IPaddr2", "stonith:fence_xvm", "systemd:nginx"
    container: str | None = None
    operations: tuple[OperationRecord, ...] = ()


class Failcount(_Strict):
    """How often an operation of a resource failed on this node, and when last."""

    resource: Annotated[str, Field(min_length=1)]
    operation: str | None = None  # None: the legacy per-resource counter
    interval_ms: NonNegInt | None = Field(None, alias="intervalMs")
    count: int = 0  # may be INFINITY (1000000)
    last_failure: NonNegInt | None = Field(None, alias="lastFailure")

    @field_validator("count", mode="before")
    @classmethod
    def _score(cls, value: object) -> object:
        if isinstance(value, str):
            return int(scores.parse(value))
        return value


class ObservedNode(_Strict):
    name: Annotated[str, Field(min_length=1)]
    id: str | None = None  # Pacemaker's node id, kept for a stable round trip
    state: NodeState = NodeState.ONLINE
    unclean_online: bool = Field(False, alias="uncleanOnline")
    #: why the node is unclean (quoted by fencing lines), e.g. "peer is no longer part of ..."
    reason: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    failcounts: tuple[Failcount, ...] = ()
    resources: tuple[ResourceHistory, ...] = ()

    @field_validator("attributes", mode="before")
    @classmethod
    def _attr_strings(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k): _scalar_text(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _unique(self) -> ObservedNode:
        names = [history.name for history in self.resources]
        if len(set(names)) != len(names):  # (one pass in C: a node can list thousands)
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"resource {name!r} listed twice on node {self.name}")
                seen.add(name)
        if self.unclean_online and self.state is not NodeState.UNCLEAN:
            raise ValueError("uncleanOnline is only meaningful with state: unclean")
        return self


class ObservedStatus(_Strict):
    api_version: Literal["hactl.io/v1"] = Field(API_VERSION, alias="apiVersion")
    kind: Literal["ObservedStatus"] = KIND
    have_quorum: bool = Field(True, alias="haveQuorum")
    #: seconds since the epoch at which to evaluate (failure-timeout expiry, date rules)
    now: NonNegInt | None = None
    dc_node: str | None = Field(None, alias="dcNode")
    nodes: tuple[ObservedNode, ...] = ()

    @model_validator(mode="after")
    def _unique_nodes(self) -> ObservedStatus:
        seen: set[str] = set()
        for node in self.nodes:
            if node.name in seen:
                raise ValueError(f"node {node.name!r} listed twice")
            seen.add(node.name)
        return self

    def node(self, name: str) -> ObservedNode | None:
        for node in self.nodes:
            if node.name == name:
                return node
        return None


# ------------------------------------------------------- the scheduler's light records
#
# A converged CIB has an operation record per resource per node (650,000 at 64 nodes and
# 10,000 resources). On the way from a CIB to the scheduler they are read straight into
# these records (``reconciler.scheduler.input`` re-exports them as ``OpRecord`` and
# ``ResourceHistory``); the pydantic models above are for the status file and the node
# agent, and ``op_record`` turns one of them into the same record. They are named tuples,
# immutable like the frozen dataclasses used elsewhere but made five times faster (a
# frozen dataclass's ``__init__`` goes through ``object.__setattr__`` for every field):
# at that count the difference is a second of a run.


_AGENT = re.compile(r"^(?P<cls>[^:]+)(?::(?P<provider>[^:]+))?:(?P<type>.+)$")


class OpRecord(NamedTuple):
    """One ``lrm_rsc_op``: an operation result of a resource on a node.

    ``rc``: OCF exit code (0 ok, 7 not running, 8 running promoted, 9 failed
    promoted, 1-6 errors...). ``status``: execution status (``op-status``;
    0 done, 1 cancelled, 2 timed out, 3 not supported, 4 error, 5 not
    installed, 6 invalid, 7 pending...). ``expected_rc``: target rc from the
    transition key. ``call_id`` orders records (-1: pending).
    ``id``: the lrm_rsc_op id (``rsc_last_0``, ``rsc_last_failure_0``,
    ``rsc_monitor_10000``...).
    """

    operation: str
    interval_ms: int
    rc: int
    call_id: int
    status: int = 0
    expected_rc: int = 0
    last_rc_change: int | None = None
    exit_reason: str = ""
    id: str = ""
    op_digest: str | None = None


class NodeHistory(NamedTuple):
    """``<lrm_resource id= class= provider= type=>`` on one node with its operations."""

    resource: str
    node: str
    cls: str
    type: str
    provider: str | None = None
    operations: tuple[OpRecord, ...] = ()
    container: str | None = None


@functools.lru_cache(maxsize=1024)
def split_agent(text: str | None) -> tuple[str, str | None, str]:
    """``ocf:heartbeat:IPaddr2`` -> (class, provider, type); ``stonith:fence_xvm`` -> no
    provider; a non-OCF class with three parts keeps ``provider:type`` as the type."""
    if not text:
        return "", None, ""
    m = _AGENT.match(text)
    if m is None:
        return text, None, ""
    if m.group("cls") != "ocf" and m.group("provider") is not None:
        return m.group("cls"), None, f"{m.group('provider')}:{m.group('type')}"
    return m.group("cls"), m.group("provider"), m.group("type")


def op_record(resource: str, op: OperationRecord) -> OpRecord:
    """The scheduler's record of one operation of ``resource`` (defaults resolved)."""
    task = op.operation
    interval = op.interval_ms
    expected = op.expected_rc
    if expected is None:
        expected = 7 if (task == "monitor" and interval == 0) else 0  # op.target_rc
    changed = op.last_rc_change
    return OpRecord(
        task,
        interval,
        op.rc,
        op.call_id,
        op.op_status,
        expected,
        changed if changed is not None else op.last_run,
        op.exit_reason or "",
        op.id or f"{resource}_{task}_{interval}",
        op.digest,
    )


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_document(status: ObservedStatus) -> dict[str, object]:
    """The YAML-ready mapping (camelCase keys, defaults left out)."""
    dumped: dict[str, object] = status.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    # apiVersion and kind are defaults but must always be written.
    return {"apiVersion": API_VERSION, "kind": KIND, **dumped}


def load_status_text(text: str, source: str = "<status>") -> ObservedStatus:
    """Parse an observed-status YAML document; ValidationError with file:line on bad input."""
    documents, problems = parse_text(text, source)
    if problems:
        raise ValidationError(problems)
    if len(documents) != 1:
        raise ValidationError(
            [Problem(f"expected one ObservedStatus document, found {len(documents)}", file=source)]
        )
    doc = documents[0]
    if not isinstance(doc.data, dict):
        raise ValidationError(
            [Problem("an observed status must be a mapping", file=source, line=doc.start.line)]
        )
    try:
        return ObservedStatus.model_validate(doc.data)
    except pydantic.ValidationError as e:
        found = []
        for err in e.errors(include_url=False):
            loc = tuple(err["loc"])
            pos = doc.locate(loc, prefer_key=err["type"] in ("extra_forbidden", "missing"))
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown field `{loc[-1]}`"
            found.append(
                Problem(
                    message,
                    file=source,
                    line=pos.line,
                    column=pos.column,
                    path=render_path(loc) or None,
                )
            )
        raise ValidationError(found) from None


def dump_status_yaml(status: ObservedStatus) -> str:
    return yaml.safe_dump(to_document(status), sort_keys=False, default_flow_style=False)


def all_online(node_names: list[str] | tuple[str, ...]) -> ObservedStatus:
    """A freshly formed cluster: every node online, nothing run yet, quorum."""
    return ObservedStatus(nodes=tuple(ObservedNode(name=n) for n in node_names))
