"""Fencing kinds: FencingDevice and FencingTopology."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from reconciler.model.base import Manifest, Model
from reconciler.model.resources import Operation
from reconciler.model.values import Duration, Name, NodeNameStr, Text

FENCE_AGENT_PATTERN = r"^(stonith:)?[A-Za-z0-9_][A-Za-z0-9_./-]*$"


class FencingDeviceSpec(Model):
    """A fence agent instance and the nodes it can fence."""

    agent: Annotated[str, Field(pattern=FENCE_AGENT_PATTERN)] = Field(
        description="The fence agent, e.g. `fence_ipmilan` (`stonith:` prefix optional)."
    )
    params: dict[str, Text] = Field(
        default_factory=dict, description="Parameters passed to the fence agent."
    )
    host_list: tuple[NodeNameStr, ...] = Field(
        default=(), description="Nodes this device can fence (pcmk_host_list)."
    )
    host_map: dict[NodeNameStr, Text] = Field(
        default_factory=dict,
        description="Node name to the device's name for it, e.g. a port or plug (pcmk_host_map).",
    )
    host_check: Literal["static-list", "dynamic-list", "status", "none"] | None = Field(
        default=None,
        description="How to learn which nodes it can fence: static-list (hostList/hostMap), "
        "dynamic-list (ask the agent's list action), status (ask per node), none (all nodes). "
        "Default: static-list when hostList or hostMap is given, else dynamic-list.",
    )
    host_argument: str | None = Field(
        default=None,
        description="The agent parameter that receives the node to fence (pcmk_host_argument).",
    )
    delay_base: Duration | None = Field(
        default=None, description="Fixed delay before fencing (pcmk_delay_base)."
    )
    delay_max: Duration | None = Field(
        default=None,
        description="Random delay up to this long before fencing, against fence races "
        "(pcmk_delay_max).",
    )
    priority: int = Field(default=0, description="Devices with higher priority are tried first.")
    timeout: Duration | None = Field(
        default=None, description="Timeout of a fencing action (default: the Cluster's)."
    )
    retries: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="Retries of a fencing action within its timeout."
    )
    operations: tuple[Operation, ...] = Field(
        default=(), description="Operations (only start, stop and monitor)."
    )
    target_role: Literal["Started", "Stopped"] = Field(
        default="Started", description="Stopped disables the device."
    )
    action: Literal["reboot", "off"] | None = Field(
        default=None,
        description="What fencing with this device does to a node (default: the Cluster's "
        "`fencingAction`). In a topology level of several devices, reboot turns them all "
        "off, then on.",
    )
    description: str | None = Field(default=None, description="Free text for people.")

    @property
    def effective_host_check(self) -> str:
        if self.host_check is not None:
            return self.host_check
        return "static-list" if self.host_list or self.host_map else "dynamic-list"

    def static_targets(self) -> tuple[str, ...] | None:
        """Nodes it can fence when known statically; None when it asks the agent or fences all."""
        if self.effective_host_check != "static-list":
            return None
        return tuple(sorted({*self.host_list, *self.host_map}))


class FencingDevice(Manifest):
    """A fencing device (a STONITH resource)."""

    KIND: ClassVar[str] = "FencingDevice"
    kind: Literal["FencingDevice"] = Field(description="`FencingDevice`.")
    spec: FencingDeviceSpec = Field(description="Agent, parameters, targets.")


class NodeAttributeMatch(Model):
    """Nodes whose attribute `name` equals `value`."""

    name: str = Field(description="The node attribute.")
    value: Text = Field(description="The value it must have.")


class FencingLevel(Model):
    """One level: all its devices must succeed for the level to succeed."""

    devices: tuple[Name, ...] = Field(min_length=1, description="FencingDevice names.")


class FencingTopologySpec(Model):
    """For some nodes: levels of devices tried in order until one level succeeds."""

    node: NodeNameStr | None = Field(default=None, description="The node this applies to.")
    node_pattern: str | None = Field(
        default=None, description="Instead of `node`: a regular expression over node names."
    )
    node_attribute: NodeAttributeMatch | None = Field(
        default=None, description="Instead of `node`: nodes with this attribute value."
    )
    levels: tuple[FencingLevel, ...] = Field(
        min_length=1, max_length=9, description="Levels, tried first to last (at most 9)."
    )

    @model_validator(mode="after")
    def _one_target(self) -> FencingTopologySpec:
        given = [
            f for f in ("node", "node_pattern", "node_attribute") if getattr(self, f) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of `node`, `nodePattern` or `nodeAttribute`")
        return self


class FencingTopology(Manifest):
    """Fencing levels for a node, a node pattern or nodes with an attribute."""

    KIND: ClassVar[str] = "FencingTopology"
    kind: Literal["FencingTopology"] = Field(description="`FencingTopology`.")
    spec: FencingTopologySpec = Field(description="Target nodes and levels.")
