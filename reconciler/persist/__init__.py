"""L4 adapter: durability of the Raft core — write-ahead log, snapshot files, fsync.

``RaftDisk`` (durable.py) is what a member uses; ``WAL`` and ``Snapshotter`` are its parts.
Errors: ``StorageCorrupt`` (file + offset) for corruption, ``NoSpace`` for a full disk.
"""

from reconciler.persist.durable import RaftDisk
from reconciler.persist.snapshotter import Snapshotter
from reconciler.persist.wal import WAL, WalState

__all__ = ["WAL", "RaftDisk", "Snapshotter", "WalState"]
