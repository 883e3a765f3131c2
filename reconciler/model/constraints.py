"""Constraint kinds: Location, Colocation, Order (with resource sets)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from reconciler.model.base import LabelSelector, Manifest, Model
from reconciler.model.rules import LocationRule
from reconciler.model.values import Action, Duration, Name, NodeNameStr, Role, Score


class LocationSpec(Model):
    """Where a resource may, should or must not run."""

    resource: Name | None = Field(
        default=None, description="The Resource, Group or Clone constrained."
    )
    resource_selector: LabelSelector | None = Field(
        default=None, description="Instead of `resource`: every resource whose labels match."
    )
    resource_pattern: str | None = Field(
        default=None,
        description="Instead of `resource`: every resource whose name matches this regular "
        "expression.",
    )
    node: NodeNameStr | None = Field(default=None, description="The node (with `score`).")
    score: Score | None = Field(
        default=None,
        description="Preference for `node`: positive attracts, negative repels, "
        "INFINITY/-INFINITY are mandatory.",
    )
    rules: tuple[LocationRule, ...] = Field(
        default=(), description="Instead of `node`: rules over node attributes, each with a score."
    )
    role: Role | None = Field(default=None, description="Apply only to this role.")
    resource_discovery: Literal["always", "never", "exclusive"] = Field(
        default="always",
        description="Whether to probe for the resource on the node(s) this constraint names.",
    )
    lifetime: Duration | None = Field(
        default=None,
        description="The constraint expires this long after metadata.creationTimestamp.",
    )

    @model_validator(mode="after")
    def _shape(self) -> LocationSpec:
        targets = [
            f
            for f in ("resource", "resource_selector", "resource_pattern")
            if getattr(self, f) is not None
        ]
        if len(targets) != 1:
            raise ValueError(
                "give exactly one of `resource`, `resourceSelector` or `resourcePattern`"
            )
        if self.node is not None and self.rules:
            raise ValueError("give either `node` with `score`, or `rules`, not both")
        if self.node is None and not self.rules:
            raise ValueError("give `node` with `score`, or `rules`")
        if self.node is not None and self.score is None:
            raise ValueError("`node` needs a `score`")
        if self.node is None and self.score is not None:
            raise ValueError("`score` goes with `node`; rules carry their own score")
        return self


class Location(Manifest):
    """A location constraint."""

    KIND: ClassVar[str] = "Location"
    kind: Literal["Location"] = Field(description="`Location`.")
    spec: LocationSpec = Field(description="Which resource, which nodes, what score.")


class ResourceSet(Model):
    """Several resources treated together in a Colocation or Order."""

    resources: tuple[Name, ...] = Field(min_length=1, description="Names of the resources.")
    sequential: bool = Field(
        default=True,
        description="Members depend on each other in list order (false: independent).",
    )
    require_all: bool = Field(
        default=True,
        description="Order only: whether all members (true) or any one (false) must be done.",
    )
    role: Role | None = Field(default=None, description="Colocation: the members' role.")
    action: Action | None = Field(default=None, description="Order: the members' action.")


class ColocationSpec(Model):
    """Run a resource where (or where not) another one runs."""

    resource: Name | None = Field(default=None, description="The dependent resource.")
    with_resource: Name | None = Field(
        default=None, description="The resource it is placed relative to (placed first)."
    )
    role: Role | None = Field(default=None, description="Role of `resource` this applies to.")
    with_role: Role | None = Field(default=None, description="Role of `withResource`.")
    sets: tuple[ResourceSet, ...] = Field(
        default=(),
        description="Instead of the pair: resource sets; each set is colocated with the next "
        "one's placement.",
    )
    score: Score = Field(
        description="Positive: together; negative: apart; INFINITY/-INFINITY are mandatory."
    )
    node_attribute: str = Field(
        default="#uname",
        description="Colocate on nodes with the same value of this attribute (default: the "
        "same node).",
    )
    influence: bool | None = Field(
        default=None,
        description="Whether `withResource` may be moved to keep `resource` running "
        "(default: that resource's `critical`).",
    )

    @model_validator(mode="after")
    def _shape(self) -> ColocationSpec:
        pair = self.resource is not None or self.with_resource is not None
        if pair and self.sets:
            raise ValueError("give either `resource`/`withResource` or `sets`, not both")
        if not pair and not self.sets:
            raise ValueError("give `resource` and `withResource`, or `sets`")
        if pair and (self.resource is None or self.with_resource is None):
            raise ValueError("`resource` and `withResource` go together")
        if pair and self.resource == self.with_resource:
            raise ValueError("a resource cannot be colocated with itself")
        if self.sets and (self.role is not None or self.with_role is not None):
            raise ValueError("with `sets`, give roles per set")
        return self


class Colocation(Manifest):
    """A colocation constraint."""

    KIND: ClassVar[str] = "Colocation"
    kind: Literal["Colocation"] = Field(description="`Colocation`.")
    spec: ColocationSpec = Field(description="Which resources, with what score.")


class OrderSpec(Model):
    """Do an action on one resource before an action on another."""

    first: Name | None = Field(default=None, description="The resource acted on first.")
    then: Name | None = Field(default=None, description="The resource acted on after it.")
    first_action: Action = Field(default="start", description="Action of `first`.")
    then_action: Action | None = Field(
        default=None, description="Action of `then` (default: the same as firstAction)."
    )
    sets: tuple[ResourceSet, ...] = Field(
        default=(), description="Instead of the pair: resource sets, ordered one after another."
    )
    kind: Literal["Mandatory", "Optional", "Serialize"] = Field(
        default="Mandatory",
        description="Mandatory: `then` waits for `first`; Optional: only when both act in the "
        "same transition; Serialize: never at the same time, either order.",
    )
    symmetrical: bool | None = Field(
        default=None,
        description="Also order the reverse actions in reverse (stop then before stop first); "
        "default true, false for Serialize.",
    )

    @model_validator(mode="after")
    def _shape(self) -> OrderSpec:
        pair = self.first is not None or self.then is not None
        if pair and self.sets:
            raise ValueError("give either `first`/`then` or `sets`, not both")
        if not pair and not self.sets:
            raise ValueError("give `first` and `then`, or `sets`")
        if pair and (self.first is None or self.then is None):
            raise ValueError("`first` and `then` go together")
        if pair and self.first == self.then:
            raise ValueError("a resource cannot be ordered after itself")
        if self.kind == "Serialize" and self.symmetrical:
            raise ValueError("Serialize orders cannot be symmetrical")
        return self

    @property
    def effective_then_action(self) -> Action:
        return self.first_action if self.then_action is None else self.then_action

    @property
    def effective_symmetrical(self) -> bool:
        if self.symmetrical is None:
            return self.kind != "Serialize"
        return self.symmetrical


class Order(Manifest):
    """An ordering constraint."""

    KIND: ClassVar[str] = "Order"
    kind: Literal["Order"] = Field(description="`Order`.")
    spec: OrderSpec = Field(description="What comes first, what then.")
