"""The durable part of a simulated member: what a crash keeps (what was fsynced).

Records are written in the write-ahead log's order: snapshot, entries, hard state. A
crash in the middle of a write keeps a prefix of them (a torn tail), never more.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import Entry, HardState, Ready, Snapshot


@dataclass
class SimDisk:
    snapshot: Snapshot | None = None
    hard_state: HardState = field(default_factory=HardState)
    entries: list[Entry] = field(default_factory=list)
    fsyncs: int = 0

    def _append(self, ents: Sequence[Entry]) -> None:
        if not ents:
            return
        first = ents[0].index
        keep = [e for e in self.entries if e.index < first]
        if keep and keep[-1].index != first - 1:
            raise AssertionError(f"gap in the simulated log before {first}")
        self.entries = keep + list(ents)

    def save_snapshot(self, snap: Snapshot) -> None:
        if self.snapshot is not None and snap.meta.index <= self.snapshot.meta.index:
            return
        self.snapshot = snap
        self.entries = [e for e in self.entries if e.index > snap.meta.index]
        if self.entries and self.entries[0].index != snap.meta.index + 1:
            self.entries = []  # the log after a received snapshot starts afresh
        if self.hard_state.commit < snap.meta.index:
            self.hard_state = HardState(self.hard_state.term, self.hard_state.vote, snap.meta.index)
        self.fsyncs += 1

    def persist(self, rd: Ready, torn: random.Random | None = None) -> bool:
        """Write ``rd``'s durable part; with ``torn``, crash part-way. True if all of it."""
        records: list[object] = []
        if rd.snapshot is not None:
            records.append(rd.snapshot)
        records.extend(rd.entries)
        if rd.hard_state is not None:
            records.append(rd.hard_state)
        keep = len(records) if torn is None else torn.randrange(len(records) + 1)
        ents: list[Entry] = []
        for r in records[:keep]:
            if isinstance(r, Snapshot):
                self.save_snapshot(r)
            elif isinstance(r, Entry):
                ents.append(r)
            elif isinstance(r, HardState):
                self._append(ents)
                ents = []
                self.hard_state = r
        self._append(ents)
        self.fsyncs += 1
        return keep == len(records)

    def crash(self) -> None:
        """Nothing is buffered outside what ``persist`` kept."""

    def recover(self) -> MemoryStorage:
        """What a restarted member reads back."""
        st = MemoryStorage()
        if self.snapshot is not None:
            st.apply_snapshot(self.snapshot)
        ents = self.entries
        if self.snapshot is not None:
            ents = [e for e in ents if e.index > self.snapshot.meta.index]
        st.append(ents)
        hs = self.hard_state
        commit = max(hs.commit, st.first_index() - 1)
        st.set_hard_state(HardState(hs.term, hs.vote, commit))
        return st
