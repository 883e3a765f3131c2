"""A synchronous in-memory network of ``RaftNode``s for unit tests (etcd's ``network`` helper).

Every ready is handled the way a real shell does it: persist into the node's
``MemoryStorage``, send, apply, advance. Messages are delivered in order until the
network is quiet; ``cut``/``isolate`` drop messages, ``heal`` restores the links.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reconciler.raft.node import RaftNode
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import (
    ConfChange,
    ConfChangeType,
    Config,
    Entry,
    EntryType,
    Message,
    ReadState,
    StateType,
)


@dataclass
class Member:
    node: RaftNode
    storage: MemoryStorage
    applied: list[Entry] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    snapshots_applied: int = 0


class RaftNet:
    def __init__(
        self,
        ids: Iterable[int],
        *,
        seed: int = 0,
        learners: Iterable[int] = (),
        witnesses: Iterable[int] = (),
        configure: Callable[[int], Config] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.configure = configure or (lambda i: Config(id=i))
        self.members: dict[int, Member] = {}
        ids = sorted(ids)
        wit = set(witnesses)
        peers = [
            ConfChange(ConfChangeType.ADD_WITNESS if i in wit else ConfChangeType.ADD_VOTER, i)
            for i in ids
        ] + [ConfChange(ConfChangeType.ADD_LEARNER, i) for i in sorted(learners)]
        for i in [*ids, *sorted(learners)]:
            m = self._new_member(i)
            m.node.bootstrap(peers)
            self.members[i] = m
        self.dropped: set[tuple[int, int]] = set()
        self.intercept: Callable[[Message], bool] | None = None  # return False to drop
        self.sent: list[Message] = []
        self.process()

    def _new_member(self, i: int) -> Member:
        storage = MemoryStorage()
        node = RaftNode(self.configure(i), storage, random.Random(self.rng.random()))
        return Member(node=node, storage=storage)

    def add_empty_member(self, i: int) -> Member:
        """A member that joins later: empty log, no bootstrap."""
        m = self._new_member(i)
        self.members[i] = m
        return m

    def node(self, i: int) -> RaftNode:
        return self.members[i].node

    # -- links -----------------------------------------------------------------------------
    def cut(self, a: int, b: int) -> None:
        self.dropped |= {(a, b), (b, a)}

    def isolate(self, i: int) -> None:
        for j in self.members:
            if j != i:
                self.cut(i, j)

    def heal(self) -> None:
        self.dropped.clear()

    # -- driving ---------------------------------------------------------------------------
    def handle_ready(self, i: int) -> list[Message]:
        m = self.members[i]
        if not m.node.has_ready():
            return []
        rd = m.node.ready()
        if rd.snapshot is not None:
            m.storage.apply_snapshot(rd.snapshot)
            m.snapshots_applied += 1
        m.storage.append(rd.entries)
        if rd.hard_state is not None:
            m.storage.set_hard_state(rd.hard_state)
        m.applied.extend(e for e in rd.committed_entries if e.type == EntryType.NORMAL and e.data)
        m.read_states.extend(rd.read_states)
        m.node.advance(rd)
        return list(rd.messages)

    def process(self, max_rounds: int = 10_000) -> None:
        """Handle readies and deliver messages until nothing moves."""
        for _ in range(max_rounds):
            msgs: list[Message] = []
            for i in sorted(self.members):
                msgs.extend(self.handle_ready(i))
            if not msgs:
                return
            for msg in msgs:
                self.deliver(msg)
        raise AssertionError("network did not settle")

    def deliver(self, msg: Message) -> None:
        self.sent.append(msg)
        if (msg.frm, msg.to) in self.dropped or msg.to not in self.members:
            return
        if self.intercept is not None and not self.intercept(msg):
            return
        self.members[msg.to].node.step(msg)

    def tick(self, n: int = 1, only: Iterable[int] | None = None) -> None:
        ids = sorted(only) if only is not None else sorted(self.members)
        for _ in range(n):
            for i in ids:
                self.members[i].node.tick()
            self.process()

    def campaign(self, i: int) -> None:
        self.node(i).campaign()
        self.process()

    def propose(self, i: int, data: bytes) -> None:
        self.node(i).propose(data)
        self.process()

    def leaders(self) -> list[int]:
        return sorted(i for i, m in self.members.items() if m.node.role == StateType.LEADER)

    def leader(self) -> int:
        ls = self.leaders()
        assert len(ls) == 1, f"expected one leader, got {ls}"
        return ls[0]

    def applied_data(self, i: int) -> list[bytes]:
        return [e.data for e in self.members[i].applied]


def log_of(node: RaftNode) -> list[Entry]:
    """The node's whole log (stable and unstable) after its snapshot."""
    lo = node.log.first_index()
    return node.log.slice(lo, node.log.last_index() + 1, 1 << 62)


def terms(node: RaftNode) -> list[tuple[int, int]]:
    return [(e.index, e.term) for e in log_of(node)]
