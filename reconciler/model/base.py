"""The shape every manifest shares: ``apiVersion``, ``kind``, ``metadata``, ``spec``, ``status``."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from reconciler.model.values import Name, Text

API_VERSION = "hactl.io/v1"


class Model(BaseModel):
    """Base of every manifest model: camelCase in YAML, snake_case in Python, frozen, no extras."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        validate_default=False,
        use_attribute_docstrings=False,
    )


class ObjectMeta(Model):
    """Identity and bookkeeping of an object. The server owns the last four fields."""

    name: Name = Field(description="Unique name of the object within its kind.")
    labels: dict[str, Text] = Field(
        default_factory=dict, description="Key/value labels; label selectors match them."
    )
    annotations: dict[str, Text] = Field(
        default_factory=dict, description="Free-form key/value notes; hactl ignores them."
    )
    generation: int | None = Field(
        default=None, description="Server-owned: bumped on every change of the spec."
    )
    resource_version: str | None = Field(
        default=None, description="Server-owned: the store revision of the last write."
    )
    uid: str | None = Field(default=None, description="Server-owned: unique id of the object.")
    creation_timestamp: str | None = Field(
        default=None, description="Server-owned: when the object was first created (RFC 3339)."
    )


class Manifest(Model):
    """A document of one kind. Subclasses narrow ``kind`` and ``spec``."""

    KIND: ClassVar[str] = ""

    api_version: Literal["hactl.io/v1"] = Field(description="Always `hactl.io/v1`.")
    kind: str = Field(description="The kind of object.")
    metadata: ObjectMeta = Field(description="Name, labels and annotations.")
    status: dict[str, Any] | None = Field(
        default=None,
        description="Server-owned observed state; accepted on input and ignored.",
    )

    @property
    def name(self) -> str:
        return self.metadata.name


class LabelSelector(Model):
    """Selects objects by their labels (all conditions must hold)."""

    match_labels: dict[str, Text] = Field(
        default_factory=dict, description="Every listed label must have exactly this value."
    )
    match_expressions: tuple[SelectorRequirement, ...] = Field(
        default=(), description="Every requirement must hold."
    )

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        return all(r.matches(labels) for r in self.match_expressions)


class SelectorRequirement(Model):
    """One condition on a label, as in Kubernetes."""

    key: str = Field(description="The label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="How the label is compared with `values`."
    )
    values: tuple[Text, ...] = Field(
        default=(), description="Values for In/NotIn; empty for Exists/DoesNotExist."
    )

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        inside = present and labels[self.key] in self.values
        return inside if self.operator == "In" else not inside


LabelSelector.model_rebuild()
