"""Restore a builtin store from a snapshot file into a new local cluster directory.

``Maintenance.Snapshot`` (``etcdctl snapshot save``) streams our key/value image padded
to 512-byte pages plus a SHA-256, the shape etcdctl checks when saving. etcdctl's
``snapshot restore`` and ``snapshot status`` open the file as etcd's bbolt database and
cannot read it; this is their counterpart for the builtin store. As ``etcdctl snapshot
restore`` does, it starts a *new* cluster (new token, new member ids, new cluster id)
holding the snapshot's keys, revisions, compaction point and leases: every member's data
directory gets a Raft snapshot of that state at index N (one entry per founding member),
term 1, with the founders as voters. ``hactl store up`` on the directory then starts it.
"""

from __future__ import annotations

import json
import os
import struct
import time
from dataclasses import asdict
from pathlib import Path

from reconciler.base.errors import ConfigError
from reconciler.daemon.store_cluster import LAYOUT, Layout
from reconciler.daemon.store_member import member_id_of
from reconciler.daemon.store_peers import PeerInfo
from reconciler.kv import snapshot as kv_snapshot
from reconciler.kv.store import KVStore
from reconciler.persist.codec import SnapshotMark
from reconciler.persist.durable import RaftDisk
from reconciler.raft.types import ConfState, HardState, Snapshot, SnapshotMeta

BBOLT_MAGIC = 0xED0CDAED  # etcd's bbolt meta page magic, after the 16-byte page header


def read_snapshot(path: Path) -> KVStore:
    """Decode a file written by ``etcdctl snapshot save`` against a builtin member."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    if len(data) >= 20 and struct.unpack_from("<I", data, 16)[0] == BBOLT_MAGIC:
        raise ConfigError(
            f"{path}: an etcd (bbolt) snapshot, not a builtin store's; restore it with "
            "`etcdctl snapshot restore` and run real etcd"
        )
    try:
        return kv_snapshot.decode_stream(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a builtin store snapshot ({exc})") from None


def restore(snapshot: Path, directory: Path, members: int, base_port: int) -> Layout:
    """Write a new ``members``-member builtin store in ``directory`` holding ``snapshot``."""
    kv = read_snapshot(snapshot)
    if members < 1:
        raise ConfigError("--members: at least 1")
    if (directory / LAYOUT).exists() or any(directory.glob("m*/raft")):
        raise ConfigError(f"{directory} already holds a store; restore into a new directory")
    token = f"hactl-restored-{os.getpid()}-{int(time.time())}"
    layout = Layout("builtin", members, base_port, token)
    s = layout.scheme()
    peers = [
        PeerInfo(
            member_id_of(name, token),
            name,
            (f"{s}://127.0.0.1:{layout.peer_port(i)}",),
            (f"{s}://127.0.0.1:{layout.client_port(i)}",),
        )
        for i, name in enumerate(layout.names())
    ]
    table = json.dumps(
        {str(p.id): json.loads(p.encode()) for p in sorted(peers, key=lambda p: p.id)},
        sort_keys=True,
    ).encode()
    data = struct.pack(">I", len(table)) + table + kv_snapshot.encode(kv)
    conf = ConfState(voters=tuple(sorted(p.id for p in peers)))
    snap = Snapshot(SnapshotMeta(index=members, term=1, conf_state=conf), data)
    directory.mkdir(parents=True, exist_ok=True)
    for name in layout.names():
        disk = RaftDisk(directory / name / "raft")
        disk.open()
        assert disk.wal is not None
        disk.snapshotter.save(snap)
        disk.wal.save(HardState(1, 0, members), (), SnapshotMark(members, 1))
        disk.close()
    (directory / LAYOUT).write_text(json.dumps(asdict(layout), indent=1) + "\n")
    return layout
