"""Manifests back to YAML: what ``load_text`` reads, ``dump_yaml`` writes (round-trippable)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from reconciler.model.base import Manifest


def to_data(obj: Manifest) -> dict[str, Any]:
    """The plain (JSON-compatible) form of ``obj`` as written in YAML, defaults left out."""
    data = obj.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data["apiVersion"] = obj.api_version
    data["kind"] = obj.kind
    return {k: data[k] for k in ("apiVersion", "kind", "metadata", "spec", "status") if k in data}


def dump_yaml(objects: Iterable[Manifest]) -> str:
    """A multi-document YAML text of ``objects``, in the given order."""
    docs = [
        yaml.safe_dump(to_data(obj), sort_keys=False, allow_unicode=True, default_flow_style=False)
        for obj in objects
    ]
    return "---\n".join(docs)
