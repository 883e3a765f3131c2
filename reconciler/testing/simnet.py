"""A seeded simulated network: loss, delay (hence reordering), duplication, partitions.

Time is a step counter owned by the simulation; every decision comes from the injected
``random.Random``, so one seed replays one run exactly.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from reconciler.raft.types import Message


@dataclass(frozen=True, slots=True)
class NetFaults:
    drop: float = 0.05  # probability a message is lost
    duplicate: float = 0.03  # probability a message is delivered twice
    min_delay: int = 0  # steps
    max_delay: int = 3


RELIABLE = NetFaults(drop=0.0, duplicate=0.0, min_delay=0, max_delay=1)


class SimNetwork:
    def __init__(self, rng: random.Random, faults: NetFaults = NetFaults()) -> None:
        self.rng = rng
        self.faults = faults
        self._queue: list[tuple[int, int, Message]] = []
        self._seq = 0
        self.blocked: set[tuple[int, int]] = set()
        self.sent = 0
        self.dropped = 0
        self.by_type: dict[str, int] = {}

    # -- partitions ------------------------------------------------------------------------
    def partition(self, *groups: set[int]) -> None:
        """Only members of the same group can talk."""
        self.blocked = set()
        for g in groups:
            for h in groups:
                if g is not h:
                    self.blocked |= {(a, b) for a in g for b in h}

    def cut(self, a: int, b: int) -> None:
        self.blocked |= {(a, b), (b, a)}

    def heal(self) -> None:
        self.blocked = set()

    def can_talk(self, a: int, b: int) -> bool:
        return (a, b) not in self.blocked

    # -- traffic ---------------------------------------------------------------------------
    def send(self, now: int, msg: Message) -> None:
        self.sent += 1
        name = msg.type.name
        self.by_type[name] = self.by_type.get(name, 0) + 1
        f = self.faults
        if not self.can_talk(msg.frm, msg.to) or (f.drop and self.rng.random() < f.drop):
            self.dropped += 1
            return
        copies = 2 if f.duplicate and self.rng.random() < f.duplicate else 1
        for _ in range(copies):
            at = now + self.rng.randint(f.min_delay, f.max_delay)
            self._seq += 1
            heapq.heappush(self._queue, (at, self._seq, msg))

    def due(self, now: int) -> list[Message]:
        """Messages arriving at ``now`` (a partition made meanwhile also cuts them)."""
        out: list[Message] = []
        q = self._queue
        while q and q[0][0] <= now:
            _, _, msg = heapq.heappop(q)
            if self.can_talk(msg.frm, msg.to):
                out.append(msg)
            else:
                self.dropped += 1
        return out

    def in_flight(self) -> int:
        return len(self._queue)
