"""A self-checking binary image of a :class:`KVStore` (Raft snapshots, Maintenance.Snapshot).

Layout: ``HKVS`` magic, version, then length-prefixed records, then a SHA-256 of all of it
(etcd appends a SHA-256 to its snapshot stream too). Decoding checks everything and
raises ``ValueError`` naming the offset on any damage.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from reconciler.kv.store import KVStore, LeaseRecord
from reconciler.kv.types import KeyValue

MAGIC = b"HKVS"
VERSION = 1
_HDR = struct.Struct(">4sIqqII")  # magic, version, revision, compact, nkeys, nleases
_REV = struct.Struct(">qIqqqqB")  # main, sub, create, mod, version, lease, live


def _blob(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


@dataclass(frozen=True, slots=True)
class Image:
    """A consistent copy of a store's state, cheap to take, to encode elsewhere later."""

    revision: int
    compact_revision: int
    items: list[tuple[bytes, list[tuple[int, int, KeyValue | None]]]]
    leases: list[LeaseRecord]


def image(store: KVStore) -> Image:
    """Copy what ``encode`` needs (lists of immutable values: no encoding work here)."""
    steps = image_steps(store)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            img: Image = done.value
            return img


def image_steps(store: KVStore) -> Generator[None, None, Image]:
    """:func:`image` in steps of ``APPLY_CHUNK`` keys; apply no command before it returns."""
    revision, compact = store.revision, store.compact_revision
    items: list[tuple[bytes, list[tuple[int, int, KeyValue | None]]]] = []
    for piece in store.history_steps():
        items.extend(piece)
        yield
    leases = [
        LeaseRecord(r.id, r.ttl, set(r.keys))
        for r in sorted(store.leases.values(), key=lambda r: r.id)
    ]
    return Image(revision, compact, items, leases)


def encode(store: KVStore | Image) -> bytes:
    img = store if isinstance(store, Image) else image(store)
    items = img.items
    leases = img.leases
    parts = [_HDR.pack(MAGIC, VERSION, img.revision, img.compact_revision, len(items), len(leases))]
    for key, hist in items:
        parts.append(_blob(key))
        parts.append(struct.pack(">I", len(hist)))
        for main, sub, kv in hist:
            if kv is None:
                parts.append(_REV.pack(main, sub, 0, 0, 0, 0, 0))
            else:
                parts.append(
                    _REV.pack(
                        main, sub, kv.create_revision, kv.mod_revision, kv.version, kv.lease, 1
                    )
                )
                parts.append(_blob(kv.value))
    for rec in leases:
        keys = sorted(rec.keys)
        parts.append(struct.pack(">qqI", rec.id, rec.ttl, len(keys)))
        parts.extend(_blob(k) for k in keys)
    body = b"".join(parts)
    return body + hashlib.sha256(body).digest()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"snapshot truncated at offset {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, st: struct.Struct) -> tuple[Any, ...]:
        return st.unpack(self.take(st.size))

    def blob(self) -> bytes:
        (n,) = struct.unpack(">I", self.take(4))
        return self.take(n)


def decode_stream(data: bytes) -> KVStore:
    """Decode what Maintenance.Snapshot streamed (the image padded to 512 bytes + SHA-256)."""
    if len(data) < 32 or hashlib.sha256(data[:-32]).digest() != data[-32:]:
        raise ValueError(f"snapshot stream checksum mismatch at offset {max(0, len(data) - 32)}")
    body = data[:-32]
    return decode(_unpad(body))


def _unpad(body: bytes) -> bytes:
    # the image ends with its own SHA-256: find the longest prefix whose tail checks out
    end = len(body.rstrip(b"\0"))
    for cut in range(end, min(len(body), end + 32) + 1):
        if cut >= 32 and hashlib.sha256(body[: cut - 32]).digest() == body[cut - 32 : cut]:
            return body[:cut]
    raise ValueError("snapshot stream does not hold a store image")


def decode(data: bytes) -> KVStore:
    if len(data) < 32 + _HDR.size:
        raise ValueError("snapshot too short")
    body, digest = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError(f"snapshot checksum mismatch at offset {len(body)}")
    r = _Reader(body)
    magic, version, revision, compact, nkeys, nleases = r.unpack(_HDR)
    if magic != MAGIC or version != VERSION:
        raise ValueError("not a store snapshot (bad magic or version at offset 0)")
    history = []
    for _ in range(nkeys):
        key = r.blob()
        (n,) = struct.unpack(">I", r.take(4))
        hist: list[tuple[int, int, KeyValue | None]] = []
        for _ in range(n):
            main, sub, create, mod, ver, lease, live = r.unpack(_REV)
            if live:
                kv = KeyValue(key, create, mod, ver, r.blob(), lease)
                hist.append((main, sub, kv))
            else:
                hist.append((main, sub, None))
        history.append((key, hist))
    leases = []
    for _ in range(nleases):
        lid, ttl, nk = struct.unpack(">qqI", r.take(20))
        leases.append(LeaseRecord(id=lid, ttl=ttl, keys={r.blob() for _ in range(nk)}))
    store = KVStore()
    store.load(revision, compact, history, leases)
    return store
