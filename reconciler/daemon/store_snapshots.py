"""Snapshots of a builtin member: taking one every ``snapshot_count`` applied entries,
recording it (WAL mark, old segments released, log compacted), and the snapshot data
itself (the member table, then the key/value image) both ways.

A mixin of ``RaftEngine`` (``store_raft``): the apply task calls ``_take_snapshot``
between two entries, the ready loop ``_record_snapshot`` once the file is written, and a
follower ``restore_state_async`` for a snapshot the leader sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time

from reconciler.daemon.store_member import StoreMember
from reconciler.daemon.store_peers import PeerInfo
from reconciler.kv import snapshot as kv_snapshot
from reconciler.kv.store import KVStore
from reconciler.persist.durable import RaftDisk
from reconciler.raft.node import RaftNode
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import Snapshot, SnapshotMeta

log = logging.getLogger(__name__)

APPLY_SLICE_S = 0.005  # the apply task gives the loop back after this much work


class SnapshotMixin:
    """Needs the engine's node, storage, disk, member, peer table and snapshot state."""

    node: RaftNode
    storage: MemoryStorage
    disk: RaftDisk | None
    member: StoreMember
    peers: dict[int, PeerInfo]
    keep_after_snapshot: int
    _applied: int
    _since_snapshot: int
    _snapshotting: bool
    _snapshot_ready: Snapshot | None
    _snapshot_task: asyncio.Task[None] | None
    _draining: bool
    _wake: asyncio.Event

    def set_peer(self, info: PeerInfo) -> None:
        raise NotImplementedError

    async def _take_snapshot(self) -> None:
        """Every ``snapshot_count`` applied entries, start a snapshot in the background.

        Called by the apply task between two entries: the state is copied in slices (the
        apply task applies nothing meanwhile, so the copy is consistent, and the loop
        keeps heartbeating); a worker thread encodes it and writes the snapshot file; the
        ready loop then records it (WAL mark, old segments released, log compacted).
        While the ready loop waits for a membership change to be applied, the core's
        membership may lag the applied state: no snapshot then (the next entry retries).
        """
        if self._draining:
            return
        self._since_snapshot = 0
        self._snapshotting = True
        index = self._applied
        meta = SnapshotMeta(index, self.storage.term(index), self.node.conf_state())
        table = self.state_table()
        steps = kv_snapshot.image_steps(self.member.kv)
        began = time.monotonic()
        while True:
            try:
                next(steps)
            except StopIteration as done:
                img: kv_snapshot.Image = done.value
                break
            if time.monotonic() - began > APPLY_SLICE_S:
                await asyncio.sleep(0)
                began = time.monotonic()
        disk = self.disk

        def build() -> Snapshot:
            snap = Snapshot(meta, table + kv_snapshot.encode(img))
            if disk is not None:
                disk.snapshotter.save(snap)
            return snap

        async def run() -> None:
            try:
                snap = await asyncio.get_running_loop().run_in_executor(None, build)
                self._snapshot_ready = snap
                self._wake.set()
            except Exception:
                log.exception("snapshot at index %d failed; will try again later", index)
                self._snapshotting = False

        self._snapshot_task = asyncio.get_running_loop().create_task(run())

    async def _record_snapshot(self) -> None:
        snap, self._snapshot_ready = self._snapshot_ready, None
        self._snapshotting = False
        if snap is None or snap.meta.index <= self.storage.snapshot().meta.index:
            return  # none, or a snapshot from the leader overtook this one
        index = snap.meta.index
        self.storage.create_snapshot(index, snap.meta.conf_state, snap.data)
        disk = self.disk
        if disk is not None and disk.wal is not None:
            from reconciler.persist.codec import SnapshotMark

            wal = disk.wal

            def write() -> None:
                wal.save(None, (), SnapshotMark(index, snap.meta.term))
                wal.release_to(index)

            await asyncio.get_running_loop().run_in_executor(None, write)
        compact_to = index - self.keep_after_snapshot
        if compact_to > self.storage.first_index():
            self.storage.compact(compact_to)
        log.info("snapshot at index %d; log compacted", index)

    # --- snapshot data: the member table, then the key/value image ----------------------

    def state_table(self) -> bytes:
        table = json.dumps(
            {str(i): json.loads(p.encode()) for i, p in sorted(self.peers.items())},
            sort_keys=True,
        ).encode()
        return struct.pack(">I", len(table)) + table

    def state_bytes(self) -> bytes:
        return self.state_table() + self.member.snapshot_bytes()

    async def restore_state_async(self, data: bytes) -> None:
        """:meth:`restore_state`, decoding the key/value image in a worker thread."""
        if len(data) < 4:
            self.restore_state(data)
            return
        (n,) = struct.unpack_from(">I", data)
        img = data[4 + n :]
        loop = asyncio.get_running_loop()
        kv = await loop.run_in_executor(None, kv_snapshot.decode, img) if img else None
        self.restore_state(data, kv)

    def restore_state(self, data: bytes, kv: KVStore | None = None) -> None:
        if len(data) < 4:
            self.member.restore(b"")
            return
        (n,) = struct.unpack_from(">I", data)
        table = json.loads(data[4 : 4 + n])
        for key, value in sorted(table.items()):
            info = PeerInfo.decode(int(key), json.dumps(value).encode())
            if int(key) not in self.peers or not self.peers[int(key)].name:
                self.set_peer(info)
        self.member.restore(data[4 + n :], kv)
