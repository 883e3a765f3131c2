"""Binary encodings of the core's values for the write-ahead log and snapshot files."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reconciler.raft.types import ConfState, Entry, EntryType, HardState, SnapshotMeta

REC_ENTRY = 1
REC_HARD_STATE = 2
REC_SNAPSHOT = 3  # a snapshot at (index, term) now holds the log up to index

_ENTRY = struct.Struct(">QQB")
_HARD = struct.Struct(">QQQ")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def encode_entry(e: Entry) -> bytes:
    return bytes([REC_ENTRY]) + _ENTRY.pack(e.index, e.term, int(e.type)) + e.data


def encode_hard_state(hs: HardState) -> bytes:
    return bytes([REC_HARD_STATE]) + _HARD.pack(hs.term, hs.vote, hs.commit)


@dataclass(frozen=True, slots=True)
class SnapshotMark:
    index: int
    term: int


_MARK = struct.Struct(">QQ")


def encode_snapshot_mark(index: int, term: int) -> bytes:
    return bytes([REC_SNAPSHOT]) + _MARK.pack(index, term)


def decode_record(body: bytes) -> Entry | HardState | SnapshotMark:
    """Decode one record body (its checksum already verified). Raises ValueError."""
    if not body:
        raise ValueError("empty record")
    kind = body[0]
    if kind == REC_ENTRY:
        if len(body) < 1 + _ENTRY.size:
            raise ValueError("short entry record")
        index, term, etype = _ENTRY.unpack_from(body, 1)
        return Entry(term=term, index=index, type=EntryType(etype), data=body[1 + _ENTRY.size :])
    if kind == REC_HARD_STATE:
        if len(body) != 1 + _HARD.size:
            raise ValueError("bad hard state record length")
        term, vote, commit = _HARD.unpack_from(body, 1)
        return HardState(term=term, vote=vote, commit=commit)
    if kind == REC_SNAPSHOT:
        if len(body) != 1 + _MARK.size:
            raise ValueError("bad snapshot mark length")
        index, term = _MARK.unpack_from(body, 1)
        return SnapshotMark(index=index, term=term)
    raise ValueError(f"unknown record type {kind}")


def _ids(ids: tuple[int, ...]) -> bytes:
    return _U32.pack(len(ids)) + b"".join(_U64.pack(i) for i in ids)


def encode_meta(meta: SnapshotMeta) -> bytes:
    cs = meta.conf_state
    return (
        _U64.pack(meta.index)
        + _U64.pack(meta.term)
        + _ids(cs.voters)
        + _ids(cs.learners)
        + _ids(cs.witnesses)
    )


def decode_meta(buf: bytes) -> tuple[SnapshotMeta, int]:
    """Decode a snapshot's metadata; returns it and the offset where the data begins."""
    index, term = struct.unpack_from(">QQ", buf, 0)
    off = 16
    lists: list[tuple[int, ...]] = []
    for _ in range(3):
        (n,) = _U32.unpack_from(buf, off)
        off += 4
        if n > (len(buf) - off) // 8:
            raise ValueError("membership list longer than the file")
        lists.append(struct.unpack_from(f">{n}Q", buf, off))
        off += 8 * n
    cs = ConfState(voters=lists[0], learners=lists[1], witnesses=lists[2])
    return SnapshotMeta(index=index, term=term, conf_state=cs), off
