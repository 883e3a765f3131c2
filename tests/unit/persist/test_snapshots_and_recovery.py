"""Snapshot files (atomic, checksummed) and a Raft member's recovery through ``RaftDisk``."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reconciler.base.errors import StorageCorrupt
from reconciler.persist.durable import RaftDisk
from reconciler.persist.snapshotter import Snapshotter
from reconciler.raft.node import RaftNode
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import (
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Ready,
    Snapshot,
    SnapshotMeta,
    SoftState,
    StateType,
)

CS = ConfState(voters=(1, 2, 3), learners=(4,), witnesses=(3,))


def snap(index: int, term: int = 1, data: bytes = b"state") -> Snapshot:
    return Snapshot(meta=SnapshotMeta(index=index, term=term, conf_state=CS), data=data)


def test_snapshot_round_trip_keeps_membership_and_data(tmp_path: Path) -> None:
    s = Snapshotter(tmp_path)
    s.save(snap(10, 2, b"x" * 1000))
    got = s.load_newest()
    assert got == snap(10, 2, b"x" * 1000)


def test_snapshot_save_is_atomic_and_old_ones_are_pruned(tmp_path: Path) -> None:
    s = Snapshotter(tmp_path, keep=2)
    for i in (5, 10, 15):
        s.save(snap(i))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(n.endswith(".snap") for n in names)
    (tmp_path / "0000000000000001-0000000000000063.snap.tmp").write_bytes(b"half a snapshot")
    s2 = Snapshotter(tmp_path)  # a crash mid-save left a temp file: never renamed, removed
    assert s2.load_newest() == snap(15)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_snapshot_failing_its_checksum_stops_recovery_naming_the_file(
    tmp_path: Path,
) -> None:
    s = Snapshotter(tmp_path)
    path = s.save(snap(7, data=b"important state"))
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(StorageCorrupt) as exc:
        s.load_newest()
    assert exc.value.file == str(path)
    assert "checksum" in str(exc.value)


def drive(node: RaftNode, disk: RaftDisk, storage: MemoryStorage, applied: list[bytes]) -> None:
    while node.has_ready():
        rd = node.ready()
        disk.persist(rd, storage)
        applied.extend(e.data for e in rd.committed_entries if e.data and e.type == 0)
        node.advance(rd)


def test_a_member_restarts_from_its_disk_with_term_vote_commit_and_log(tmp_path: Path) -> None:
    disk = RaftDisk(tmp_path)
    storage = disk.open()
    assert disk.fresh
    node = RaftNode(Config(id=1), storage, random.Random(1))
    node.bootstrap([ConfChange(ConfChangeType.ADD_VOTER, 1)])
    applied: list[bytes] = []
    drive(node, disk, storage, applied)
    node.campaign()
    drive(node, disk, storage, applied)
    for i in range(20):
        node.propose(b"p%d" % i)
        drive(node, disk, storage, applied)
    term, commit = node.term, node.log.committed
    disk.close()

    disk2 = RaftDisk(tmp_path)
    storage2 = disk2.open()
    assert not disk2.fresh
    node2 = RaftNode(Config(id=1), storage2, random.Random(2))
    assert (node2.term, node2.vote, node2.log.committed) == (term, 1, commit)
    replayed: list[bytes] = []
    drive(node2, disk2, storage2, replayed)
    assert replayed == applied  # re-applied from the log after restart
    assert node2.conf_state().voters == (1,)


def test_compaction_then_restart_starts_from_the_snapshot(tmp_path: Path) -> None:
    disk = RaftDisk(tmp_path, segment_bytes=300)
    storage = disk.open()
    node = RaftNode(Config(id=1), storage, random.Random(1))
    node.bootstrap([ConfChange(ConfChangeType.ADD_VOTER, 1)])
    applied: list[bytes] = []
    drive(node, disk, storage, applied)
    node.campaign()
    for i in range(30):
        node.propose(b"p%d" % i)
        drive(node, disk, storage, applied)
    idx = node.log.applied
    disk.compact(storage, idx, node.conf_state(), b"|".join(applied))
    node.propose(b"after")
    drive(node, disk, storage, applied)
    disk.close()
    assert len(disk.snapshotter._files()) == 1

    disk2 = RaftDisk(tmp_path, segment_bytes=300)
    storage2 = disk2.open()
    assert storage2.snapshot().meta.index == idx
    assert storage2.snapshot().data == b"|".join(applied[:-1])
    node2 = RaftNode(Config(id=1), storage2, random.Random(2))
    replayed: list[bytes] = []
    drive(node2, disk2, storage2, replayed)
    assert replayed == [b"after"]


def test_an_installed_snapshot_replaces_a_disagreeing_log_across_restart(tmp_path: Path) -> None:
    disk = RaftDisk(tmp_path)
    storage = disk.open()
    old = [Entry(term=1, index=i, data=b"old") for i in range(1, 6)]
    ss = SoftState(lead=0, role=StateType.FOLLOWER)
    disk.persist(Ready(soft_state=ss, hard_state=HardState(1, 0, 2), entries=tuple(old)), storage)
    # the leader ships a snapshot at 20 (term 3), then entries 21, 22
    s = snap(20, 3)
    disk.persist(Ready(soft_state=ss, hard_state=HardState(3, 0, 20), snapshot=s), storage)
    new = (Entry(3, 21, EntryType.NORMAL, b"a"), Entry(3, 22, EntryType.NORMAL, b"b"))
    disk.persist(Ready(soft_state=ss, hard_state=HardState(3, 0, 21), entries=new), storage)
    disk.close()
    storage2 = RaftDisk(tmp_path).open()
    assert storage2.first_index() == 21 and storage2.last_index() == 22
    assert storage2.hard_state() == HardState(3, 0, 21)
    assert storage2.snapshot() == s
