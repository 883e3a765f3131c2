"""The core's view of the log: stable entries in ``Storage`` plus unstable ones not yet persisted.

Modelled on etcd's ``raftLog``/``unstable``. ``committed`` and ``applied`` live here too.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.raft.errors import LogCompacted, LogUnavailable
from reconciler.raft.storage import Storage, limit_size
from reconciler.raft.types import Entry, Snapshot

NO_LIMIT = 1 << 62


class Unstable:
    """Entries (and maybe a snapshot) handed out in a Ready but not yet persisted."""

    def __init__(self, offset: int) -> None:
        self.offset = offset  # index of entries[0]
        self.entries: list[Entry] = []
        self.snapshot: Snapshot | None = None

    def maybe_first_index(self) -> int | None:
        return self.snapshot.meta.index + 1 if self.snapshot is not None else None

    def maybe_last_index(self) -> int | None:
        if self.entries:
            return self.offset + len(self.entries) - 1
        if self.snapshot is not None:
            return self.snapshot.meta.index
        return None

    def maybe_term(self, i: int) -> int | None:
        if i < self.offset:
            if self.snapshot is not None and self.snapshot.meta.index == i:
                return self.snapshot.meta.term
            return None
        last = self.maybe_last_index()
        if last is None or i > last:
            return None
        return self.entries[i - self.offset].term

    def stable_to(self, i: int, t: int) -> None:
        gt = self.maybe_term(i)
        if gt is None or i < self.offset:
            return
        if gt == t:
            self.entries = self.entries[i + 1 - self.offset :]
            self.offset = i + 1

    def stable_snap_to(self, i: int) -> None:
        if self.snapshot is not None and self.snapshot.meta.index == i:
            self.snapshot = None

    def restore(self, snap: Snapshot) -> None:
        self.offset = snap.meta.index + 1
        self.entries = []
        self.snapshot = snap

    def truncate_and_append(self, ents: Sequence[Entry]) -> None:
        after = ents[0].index
        if after == self.offset + len(self.entries):
            self.entries.extend(ents)
        elif after <= self.offset:
            self.offset = after
            self.entries = list(ents)
        else:
            self.entries = self.entries[: after - self.offset] + list(ents)

    def slice(self, lo: int, hi: int) -> list[Entry]:
        return self.entries[lo - self.offset : hi - self.offset]


class RaftLog:
    def __init__(self, storage: Storage, max_next_ents: int) -> None:
        self.storage = storage
        first = storage.first_index()
        last = storage.last_index()
        self.unstable = Unstable(last + 1)
        self.committed = first - 1
        self.applied = first - 1
        self.max_next_ents = max_next_ents

    # -- indexes and terms ---------------------------------------------------------------
    def first_index(self) -> int:
        i = self.unstable.maybe_first_index()
        return i if i is not None else self.storage.first_index()

    def last_index(self) -> int:
        i = self.unstable.maybe_last_index()
        return i if i is not None else self.storage.last_index()

    def term(self, i: int) -> int | None:
        """Term at ``i``, or None if ``i`` is compacted away or beyond the last index."""
        dummy = self.first_index() - 1
        if i < dummy or i > self.last_index():
            return None
        t = self.unstable.maybe_term(i)
        if t is not None:
            return t
        try:
            return self.storage.term(i)
        except (LogCompacted, LogUnavailable):
            return None

    def zero_term(self, i: int) -> int:
        t = self.term(i)
        return 0 if t is None else t

    def last_term(self) -> int:
        return self.zero_term(self.last_index())

    def match_term(self, i: int, t: int) -> bool:
        got = self.term(i)
        return got is not None and got == t

    def is_up_to_date(self, lasti: int, term: int) -> bool:
        """Election restriction: the candidate's log is at least as up to date as ours."""
        mine = self.last_term()
        return term > mine or (term == mine and lasti >= self.last_index())

    # -- appending -------------------------------------------------------------------------
    def maybe_append(
        self, index: int, log_term: int, committed: int, ents: Sequence[Entry]
    ) -> int | None:
        """Follower side of AppendEntries: None if the log does not match at (index, term)."""
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(ents)
        ci = self.find_conflict(ents)
        if ci != 0:
            if ci <= self.committed:
                raise AssertionError(f"entry {ci} conflicts with committed entry {self.committed}")
            self.append(ents[ci - (index + 1) :])
        self.commit_to(min(committed, last_new))
        return last_new

    def append(self, ents: Sequence[Entry]) -> int:
        if not ents:
            return self.last_index()
        after = ents[0].index - 1
        if after < self.committed:
            raise AssertionError(f"appending after {after} is below committed {self.committed}")
        self.unstable.truncate_and_append(ents)
        return self.last_index()

    def find_conflict(self, ents: Sequence[Entry]) -> int:
        """First index whose entry is new or conflicts; 0 if all are already in the log."""
        for e in ents:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> int:
        """Largest index <= ``index`` whose term is <= ``term`` (fast back-tracking)."""
        li = self.last_index()
        if index > li:
            return index
        while index > 0:
            t = self.term(index)
            if t is None or t <= term:
                break
            index -= 1
        return index

    # -- commit and apply ------------------------------------------------------------------
    def commit_to(self, tocommit: int) -> None:
        if self.committed < tocommit:
            if self.last_index() < tocommit:
                raise AssertionError(f"commit {tocommit} beyond last index {self.last_index()}")
            self.committed = tocommit

    def maybe_commit(self, max_index: int, term: int) -> bool:
        """Commit ``max_index`` if it is of the leader's current term (Raft's commit rule)."""
        if max_index > self.committed and self.zero_term(max_index) == term:
            self.commit_to(max_index)
            return True
        return False

    def applied_to(self, i: int) -> None:
        if i == 0:
            return
        if self.committed < i or i < self.applied:
            raise AssertionError(f"applied {i} out of range [{self.applied}, {self.committed}]")
        self.applied = i

    def next_ents(self) -> list[Entry]:
        off = max(self.applied + 1, self.first_index())
        if self.committed + 1 > off:
            hi = min(self.committed + 1, off + self.max_next_ents)
            return self.slice(off, hi, NO_LIMIT)
        return []

    def has_next_ents(self) -> bool:
        return self.committed + 1 > max(self.applied + 1, self.first_index())

    def unstable_entries(self) -> list[Entry]:
        return list(self.unstable.entries)

    def stable_to(self, i: int, t: int) -> None:
        self.unstable.stable_to(i, t)

    def stable_snap_to(self, i: int) -> None:
        self.unstable.stable_snap_to(i)

    # -- reading ---------------------------------------------------------------------------
    def entries(self, i: int, max_size: int) -> list[Entry]:
        """Entries from ``i``; raises LogCompacted if ``i`` is in the snapshot."""
        if i > self.last_index():
            return []
        return self.slice(i, self.last_index() + 1, max_size)

    def slice(self, lo: int, hi: int, max_size: int) -> list[Entry]:
        if lo < self.first_index():
            raise LogCompacted(f"index {lo} is compacted")
        if hi > self.last_index() + 1:
            raise LogUnavailable(f"slice [{lo}, {hi}) beyond last index {self.last_index()}")
        if lo == hi:
            return []
        ents: list[Entry] = []
        if lo < self.unstable.offset:
            ents = self.storage.entries(lo, min(hi, self.unstable.offset), max_size)
            if len(ents) < min(hi, self.unstable.offset) - lo:
                return ents  # hit the size limit
        if hi > self.unstable.offset:
            ents = ents + self.unstable.slice(max(lo, self.unstable.offset), hi)
        return limit_size(ents, max_size)

    def snapshot(self) -> Snapshot:
        if self.unstable.snapshot is not None:
            return self.unstable.snapshot
        return self.storage.snapshot()

    def restore(self, snap: Snapshot) -> None:
        self.committed = snap.meta.index
        self.unstable.restore(snap)
