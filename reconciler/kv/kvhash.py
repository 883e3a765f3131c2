"""HashKV: a checksum of the key/value history up to a revision (etcd's Maintenance.HashKV).

As etcd's ``HashByRev``: every stored revision of every key at or below ``revision``
(what compaction kept plus everything newer) goes into one CRC-32, in key order and
revision order. Members that applied the same log hold the same history (compaction is
a replicated command, snapshots carry the history), so the hash is equal on every member
of a cluster for the same revision, and stays the same when later revisions are written.
The value is not etcd's (etcd hashes its bbolt records with CRC-32C); only members of one
builtin cluster are comparable.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Generator

from reconciler.kv import errors
from reconciler.kv.store import KVStore

_REV = struct.Struct(">qIqqqqB")


def hash_steps(store: KVStore, revision: int) -> Generator[None, None, int]:
    """The hash at ``revision`` (0: the current one); yields between pieces of keys.

    The caller must start again if a compaction or a snapshot replaced state meanwhile
    (compare ``store.compact_revision`` and the store object before and after).
    """
    if 0 < revision <= store.compact_revision:  # etcd: at the compact revision too
        raise errors.CompactedRevision()
    rev = revision if revision > 0 else store.revision
    if rev > store.revision:
        raise errors.FutureRevision()
    crc = 0
    for piece in store.history_steps():
        for key, hist in piece:
            head = True
            for main, sub, kv in hist:
                if main > rev:
                    break
                if head:
                    crc = zlib.crc32(struct.pack(">I", len(key)) + key, crc)
                    head = False
                if kv is None:
                    crc = zlib.crc32(_REV.pack(main, sub, 0, 0, 0, 0, 0), crc)
                else:
                    rec = _REV.pack(
                        main, sub, kv.create_revision, kv.mod_revision, kv.version, kv.lease, 1
                    )
                    crc = zlib.crc32(rec + struct.pack(">I", len(kv.value)) + kv.value, crc)
        yield
    return crc & 0xFFFFFFFF


def hash_kv(store: KVStore, revision: int) -> int:
    steps = hash_steps(store, revision)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            value: int = done.value
            return value
