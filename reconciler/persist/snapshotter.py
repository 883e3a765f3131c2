"""Snapshot files, written atomically: temp file, fsync, rename, fsync of the directory.

File ``<term:016x>-<index:016x>.snap``: ``b"HASNAP01" | u32 crc32(body) | u64 len(body) |
body`` with body = encoded ``SnapshotMeta`` + the application's data. Loading checks the
checksum; a mismatch raises ``StorageCorrupt`` naming the file and offset.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

from reconciler.base.errors import StorageCorrupt
from reconciler.persist.codec import decode_meta, encode_meta
from reconciler.persist.fsutil import ensure_dir, fsync_dir, is_no_space, no_space, write_all
from reconciler.raft.types import Snapshot

MAGIC = b"HASNAP01"
_HEAD = struct.Struct(">IQ")
_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.snap$")


class Snapshotter:
    def __init__(self, directory: Path, keep: int = 2) -> None:
        self.dir = directory
        self.keep = keep
        ensure_dir(directory)
        for p in directory.glob("*.snap.tmp"):
            p.unlink()  # a crash mid-save leaves these; they were never renamed into place

    def _files(self) -> list[tuple[int, int, Path]]:
        out = []
        for p in self.dir.iterdir():
            m = _NAME.match(p.name)
            if m:
                out.append((int(m.group(2), 16), int(m.group(1), 16), p))
        return sorted(out)

    def save(self, snap: Snapshot) -> Path:
        meta = snap.meta
        body = encode_meta(meta) + snap.data
        blob = MAGIC + _HEAD.pack(zlib.crc32(body), len(body)) + body
        final = self.dir / f"{meta.term:016x}-{meta.index:016x}.snap"
        tmp = final.with_name(final.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, blob)
            os.fsync(fd)
        except OSError as e:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            if is_no_space(e):
                raise no_space(final, "writing a snapshot") from None
            raise
        os.close(fd)
        os.replace(tmp, final)
        fsync_dir(self.dir)
        self._prune()
        return final

    def _prune(self) -> None:
        files = self._files()
        for _, _, p in files[: max(0, len(files) - self.keep)]:
            p.unlink()
        fsync_dir(self.dir)

    def load_newest(self) -> Snapshot | None:
        """The newest snapshot; ``StorageCorrupt`` if it fails its checksum."""
        files = self._files()
        if not files:
            return None
        return self.load(files[-1][2])

    @staticmethod
    def load(path: Path) -> Snapshot:
        raw = path.read_bytes()
        if raw[: len(MAGIC)] != MAGIC:
            raise StorageCorrupt(str(path), 0, "not a snapshot file (bad magic)")
        if len(raw) < len(MAGIC) + _HEAD.size:
            raise StorageCorrupt(str(path), len(MAGIC), "truncated header")
        crc, length = _HEAD.unpack_from(raw, len(MAGIC))
        start = len(MAGIC) + _HEAD.size
        body = raw[start:]
        if len(body) != length:
            raise StorageCorrupt(
                str(path), start, f"body is {len(body)} bytes, header says {length}"
            )
        if zlib.crc32(body) != crc:
            raise StorageCorrupt(str(path), start, "snapshot checksum mismatch")
        try:
            meta, off = decode_meta(body)
        except (ValueError, struct.error) as e:
            raise StorageCorrupt(str(path), start, f"bad snapshot metadata: {e}") from None
        return Snapshot(meta=meta, data=body[off:])
