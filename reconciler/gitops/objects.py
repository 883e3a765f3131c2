"""Values the GitOps core works on: desired objects (directory), live objects (store)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.gitops.keys import ObjectKey

# Fields the server owns: never part of a comparison between directory and store.
SERVER_OWNED_METADATA = ("resourceVersion", "generation", "uid", "creationTimestamp")


@dataclass(frozen=True, slots=True)
class DesiredObject:
    """One manifest document from the directory, as the JSON the store holds."""

    key: ObjectKey
    body: Mapping[str, Any]
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class LiveObject:
    """One object in the store; ``mod_revision`` is its resourceVersion."""

    key: ObjectKey
    body: Mapping[str, Any]
    mod_revision: int


def comparable(body: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an object that the directory decides: no status, no server-owned metadata."""
    out = {k: v for k, v in body.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        cleaned = {k: v for k, v in meta.items() if k not in SERVER_OWNED_METADATA}
        for empty in ("labels", "annotations"):
            if cleaned.get(empty) in ({}, None):
                cleaned.pop(empty, None)
        out["metadata"] = cleaned
    return out


def canonical_json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_object(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    return canonical_json(comparable(desired)) == canonical_json(comparable(live))


def encode(body: Mapping[str, Any]) -> bytes:
    return canonical_json(comparable(body)).encode()


def stamped(
    desired: Mapping[str, Any], live: LiveObject | None, now_iso: str, new_uid: str
) -> bytes:
    """The value to store for ``desired``, with the server-owned metadata ``hactl apply`` keeps:
    ``generation`` (1, then +1 per change), ``uid`` and ``creationTimestamp`` (kept from the
    live object). ``resourceVersion`` is never stored: it is the key's mod revision."""
    body = comparable(desired)
    meta = dict(body.get("metadata") or {})
    old = live.body.get("metadata") if live is not None else None
    old_meta: Mapping[str, Any] = old if isinstance(old, Mapping) else {}
    generation = old_meta.get("generation")
    meta["generation"] = int(generation) + 1 if isinstance(generation, int) else 1
    meta["uid"] = old_meta.get("uid") or new_uid
    meta["creationTimestamp"] = old_meta.get("creationTimestamp") or now_iso
    body["metadata"] = meta
    return json.dumps(body, sort_keys=True).encode()
