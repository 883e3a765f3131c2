"""``RaftDisk``: the durable half of a Raft member (WAL + snapshots) behind two calls.

disk = RaftDisk(Path(data_dir))
storage = disk.open()              # recover into a MemoryStorage (hard state set)
node = RaftNode(cfg, storage, rng)
if disk.fresh: node.bootstrap(peers)   # founding member, first start only
...
rd = node.ready()
disk.persist(rd, storage)          # snapshot file, then WAL (one fdatasync), then mirror
send(rd.messages); apply(...); node.advance(rd)
...
disk.compact(storage, applied_index, node.conf_state(), state_machine_bytes)
"""

from __future__ import annotations

from pathlib import Path

from reconciler.base.errors import StorageCorrupt
from reconciler.persist.codec import SnapshotMark
from reconciler.persist.snapshotter import Snapshotter
from reconciler.persist.wal import DEFAULT_SEGMENT_BYTES, WAL, WalState
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import ConfState, Entry, HardState, Ready, Snapshot


def _after_snapshot(entries: list[Entry], snap: Snapshot | None) -> list[Entry]:
    """The WAL's entries that continue ``snap`` (all of them when there is no snapshot)."""
    if snap is None:
        return entries
    idx, term = snap.meta.index, snap.meta.term
    at = [e for e in entries if e.index == idx]
    if at and at[0].term != term:
        return []  # the snapshot replaced a log that disagreed with it
    kept = [e for e in entries if e.index > idx]
    if kept and kept[0].index != idx + 1:
        return []
    return kept


class RaftDisk:
    def __init__(self, directory: Path, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.snapshotter = Snapshotter(directory / "snap")
        self.wal: WAL | None = None
        self.recovered: WalState | None = None
        self.fresh = False

    def open(self) -> MemoryStorage:
        snap = self.snapshotter.load_newest()
        self.wal, state = WAL.open(self.dir / "wal", self.segment_bytes)
        self.recovered = state
        storage = MemoryStorage()
        if snap is not None:
            storage.apply_snapshot(snap)
        storage.append(_after_snapshot(state.entries, snap))
        hs = state.hard_state
        commit = max(hs.commit, storage.first_index() - 1)
        if commit > storage.last_index():
            where = self.wal.segment_paths()[-1]
            why = f"hard state commits {commit} but the log ends at {storage.last_index()}"
            raise StorageCorrupt(str(where), 0, why)
        storage.set_hard_state(HardState(hs.term, hs.vote, commit))
        self.fresh = snap is None and hs.is_empty() and not state.entries
        return storage

    def _wal(self) -> WAL:
        if self.wal is None:
            raise RuntimeError("RaftDisk.open() first")
        return self.wal

    def persist(self, rd: Ready, storage: MemoryStorage) -> None:
        """Make ``rd``'s state durable, then mirror it into ``storage``. Before sending."""
        mark = None
        if rd.snapshot is not None:
            self.snapshotter.save(rd.snapshot)
            mark = SnapshotMark(rd.snapshot.meta.index, rd.snapshot.meta.term)
        self._wal().save(rd.hard_state, rd.entries, mark)
        if rd.snapshot is not None:
            storage.apply_snapshot(rd.snapshot)
        storage.append(rd.entries)
        if rd.hard_state is not None:
            storage.set_hard_state(rd.hard_state)

    def compact(
        self, storage: MemoryStorage, index: int, conf_state: ConfState, data: bytes, keep: int = 0
    ) -> Snapshot:
        """Snapshot the application's state at ``index`` and drop the log before it."""
        snap = storage.create_snapshot(index, conf_state, data)
        self.snapshotter.save(snap)
        self._wal().save(None, (), SnapshotMark(snap.meta.index, snap.meta.term))
        compact_to = max(storage.first_index(), index - keep)
        if compact_to > storage.first_index() - 1:
            storage.compact(compact_to)
        self._wal().release_to(index)
        return snap

    def close(self) -> None:
        if self.wal is not None:
            self.wal.close()
            self.wal = None
