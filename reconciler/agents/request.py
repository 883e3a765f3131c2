"""What to run: an agent reference (``ocf:heartbeat:IPaddr2``) and an operation request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.base.errors import AgentError

AGENT_CLASSES = ("ocf", "lsb", "systemd", "service", "stonith")

OCF_ACTIONS = (
    "start",
    "stop",
    "monitor",
    "promote",
    "demote",
    "notify",
    "reload",
    "reload-agent",
    "migrate_to",
    "migrate_from",
    "validate-all",
    "meta-data",
)
LSB_ACTIONS = ("start", "stop", "monitor", "status", "restart", "reload", "meta-data")
SYSTEMD_ACTIONS = ("start", "stop", "monitor", "status", "reload", "restart", "meta-data")
FENCE_ACTIONS = (
    "off",
    "on",
    "reboot",
    "status",
    "list",
    "list-status",
    "monitor",
    "metadata",
    "meta-data",
    "validate-all",
)

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+:-]*$")


@dataclass(frozen=True, slots=True, order=True)
class AgentRef:
    """``class:provider:type`` (OCF) or ``class:type`` (lsb, systemd, service, stonith)."""

    cls: str
    type: str
    provider: str = ""

    @staticmethod
    def parse(text: str) -> AgentRef:
        """Parse ``ocf:heartbeat:IPaddr2``, ``lsb:nginx``, ``systemd:nginx.service``,
        ``stonith:fence_ipmilan``. A bare ``fence_x`` means ``stonith:fence_x``.

        Raises :class:`AgentError` with a readable message for anything else.
        """
        parts = text.split(":")
        if len(parts) == 1 and text.startswith("fence_"):
            parts = ["stonith", text]
        cls = parts[0]
        if cls not in AGENT_CLASSES:
            raise AgentError(
                f"unknown agent class {cls!r} in {text!r} (expected one of "
                f"{', '.join(AGENT_CLASSES)}, e.g. ocf:heartbeat:IPaddr2)"
            )
        if cls == "ocf":
            if len(parts) != 3 or not parts[1] or not parts[2]:
                raise AgentError(f"an OCF agent is ocf:PROVIDER:TYPE, got {text!r}")
            ref = AgentRef("ocf", parts[2], parts[1])
        else:
            if len(parts) != 2 or not parts[1]:
                raise AgentError(f"a {cls} agent is {cls}:NAME, got {text!r}")
            ref = AgentRef(cls, parts[1])
        for piece in (ref.type, ref.provider):
            if piece and (not _NAME.match(piece) or "/" in piece or piece in (".", "..")):
                raise AgentError(f"bad agent name {piece!r} in {text!r}")
        return ref

    def __str__(self) -> str:
        if self.cls == "ocf":
            return f"ocf:{self.provider}:{self.type}"
        return f"{self.cls}:{self.type}"

    @property
    def is_fence(self) -> bool:
        return self.cls == "stonith"


@dataclass(frozen=True, slots=True)
class OpRequest:
    """One operation for one resource on this node.

    ``resource`` is the instance name the agent sees (``OCF_RESOURCE_INSTANCE``; a clone
    instance is ``name:N``). ``params`` become ``OCF_RESKEY_<name>``; ``meta`` become
    ``OCF_RESKEY_CRM_meta_<name>`` (use :func:`clone_meta` / :func:`notify_meta` to build
    the clone and notify variables). ``timeout_s`` ``None`` means: the agent's meta-data
    default for the action, else 20 s. ``expected_rc`` is for recurring monitors
    (8 for the promoted role); ``None`` on a monitor with interval 0 makes it a probe.
    """

    resource: str
    agent: AgentRef
    action: str
    params: Mapping[str, str] = field(default_factory=dict)
    interval_s: float = 0.0
    timeout_s: float | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    check_level: int | None = None
    expected_rc: int | None = None
    role: str | None = None  # "Promoted"/"Unpromoted" for per-role monitors
    target: str | None = None  # fence agents: the node to fence (mapped to plug/port)

    @property
    def is_probe(self) -> bool:
        return self.action in ("monitor", "status") and self.interval_s == 0

    def key(self) -> tuple[str, str, float]:
        """Identity of a recurring operation: (resource, action, interval)."""
        return (self.resource, self.action, self.interval_s)


def clone_meta(
    *,
    clone: int,
    clone_max: int,
    clone_node_max: int = 1,
    notify: bool = False,
    promotable: bool = False,
    promoted_max: int = 1,
    promoted_node_max: int = 1,
    globally_unique: bool = False,
) -> dict[str, str]:
    """The ``CRM_meta_*`` names Pacemaker passes to a clone instance."""
    meta = {
        "clone": str(clone),
        "clone_max": str(clone_max),
        "clone_node_max": str(clone_node_max),
        "notify": "true" if notify else "false",
        "globally_unique": "true" if globally_unique else "false",
    }
    if promotable:
        meta |= {
            "promoted_max": str(promoted_max),
            "promoted_node_max": str(promoted_node_max),
            # the pre-2.1 names many agents still read
            "master_max": str(promoted_max),
            "master_node_max": str(promoted_node_max),
        }
    return meta


NOTIFY_LISTS = (
    "active",
    "inactive",
    "start",
    "stop",
    "promote",
    "demote",
    "promoted",
    "unpromoted",
    "all",
)


def notify_meta(
    *,
    notify_type: str,
    operation: str,
    resources: Mapping[str, list[str]] | None = None,
    unames: Mapping[str, list[str]] | None = None,
) -> dict[str, str]:
    """``notify_type`` (pre/post), ``notify_operation`` and the ``notify_<list>_resource``
    / ``notify_<list>_uname`` space-separated lists (lists: active, inactive, start, stop,
    promote, demote, promoted, unpromoted, all; ``master``/``slave`` aliases are added)."""
    if notify_type not in ("pre", "post"):
        raise AgentError(f"notify_type must be pre or post, got {notify_type!r}")
    meta = {"notify_type": notify_type, "notify_operation": operation}
    for kind, source in (("resource", resources or {}), ("uname", unames or {})):
        for name in NOTIFY_LISTS:
            values = " ".join(source.get(name, []))
            meta[f"notify_{name}_{kind}"] = values
        meta[f"notify_master_{kind}"] = meta[f"notify_promoted_{kind}"]
        meta[f"notify_slave_{kind}"] = meta[f"notify_unpromoted_{kind}"]
    return meta
