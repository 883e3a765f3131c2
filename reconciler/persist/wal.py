"""The write-ahead log: checksummed records in segment files, one fdatasync per batch.

Record: ``u32 length | u32 crc32(body) | body`` where body is an entry, a hard state or a
snapshot mark (``codec``; after a mark the log continues at the mark's index + 1).
Segments are ``<seq:016x>-<first index:016x>.wal``; a new segment starts with the current
hard state, so older segments can be deleted once a snapshot covers their entries
(``release_to``).

Recovery replays every segment in order (a later entry at index i replaces entries from
i on). The tail of the last segment may be torn by a crash mid-write: an incomplete
record, or a bad record followed only by zeros, is cut off (``truncated_at``). A bad
record anywhere else is corruption: ``StorageCorrupt`` names the file and offset.
A full disk (ENOSPC) fails ``save`` with ``NoSpace`` after cutting the segment back to
its previous length, so the log stays valid.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.base.errors import StorageCorrupt
from reconciler.persist.codec import (
    SnapshotMark,
    decode_record,
    encode_entry,
    encode_hard_state,
    encode_snapshot_mark,
)
from reconciler.persist.fsutil import ensure_dir, fsync_dir, is_no_space, no_space, write_all
from reconciler.raft.types import Entry, HardState

_HEAD = struct.Struct(">II")
_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")
MAX_RECORD = 64 << 20
DEFAULT_SEGMENT_BYTES = 64 << 20


@dataclass
class WalState:
    hard_state: HardState = field(default_factory=HardState)
    entries: list[Entry] = field(default_factory=list)
    snapshot_mark: SnapshotMark | None = None  # the newest snapshot recorded in the log
    truncated_at: tuple[str, int] | None = None  # (file, offset) of a torn tail cut off


def frame(body: bytes) -> bytes:
    return _HEAD.pack(len(body), zlib.crc32(body)) + body


def _segments(d: Path) -> list[tuple[int, int, Path]]:
    out = []
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16), p))
    return sorted(out)


def _replay_entry(entries: list[Entry], e: Entry, path: Path, off: int) -> None:
    if entries and e.index <= entries[-1].index:
        first = entries[0].index
        del entries[max(0, e.index - first) :]
    if entries and e.index != entries[-1].index + 1:
        raise StorageCorrupt(str(path), off, f"entry {e.index} follows {entries[-1].index}")
    entries.append(e)


def _read_segment(path: Path, last: bool, state: WalState) -> int | None:
    """Replay one segment; returns the offset to truncate at (torn tail), or None."""
    data = path.read_bytes()
    off = 0
    size = len(data)
    while off < size:
        if size - off < _HEAD.size:
            return _torn(path, off, last, "incomplete record header")
        length, crc = _HEAD.unpack_from(data, off)
        end = off + _HEAD.size + length
        if length == 0:
            if not any(data[off:]):
                return _torn(path, off, last, "zero-filled tail")
            raise StorageCorrupt(str(path), off, "zero-length record before more data")
        if length > MAX_RECORD or end > size:
            return _torn(path, off, last, "record runs past the end of the file")
        body = data[off + _HEAD.size : end]
        if zlib.crc32(body) != crc:
            if end == size or not any(data[end:]):
                return _torn(path, off, last, "checksum mismatch in the last record")
            raise StorageCorrupt(str(path), off, "checksum mismatch")
        try:
            rec = decode_record(body)
        except ValueError as e:
            raise StorageCorrupt(str(path), off, str(e)) from None
        if isinstance(rec, HardState):
            state.hard_state = rec
        elif isinstance(rec, SnapshotMark):
            state.snapshot_mark = rec
            kept = [e for e in state.entries if e.index > rec.index]
            state.entries = kept if kept and kept[0].index == rec.index + 1 else []
        else:
            _replay_entry(state.entries, rec, path, off)
        off = end
    return None


def _torn(path: Path, off: int, last: bool, why: str) -> int:
    if not last:
        raise StorageCorrupt(str(path), off, f"{why} (not the last segment)")
    return off


class WAL:
    def __init__(self, directory: Path, segment_bytes: int, seq: int, path: Path) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self._seq = seq
        self._path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._hard_state = HardState()
        self._last_index = 0
        self.syncs = 0

    @classmethod
    def open(
        cls, directory: Path, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> tuple[WAL, WalState]:
        """Open (creating if needed) and replay the log in ``directory``."""
        ensure_dir(directory)
        segs = _segments(directory)
        state = WalState()
        if not segs:
            path = directory / f"{0:016x}-{1:016x}.wal"
            wal = cls(directory, segment_bytes, 0, path)
            fsync_dir(directory)
            return wal, state
        for n, (_, _, path) in enumerate(segs):
            cut = _read_segment(path, n == len(segs) - 1, state)
            if cut is not None:
                with open(path, "r+b") as f:
                    f.truncate(cut)
                    f.flush()
                    os.fsync(f.fileno())
                state.truncated_at = (str(path), cut)
        seq, _, path = segs[-1]
        wal = cls(directory, segment_bytes, seq, path)
        wal._hard_state = state.hard_state
        wal._last_index = state.entries[-1].index if state.entries else 0
        return wal, state

    def save(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        snapshot: SnapshotMark | None = None,
    ) -> None:
        """Append a snapshot mark, ``entries``, ``hard_state``; fdatasync once (group commit)."""
        if not entries and hard_state is None and snapshot is None:
            return
        buf = b""
        if snapshot is not None:
            buf += frame(encode_snapshot_mark(snapshot.index, snapshot.term))
        buf += b"".join(frame(encode_entry(e)) for e in entries)
        if hard_state is not None:
            buf += frame(encode_hard_state(hard_state))
        self._write_synced(buf, "appending to the write-ahead log")
        if hard_state is not None:
            self._hard_state = hard_state
        if entries:
            self._last_index = entries[-1].index
        if self._size >= self.segment_bytes:
            self._rotate()

    def _write_synced(self, buf: bytes, what: str) -> None:
        before = self._size
        try:
            write_all(self._fd, buf)
            os.fdatasync(self._fd)
        except OSError as e:
            self._cut_back(before)
            if is_no_space(e):
                raise no_space(self._path, what) from None
            raise
        self._size = before + len(buf)
        self.syncs += 1

    def _cut_back(self, size: int) -> None:
        """Undo a failed write so the log ends at a record boundary again."""
        os.ftruncate(self._fd, size)
        os.fsync(self._fd)

    def _rotate(self) -> None:
        self._seq += 1
        path = self.dir / f"{self._seq:016x}-{self._last_index + 1:016x}.wal"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(self._fd)
        self._fd, self._path, self._size = fd, path, 0
        fsync_dir(self.dir)
        self._write_synced(frame(encode_hard_state(self._hard_state)), "starting a segment")

    def release_to(self, index: int) -> list[Path]:
        """Delete segments holding only entries at or below ``index`` (a snapshot has them)."""
        segs = _segments(self.dir)
        removed = []
        for n in range(len(segs) - 1):
            next_first = segs[n + 1][1]
            if next_first - 1 <= index:
                segs[n][2].unlink()
                removed.append(segs[n][2])
            else:
                break
        if removed:
            fsync_dir(self.dir)
        return removed

    def segment_paths(self) -> list[Path]:
        return [p for _, _, p in _segments(self.dir)]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
