"""ManifestSet: an immutable collection of manifests, by kind and name, with their sources."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from reconciler.base.errors import Problem
from reconciler.model.base import Manifest
from reconciler.model.cluster import Cluster, Node
from reconciler.model.constraints import Colocation, Location, Order
from reconciler.model.fencing import FencingDevice, FencingTopology
from reconciler.model.resources import Clone, Group, Resource

FieldPath = tuple[str | int, ...]
M = TypeVar("M", bound=Manifest)


@dataclass(frozen=True, slots=True)
class Source:
    """Where an object was written: file, line and column of its document, and of each field."""

    file: str
    line: int
    column: int
    document: int = 0
    fields: Mapping[FieldPath, tuple[int, int]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def locate(self, path: FieldPath) -> tuple[int, int]:
        """(line, column) of ``path`` (YAML names), or of its nearest written ancestor."""
        p = tuple(path)
        while p:
            if p in self.fields:
                return self.fields[p]
            p = p[:-1]
        return (self.line, self.column)


def render_path(path: FieldPath) -> str:
    """``("spec", "operations", 0, "interval")`` -> ``spec.operations[0].interval``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class ManifestSet:
    """Manifests of every kind, immutable, each remembering where it was written.

    Mappings are ordered by name. When a name repeats within a kind (an invalid set), the
    mappings hold the first; ``objects`` holds all, in input order.
    """

    __slots__ = (
        "_by_kind",
        "_sources",
        "clones",
        "cluster",
        "colocations",
        "fencing_devices",
        "fencing_topologies",
        "groups",
        "locations",
        "nodes",
        "objects",
        "orders",
        "resources",
        "unparsed",
    )

    resources: Mapping[str, Resource]
    groups: Mapping[str, Group]
    clones: Mapping[str, Clone]
    locations: Mapping[str, Location]
    colocations: Mapping[str, Colocation]
    orders: Mapping[str, Order]
    fencing_devices: Mapping[str, FencingDevice]
    fencing_topologies: Mapping[str, FencingTopology]
    nodes: Mapping[str, Node]
    cluster: Cluster | None
    objects: tuple[Manifest, ...]
    unparsed: frozenset[tuple[str, str]]
    _by_kind: Mapping[str, Mapping[str, Manifest]]
    _sources: Mapping[int, Source]

    def __init__(
        self,
        entries: Iterable[tuple[Manifest, Source | None]] = (),
        unparsed: Iterable[tuple[str, str]] = (),
    ) -> None:
        pairs = list(entries)
        objects = tuple(obj for obj, _ in pairs)
        sources = {id(obj): src for obj, src in pairs if src is not None}
        by_kind: dict[str, dict[str, Manifest]] = {}
        for obj in objects:
            by_kind.setdefault(obj.kind, {}).setdefault(obj.name, obj)
        sorted_kinds = {k: MappingProxyType(dict(sorted(v.items()))) for k, v in by_kind.items()}
        setattr_ = object.__setattr__
        setattr_(self, "objects", objects)
        setattr_(self, "_sources", MappingProxyType(sources))
        setattr_(self, "_by_kind", MappingProxyType(sorted_kinds))
        setattr_(self, "unparsed", frozenset(unparsed))
        for attr, kind in (
            ("resources", "Resource"),
            ("groups", "Group"),
            ("clones", "Clone"),
            ("locations", "Location"),
            ("colocations", "Colocation"),
            ("orders", "Order"),
            ("fencing_devices", "FencingDevice"),
            ("fencing_topologies", "FencingTopology"),
            ("nodes", "Node"),
        ):
            setattr_(self, attr, sorted_kinds.get(kind, MappingProxyType({})))
        clusters = [o for o in objects if isinstance(o, Cluster)]
        setattr_(self, "cluster", clusters[0] if clusters else None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ManifestSet is immutable")

    def __iter__(self) -> Iterator[Manifest]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={len(v)}" for k, v in sorted(self._by_kind.items()))
        return f"ManifestSet({counts})"

    def of_kind(self, kind: str) -> Mapping[str, Manifest]:
        """Objects of ``kind`` by name (ordered by name)."""
        return self._by_kind.get(kind, MappingProxyType({}))

    def get(self, kind: str, name: str) -> Manifest | None:
        return self.of_kind(kind).get(name)

    def resource_like(self, name: str) -> Resource | Group | Clone | None:
        """The Resource, Group or Clone called ``name`` (they share one namespace)."""
        return self.resources.get(name) or self.groups.get(name) or self.clones.get(name)

    def location_targets(self, location: Location) -> tuple[str, ...]:
        """Names of the Resources, Groups and Clones a Location applies to, sorted.

        ``resource`` names one; ``resourceSelector`` matches labels; ``resourcePattern`` is a
        regular expression searched in names (anchor it with ``^…$`` for whole names).
        """
        spec = location.spec
        if spec.resource is not None:
            return (spec.resource,) if self.resource_like(spec.resource) is not None else ()
        candidates = sorted({*self.resources, *self.groups, *self.clones})
        if spec.resource_selector is not None:
            selector = spec.resource_selector
            return tuple(n for n in candidates if selector.matches(self._resource_labels(n)))
        assert spec.resource_pattern is not None
        try:
            pattern = re.compile(spec.resource_pattern)
        except re.error:
            return ()
        return tuple(n for n in candidates if pattern.search(n))

    def _resource_labels(self, name: str) -> dict[str, str]:
        obj = self.resource_like(name)
        return dict(obj.metadata.labels) if obj is not None else {}

    def source(self, obj: Manifest) -> Source | None:
        """Where ``obj`` (an object of this set) was written, when it came from text."""
        return self._sources.get(id(obj))

    def problem(
        self, obj: Manifest, path: FieldPath, message: str, hint: str | None = None
    ) -> Problem:
        """A Problem about ``obj``'s field at ``path`` (YAML names), located in its file."""
        src = self.source(obj)
        prefix = f"{obj.kind} {obj.name}: "
        if src is None:
            return Problem(prefix + message, path=render_path(path) or None, hint=hint)
        line, column = src.locate(path)
        return Problem(
            prefix + message,
            file=src.file,
            line=line,
            column=column,
            path=render_path(path) or None,
            hint=hint,
        )

    def with_objects(self, more: Iterable[tuple[Manifest, Source | None]]) -> ManifestSet:
        """A new set with ``more`` added (sources kept)."""
        return ManifestSet([*((o, self.source(o)) for o in self.objects), *more], self.unparsed)
