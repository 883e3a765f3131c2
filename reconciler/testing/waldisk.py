"""A simulated member's disk backed by the real write-ahead log and snapshot files.

Same interface as ``SimDisk``, but every write goes through ``reconciler.persist`` into
a directory (tmpfs in tests), and a crash in the middle of a write cuts the last WAL
segment at a random byte between its length before and after the write: recovery then
runs the real torn-tail code.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from reconciler.persist.codec import SnapshotMark
from reconciler.persist.durable import RaftDisk
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import Ready, Snapshot


class WalDisk:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._disk: RaftDisk | None = None
        self.truncations = 0

    def _open(self) -> RaftDisk:
        if self._disk is None:
            self._disk = RaftDisk(self.dir, segment_bytes=2048)
            self._disk.open()
        return self._disk

    def persist(self, rd: Ready, torn: random.Random | None = None) -> bool:
        disk = self._open()
        wal = disk.wal
        assert wal is not None
        seg = wal.segment_paths()[-1]
        before = seg.stat().st_size
        mark = None
        if rd.snapshot is not None:
            disk.snapshotter.save(rd.snapshot)
            mark = SnapshotMark(rd.snapshot.meta.index, rd.snapshot.meta.term)
        wal.save(rd.hard_state, rd.entries, mark)
        if torn is None:
            return True
        last = wal.segment_paths()[-1]
        after = last.stat().st_size
        start = before if last == seg else 0
        cut = torn.randint(start, after)
        self.crash()
        os.truncate(last, cut)  # what reached the platter of a write that never completed
        self.truncations += 1
        return cut == after

    def save_snapshot(self, snap: Snapshot) -> None:
        disk = self._open()
        assert disk.wal is not None
        disk.snapshotter.save(snap)
        disk.wal.save(None, (), SnapshotMark(snap.meta.index, snap.meta.term))
        disk.wal.release_to(snap.meta.index)

    def crash(self) -> None:
        if self._disk is not None:
            self._disk.close()
            self._disk = None

    def recover(self) -> MemoryStorage:
        self.crash()
        disk = RaftDisk(self.dir, segment_bytes=2048)
        storage = disk.open()
        self._disk = disk
        return storage
