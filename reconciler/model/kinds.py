"""The registry of manifest kinds, and type introspection over the models."""

from __future__ import annotations

import types
import typing
from typing import Any, Union

from pydantic import BaseModel

from reconciler.model.base import Manifest
from reconciler.model.cluster import Cluster, Node
from reconciler.model.constraints import Colocation, Location, Order
from reconciler.model.fencing import FencingDevice, FencingTopology
from reconciler.model.resources import Clone, Group, Resource

KINDS: dict[str, type[Manifest]] = {
    cls.KIND: cls
    for cls in (
        Resource,
        Group,
        Clone,
        Location,
        Colocation,
        Order,
        FencingDevice,
        FencingTopology,
        Node,
        Cluster,
    )
}
"""Kind name -> model class, in documentation order."""

RESOURCE_KINDS = ("Resource", "Group", "Clone")
"""Kinds that share one namespace of names (constraints may name any of them)."""


def unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional: ``Annotated[int | None, ...]`` -> ``int``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def field_by_alias(model: type[BaseModel], alias: str) -> str | None:
    """The Python attribute name of ``model``'s field written as ``alias`` in YAML."""
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            return name
    return None


def aliases(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def model_at(root: type[BaseModel], path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that the value at ``path`` (YAML names, list indexes) must be."""
    current: Any = root
    i = 0
    while i < len(path):
        current = unwrap(current)
        origin = typing.get_origin(current)
        if origin in (tuple, list):
            current = typing.get_args(current)[0]
            i += 1
            continue
        if origin is dict:
            current = typing.get_args(current)[1]
            i += 1
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            key = path[i]
            name = field_by_alias(current, key) if isinstance(key, str) else None
            if name is None:
                return None
            current = current.model_fields[name].annotation
            i += 1
            continue
        return None
    current = unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None
