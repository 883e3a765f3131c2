"""The storage protocol the core reads its stable log from, and an in-memory implementation.

As in etcd's raft: the application appends what a ``Ready`` asked it to persist to its
``Storage`` (after making it durable), and the core reads stable entries back from it.
``MemoryStorage`` keeps the stable log in memory; a durable shell rebuilds it at start from
the write-ahead log and the newest snapshot (``reconciler.persist``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from reconciler.raft.errors import LogCompacted, LogUnavailable, SnapshotOutOfDate
from reconciler.raft.types import ConfState, Entry, HardState, Snapshot, SnapshotMeta


class Storage(Protocol):
    def initial_state(self) -> tuple[HardState, ConfState]: ...

    def entries(self, lo: int, hi: int, max_size: int) -> list[Entry]:
        """Entries in [lo, hi), at least one if any, at most ``max_size`` bytes after the first.

        Raises ``LogCompacted`` if ``lo`` is at or below the snapshot index.
        """
        ...

    def term(self, index: int) -> int:
        """Term of the entry at ``index`` (``first_index()-1`` gives the snapshot's term)."""
        ...

    def first_index(self) -> int: ...

    def last_index(self) -> int: ...

    def snapshot(self) -> Snapshot: ...


def limit_size(entries: list[Entry], max_size: int) -> list[Entry]:
    """Keep a prefix of at most ``max_size`` bytes, but always at least one entry."""
    if not entries:
        return entries
    size = entries[0].size()
    for n in range(1, len(entries)):
        size += entries[n].size()
        if size > max_size:
            return entries[:n]
    return entries


class MemoryStorage:
    """``Storage`` in memory. ``_ents[0]`` is a dummy entry at the snapshot's index and term."""

    def __init__(self) -> None:
        self._hard_state = HardState()
        self._snapshot = Snapshot()
        self._ents: list[Entry] = [Entry(term=0, index=0)]

    # -- the Storage protocol --------------------------------------------------------------
    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.meta.conf_state

    def entries(self, lo: int, hi: int, max_size: int) -> list[Entry]:
        offset = self._ents[0].index
        if lo <= offset:
            raise LogCompacted(f"index {lo} is compacted (first index {offset + 1})")
        if hi > self.last_index() + 1:
            raise LogUnavailable(f"entries up to {hi - 1} asked, last index {self.last_index()}")
        return limit_size(self._ents[lo - offset : hi - offset], max_size)

    def term(self, index: int) -> int:
        offset = self._ents[0].index
        if index < offset:
            raise LogCompacted(f"index {index} is compacted (first index {offset + 1})")
        if index - offset >= len(self._ents):
            raise LogUnavailable(f"index {index} beyond last index {self.last_index()}")
        return self._ents[index - offset].term

    def first_index(self) -> int:
        return self._ents[0].index + 1

    def last_index(self) -> int:
        return self._ents[0].index + len(self._ents) - 1

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # -- what the application calls --------------------------------------------------------
    def hard_state(self) -> HardState:
        return self._hard_state

    def set_hard_state(self, hs: HardState) -> None:
        self._hard_state = hs

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Replace everything with ``snap`` (a snapshot received from the leader)."""
        if snap.meta.index <= self._snapshot.meta.index and not self._snapshot.is_empty():
            raise SnapshotOutOfDate(
                f"snapshot at {snap.meta.index} is not newer than {self._snapshot.meta.index}"
            )
        self._snapshot = snap
        self._ents = [Entry(term=snap.meta.term, index=snap.meta.index)]

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        """Record the application's snapshot at ``index`` (its state machine applied up to it)."""
        if index <= self._snapshot.meta.index:
            raise SnapshotOutOfDate(f"snapshot at {index} is not newer than the current one")
        if index > self.last_index():
            raise LogUnavailable(f"snapshot index {index} beyond last index {self.last_index()}")
        meta = SnapshotMeta(index=index, term=self.term(index), conf_state=conf_state)
        self._snapshot = Snapshot(meta=meta, data=data)
        return self._snapshot

    def compact(self, compact_index: int) -> None:
        """Drop entries before ``compact_index`` (it becomes the dummy entry)."""
        offset = self._ents[0].index
        if compact_index <= offset:
            raise LogCompacted(f"already compacted up to {offset}")
        if compact_index > self.last_index():
            raise LogUnavailable(f"compact {compact_index} beyond last index {self.last_index()}")
        i = compact_index - offset
        head = self._ents[i]
        del self._ents[:i]  # in place: no copy of the log that is kept
        self._ents[0] = Entry(term=head.term, index=head.index)

    def append(self, entries: Sequence[Entry]) -> None:
        """Append stable entries; an entry at an existing index replaces it and all after it."""
        if not entries:
            return
        first = self.first_index()
        last = entries[-1].index
        if last < first:
            return  # all already compacted
        ents = list(entries)
        if first > ents[0].index:
            ents = ents[first - ents[0].index :]
        offset = ents[0].index - self._ents[0].index
        if offset > len(self._ents):
            raise LogUnavailable(
                f"missing log entries: last {self.last_index()}, appending at {ents[0].index}"
            )
        # in place (the log can hold a snapshot interval's worth of entries: copying it on
        # every append made each write cost O(log length))
        if offset < len(self._ents):
            del self._ents[offset:]
        self._ents.extend(ents)
