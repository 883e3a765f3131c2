"""Membership kinds: Node and the singleton Cluster policy."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from reconciler.model.base import Manifest, Model
from reconciler.model.values import Duration, Score, Text

NonNegative = Annotated[int, Field(ge=0)]


class NodeSpec(Model):
    """A member of the cluster."""

    role: Literal["voter", "witness", "agent-only"] = Field(
        default="voter",
        description="voter: votes and runs resources; witness: votes only (breaks ties); "
        "agent-only: runs resources, does not vote.",
    )
    addresses: tuple[str, ...] = Field(
        default=(), description="Addresses (host or host:port) peers use to reach it."
    )
    attributes: dict[str, Text] = Field(
        default_factory=dict, description="Node attributes that location rules test."
    )
    utilization: dict[str, NonNegative] = Field(
        default_factory=dict, description="Capacity it offers (e.g. cpu, memory)."
    )
    standby: bool = Field(default=False, description="When true no resources run on it.")
    maintenance: bool = Field(
        default=False, description="When true resources on it are neither acted on nor monitored."
    )
    description: str | None = Field(default=None, description="Free text for people.")


class Node(Manifest):
    """A cluster node."""

    KIND: ClassVar[str] = "Node"
    kind: Literal["Node"] = Field(description="`Node`.")
    spec: NodeSpec = Field(default_factory=NodeSpec, description="Role, attributes, capacity.")


class ClusterSpec(Model):
    """Cluster-wide policy (Pacemaker's cluster options and resource defaults)."""

    no_quorum_policy: Literal["stop", "freeze", "ignore", "demote", "fence"] = Field(
        default="stop",
        description="What a partition without quorum does with its resources.",
    )
    fencing_enabled: bool = Field(
        default=True,
        description="Fence lost nodes before recovering their resources (stonith-enabled).",
    )
    fencing_action: Literal["reboot", "off"] = Field(
        default="reboot", description="What fencing does to a node."
    )
    fencing_timeout: Duration = Field(
        default=Duration(60_000), description="Default timeout of a fencing action."
    )
    concurrent_fencing: bool = Field(default=True, description="Fence several nodes at once.")
    priority_fencing_delay: Duration | None = Field(
        default=None,
        description="Delay fencing of the node running the higher-priority resources "
        "(two-node clusters).",
    )
    symmetric_cluster: bool = Field(
        default=True,
        description="Resources may run anywhere unless constrained (false: only where a "
        "Location allows).",
    )
    default_stickiness: Score = Field(
        default=0, description="Stickiness of resources that set none."
    )
    default_migration_threshold: Score = Field(
        default=1_000_000,
        description="Migration threshold of resources that set none (INFINITY).",
    )
    placement_strategy: Literal["default", "utilization", "minimal", "balanced"] = Field(
        default="default",
        description="default: ignore utilization; utilization: respect capacity; minimal: "
        "fill few nodes; balanced: spread load.",
    )
    heartbeat_interval: Duration = Field(
        default=Duration(1000), description="How often nodes send heartbeats."
    )
    node_timeout: Duration = Field(
        default=Duration(5000), description="A node silent this long is lost."
    )
    cluster_recheck_interval: Duration = Field(
        default=Duration(900_000),
        description="Plan again at least this often (time-based rules, failure timeouts).",
    )
    start_failure_is_fatal: bool = Field(
        default=True,
        description="A failed start bans the resource from that node (until its failures expire).",
    )
    maintenance_mode: bool = Field(default=False, description="Touch no resource anywhere.")
    stop_all_resources: bool = Field(default=False, description="Stop every resource.")
    two_node: bool = Field(
        default=False,
        description="Two-node mode: one node keeps quorum when the other is lost (fencing "
        "decides the race).",
    )
    wait_for_all: bool | None = Field(
        default=None,
        description="At first start, wait until all voters were seen once (default: true in "
        "two-node mode).",
    )
    witness_timeout: Duration | None = Field(
        default=None,
        description="How long to wait for a witness node's vote before deciding quorum without it.",
    )
    batch_limit: NonNegative = Field(
        default=0, description="Actions run in parallel on the cluster (0: no limit)."
    )
    startup_wait: Duration = Field(
        default=Duration(20_000),
        description="When the whole cluster starts, the coordinator waits this long at most for "
        "every configured node to join before it starts or moves resources (Pacemaker's "
        "dc-deadtime; probes and safety stops go on meanwhile; 0: no wait).",
    )


class Cluster(Manifest):
    """Cluster-wide policy. At most one Cluster object exists."""

    KIND: ClassVar[str] = "Cluster"
    kind: Literal["Cluster"] = Field(description="`Cluster`.")
    spec: ClusterSpec = Field(default_factory=ClusterSpec, description="The policy.")
