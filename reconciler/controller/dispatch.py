"""What travels from the coordinator to a node agent and back (plain values)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Action:
    """One action to run on a node, carrying the coordinator's fencing token."""

    token: int
    action_id: str
    resource: str
    operation: str
    agent: str
    interval_ms: int = 0
    timeout_ms: int = 20000
    params: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)
    expected_rc: int = 0
    target: str = ""  # fencing: the node to fence
    coordinator: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of an action. ``refused``: nothing ran (stale token, not a member)."""

    rc: int
    op_status: int = 0  # Pacemaker's op-status: 0 done, 2 timed out, 4 error
    output: str = ""
    duration_s: float = 0.0
    reason: str = ""
    refused: bool = False
