"""Resource kinds: Resource (a primitive), Group, Clone (optionally promotable)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from reconciler.model.base import Manifest, Model
from reconciler.model.values import AgentRef, Duration, Name, Role, RunRole, Score, Text

OperationName = Literal[
    "start",
    "stop",
    "monitor",
    "promote",
    "demote",
    "notify",
    "migrate_to",
    "migrate_from",
    "reload",
    "reload-agent",
]
OnFail = Literal["ignore", "block", "stop", "restart", "standby", "fence", "demote"]
NonNegative = Annotated[int, Field(ge=0)]


class Operation(Model):
    """One action of the agent, with its timing and failure policy."""

    name: OperationName = Field(description="The agent action.")
    interval: Duration = Field(
        default=Duration(0),
        description="How often a recurring monitor runs; 0 for one-shot actions.",
    )
    timeout: Duration | None = Field(
        default=None,
        description="How long the action may take before it counts as failed "
        "(default: the agent's meta-data, else 20s).",
    )
    role: RunRole | None = Field(
        default=None,
        description="Run this monitor only while the resource is in this role "
        "(Promoted/Unpromoted for promotable clones).",
    )
    on_fail: OnFail | None = Field(
        default=None,
        description="What to do when the action fails: ignore, block, stop, restart, standby, "
        "fence or demote (default: restart for monitors, fence for a failed stop when fencing "
        "is enabled, else block).",
    )
    enabled: bool = Field(default=True, description="A disabled operation is not run.")
    start_delay: Duration | None = Field(
        default=None, description="Wait this long before the first run of a recurring monitor."
    )
    description: str | None = Field(default=None, description="Free text for people.")


class ResourceSpec(Model):
    """A primitive: one agent instance with its parameters, operations and meta attributes."""

    agent: AgentRef = Field(
        description="The agent: `ocf:provider:type`, `lsb:name`, `systemd:unit` or `service:name`."
    )
    params: dict[str, Text] = Field(
        default_factory=dict, description="Instance parameters passed to the agent."
    )
    operations: tuple[Operation, ...] = Field(
        default=(), description="Operations with non-default timing or failure policy."
    )
    stickiness: Score | None = Field(
        default=None,
        description="How strongly the resource prefers to stay where it runs "
        "(resource-stickiness; default: the Cluster's defaultStickiness).",
    )
    migration_threshold: Score | None = Field(
        default=None,
        description="Failures on a node after which the resource is moved away from it "
        "(default: the Cluster's defaultMigrationThreshold; 0 means no threshold).",
    )
    failure_timeout: Duration | None = Field(
        default=None,
        description="Forget failures this long after the last one (default: never).",
    )
    target_role: Role = Field(
        default="Started",
        description="The role the cluster should keep the resource in: Stopped, Started, "
        "Unpromoted or Promoted.",
    )
    managed: bool = Field(
        default=True,
        description="When false the cluster monitors but neither starts nor stops it.",
    )
    maintenance: bool = Field(
        default=False, description="When true the cluster neither acts on nor monitors it."
    )
    priority: int = Field(
        default=0,
        description="When not all resources can run, higher priority ones are kept running.",
    )
    allow_migrate: bool = Field(
        default=False,
        description="Move by live migration (migrate_to/migrate_from) instead of stop/start.",
    )
    critical: bool = Field(
        default=True,
        description="Whether colocations with this resource are honoured when it cannot run.",
    )
    multiple_active: Literal["block", "stop_only", "stop_start", "stop_unexpected"] = Field(
        default="stop_start",
        description="What to do when found active on more than one node.",
    )
    requires: Literal["nothing", "quorum", "fencing", "unfencing"] | None = Field(
        default=None,
        description="What must hold before it may start (default: fencing when enabled, "
        "else quorum).",
    )
    utilization: dict[str, NonNegative] = Field(
        default_factory=dict,
        description="Capacity it consumes on its node (e.g. cpu, memory) for utilization "
        "placement.",
    )
    description: str | None = Field(default=None, description="Free text for people.")


class Resource(Manifest):
    """A primitive resource: one agent instance."""

    KIND: ClassVar[str] = "Resource"
    kind: Literal["Resource"] = Field(description="`Resource`.")
    spec: ResourceSpec = Field(description="What to run and how.")


class GroupSpec(Model):
    """Resources that run together on one node, started in order and stopped in reverse."""

    resources: tuple[Name, ...] = Field(
        min_length=1, description="Names of the member Resources, in start order."
    )
    stickiness: Score | None = Field(
        default=None, description="Stickiness for the whole group (default: the members' own)."
    )
    target_role: Role = Field(
        default="Started", description="The role to keep the group in (Stopped or Started)."
    )
    managed: bool = Field(default=True, description="When false nothing in it is started/stopped.")
    maintenance: bool = Field(default=False, description="When true nothing in it is touched.")
    priority: int = Field(default=0, description="Priority of the group (see Resource).")
    description: str | None = Field(default=None, description="Free text for people.")


class Group(Manifest):
    """An ordered, colocated set of Resources."""

    KIND: ClassVar[str] = "Group"
    kind: Literal["Group"] = Field(description="`Group`.")
    spec: GroupSpec = Field(description="Members and meta attributes.")


class CloneSpec(Model):
    """Copies of one Resource or Group on many nodes; promotable clones have a promoted role."""

    resource: Name = Field(description="Name of the Resource or Group to clone.")
    max: NonNegative | None = Field(
        default=None, description="How many copies in total (clone-max; default: one per node)."
    )
    per_node_max: Annotated[int, Field(ge=1)] = Field(
        default=1, description="How many copies on one node (clone-node-max)."
    )
    min_active: NonNegative | None = Field(
        default=None,
        description="Copies that must be active before dependants may start (clone-min).",
    )
    interleave: bool = Field(
        default=False,
        description="Orders/colocations with other clones apply per node instead of to all copies.",
    )
    globally_unique: bool = Field(
        default=False, description="Whether each copy is distinct (anonymous when false)."
    )
    ordered: bool = Field(default=False, description="Start copies one after another.")
    notify: bool = Field(
        default=False, description="Call the agent's notify action before/after copies change."
    )
    promotable: bool = Field(
        default=False, description="Copies can be promoted (e.g. a database primary)."
    )
    promoted_max: NonNegative | None = Field(
        default=None,
        description="Promotable only: how many copies may be promoted (default 1).",
    )
    promoted_per_node_max: NonNegative | None = Field(
        default=None,
        description="Promotable only: promoted copies on one node (default 1).",
    )
    stickiness: Score | None = Field(
        default=None, description="Stickiness of each copy (default: the Resource's own)."
    )
    target_role: Role = Field(default="Started", description="The role to keep the clone in.")
    managed: bool = Field(default=True, description="When false no copy is started/stopped.")
    maintenance: bool = Field(default=False, description="When true no copy is touched.")
    priority: int = Field(default=0, description="Priority of the clone (see Resource).")
    description: str | None = Field(default=None, description="Free text for people.")

    @model_validator(mode="after")
    def _counts_fit(self) -> CloneSpec:
        if self.promoted_max is not None and self.max is not None and self.promoted_max > self.max:
            raise ValueError(f"promotedMax ({self.promoted_max}) is larger than max ({self.max})")
        return self

    @property
    def effective_promoted_max(self) -> int:
        return 1 if self.promoted_max is None else self.promoted_max

    @property
    def effective_promoted_per_node_max(self) -> int:
        return 1 if self.promoted_per_node_max is None else self.promoted_per_node_max


class Clone(Manifest):
    """Copies of a Resource or Group across nodes."""

    KIND: ClassVar[str] = "Clone"
    kind: Literal["Clone"] = Field(description="`Clone`.")
    spec: CloneSpec = Field(description="What to clone and how many copies.")
