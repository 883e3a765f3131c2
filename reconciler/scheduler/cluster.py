"""The unpacked cluster: nodes, primitive instances, groups, clones and their state.

Immutable values produced by :mod:`reconciler.scheduler.unpack` and read by the
later stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.scheduler.input import Operation
from reconciler.scheduler.units import STOPPED


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node as the scheduler sees it."""

    name: str
    id: str
    index: int
    online: bool
    unclean: bool
    standby: bool
    maintenance: bool
    shutdown: bool
    pending: bool
    attrs: Mapping[str, str]
    utilization: Mapping[str, int]
    fence_reason: str | None
    base_score: int = 0

    @property
    def available(self) -> bool:
        """Can run resources (Pacemaker's pcmk__node_available without the score)."""
        return (
            self.online
            and not self.unclean
            and not self.standby
            and not self.maintenance
            and not self.shutdown
            and not self.pending
        )


@dataclass(frozen=True, slots=True)
class Prim:
    """A primitive instance (a clone's child instances are separate ``Prim`` values)."""

    id: str
    base: str
    top: str
    group: str | None
    clone: str | None
    cls: str
    type: str
    provider: str | None
    meta: Mapping[str, str]
    operations: tuple[Operation, ...]
    utilization: Mapping[str, int]
    priority: int
    stickiness: int
    migration_threshold: int
    failure_timeout_s: int
    target_role: str | None
    managed: bool
    maintenance: bool
    multiple_active: str
    promotable: bool
    unique: bool
    instance: int | None
    orphan: bool = False
    params_digest: str | None = None


@dataclass(frozen=True, slots=True)
class PrimState:
    """Observed state of one instance: where and in which role it runs."""

    running_on: tuple[str, ...] = ()
    role: str = STOPPED
    failed: bool = False
    blocked: bool = False
    on_fail_stop: bool = False
    pending: bool = False
    failed_nodes: tuple[str, ...] = ()
    bans: tuple[tuple[str, str], ...] = ()  # (node, reason)
    standby_nodes: tuple[str, ...] = ()
    demote_nodes: tuple[str, ...] = ()  # failed promoted with on-fail=demote: no promotion
    changed_nodes: tuple[str, ...] = ()  # started with other parameters than configured now
    fence_nodes: tuple[tuple[str, str], ...] = ()
    probed_nodes: tuple[str, ...] = ()
    history_names: tuple[tuple[str, str], ...] = ()  # (node, id used in that node's history)
    monitors: tuple[tuple[str, int], ...] = ()  # (node, interval) recurring monitors recorded


@dataclass(frozen=True, slots=True)
class GroupInfo:
    id: str
    members: tuple[str, ...]
    clone: str | None
    meta: Mapping[str, str]
    colocated: bool = True
    ordered: bool = True


@dataclass(frozen=True, slots=True)
class CloneInfo:
    id: str
    base_child: str
    instances: tuple[str, ...]  # instance ids of the child (group or primitive)
    meta: Mapping[str, str]
    clone_max: int
    clone_node_max: int
    promoted_max: int
    promoted_node_max: int
    unique: bool
    interleave: bool
    ordered: bool
    promotable: bool
    child_is_group: bool


@dataclass(frozen=True, slots=True)
class Unpacked:
    """The unpacked cluster: nodes, instances, groups, clones and observed state."""

    nodes: tuple[NodeInfo, ...]
    prims: Mapping[str, Prim]
    prim_order: tuple[str, ...]
    groups: Mapping[str, GroupInfo]
    clones: Mapping[str, CloneInfo]
    tops: tuple[str, ...]
    state: Mapping[str, PrimState]
    member_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    base_to_instances: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    have_quorum: bool = True
    recheck_at: int | None = None
    have_stonith_resource: bool = False
    fence_reasons: Mapping[str, str] = field(default_factory=dict)
    dc: str | None = None
