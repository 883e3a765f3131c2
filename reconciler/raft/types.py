"""The values the consensus core consumes and produces: messages, entries, states, Ready.

All frozen and slotted. Node ids are positive ints; ``NONE`` (0) means "nobody".
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

NONE = 0  # "no node": no leader known, no vote cast


class MsgType(enum.IntEnum):
    """Message types, named as in etcd's raftpb so the peer protocol maps one to one."""

    MsgHup = 0  # local: start an election
    MsgBeat = 1  # local: leader, send heartbeats
    MsgProp = 2  # proposal (local, or forwarded by a follower to the leader)
    MsgApp = 3
    MsgAppResp = 4
    MsgVote = 5
    MsgVoteResp = 6
    MsgSnap = 7  # one chunk of a snapshot (snap_offset/snap_total)
    MsgHeartbeat = 8
    MsgHeartbeatResp = 9
    MsgTransferLeader = 11
    MsgTimeoutNow = 12
    MsgReadIndex = 13
    MsgReadIndexResp = 14
    MsgPreVote = 15
    MsgPreVoteResp = 16
    MsgSnapResp = 17  # follower acknowledges a snapshot chunk (ours, not etcd's)
    MsgCheckQuorum = 18  # local


# the context of an empty MsgApp that only carries a new commit index to a follower that
# has acknowledged everything: it needs no MsgAppResp (the follower's match is unchanged;
# heartbeats keep the leader's view of it recent)
COMMIT_NOTICE = b"\x00commit"
LOCAL_MESSAGES = frozenset({MsgType.MsgHup, MsgType.MsgBeat, MsgType.MsgCheckQuorum})


class EntryType(enum.IntEnum):
    NORMAL = 0
    CONF_CHANGE = 1


class StateType(enum.IntEnum):
    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2
    PRE_CANDIDATE = 3


class ConfChangeType(enum.IntEnum):
    ADD_VOTER = 0  # add a voter, or promote a learner
    REMOVE_NODE = 1
    ADD_LEARNER = 2
    ADD_WITNESS = 3  # a voter that stores the log and votes but runs no resources


@dataclass(frozen=True, slots=True)
class ConfChange:
    """One single-server membership change. ``context`` is the application's (e.g. peer URLs)."""

    type: ConfChangeType
    node_id: int
    context: bytes = b""

    _HEAD = struct.Struct(">BQ")

    def encode(self) -> bytes:
        return self._HEAD.pack(int(self.type), self.node_id) + self.context

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        if len(data) < cls._HEAD.size:
            raise ValueError(f"conf change too short: {len(data)} bytes")
        kind, node = cls._HEAD.unpack_from(data)
        return cls(ConfChangeType(kind), node, bytes(data[cls._HEAD.size :]))


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry. ``data`` is opaque to the core (for CONF_CHANGE: ``ConfChange.encode()``)."""

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""

    def size(self) -> int:
        return len(self.data) + 24


@dataclass(frozen=True, slots=True)
class ConfState:
    """The membership. ``witnesses`` is a subset of ``voters`` (Raft-wise a witness is a voter)."""

    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()
    witnesses: tuple[int, ...] = ()

    def is_witness(self, node_id: int) -> bool:
        return node_id in self.witnesses

    def members(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.voters) | set(self.learners)))


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    index: int = 0
    term: int = 0
    conf_state: ConfState = field(default_factory=ConfState)


@dataclass(frozen=True, slots=True)
class Snapshot:
    meta: SnapshotMeta = field(default_factory=SnapshotMeta)
    data: bytes = b""

    def is_empty(self) -> bool:
        return self.meta.index == 0


@dataclass(frozen=True, slots=True)
class HardState:
    """What must be on disk before any message that depends on it is sent."""

    term: int = 0
    vote: int = NONE
    commit: int = 0

    def is_empty(self) -> bool:
        return self.term == 0 and self.vote == NONE and self.commit == 0


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state, for the application's information (who leads, our role)."""

    lead: int = NONE
    role: StateType = StateType.FOLLOWER


@dataclass(frozen=True, slots=True)
class ReadState:
    """A ReadIndex answer: once this member has applied ``index``, reading is linearizable."""

    index: int
    ctx: bytes


@dataclass(frozen=True, slots=True)
class Message:
    type: MsgType
    to: int = NONE
    frm: int = NONE
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    context: bytes = b""
    # MsgSnap: one chunk of ``snap_total`` bytes of snapshot data starting at ``snap_offset``
    snapshot: SnapshotMeta | None = None
    snap_data: bytes = b""
    snap_offset: int = 0
    snap_total: int = 0


@dataclass(frozen=True, slots=True)
class Ready:
    """Effects the shell performs, in this order, then calls ``advance(ready)``.

    1. persist ``snapshot`` (if any), ``entries`` and ``hard_state`` (if any) durably (fsync);
    2. send ``messages`` (never before step 1: they may depend on the persisted state);
    3. apply ``snapshot`` (if any) then ``committed_entries`` to the state machine, and
       answer ``read_states`` once applied up to their index;
    4. ``advance(ready)``.
    """

    soft_state: SoftState
    hard_state: HardState | None = None
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None
    committed_entries: tuple[Entry, ...] = ()
    messages: tuple[Message, ...] = ()
    read_states: tuple[ReadState, ...] = ()

    @property
    def must_sync(self) -> bool:
        """Whether this ready needs an fsync (new entries, or a changed term or vote)."""
        return bool(self.entries) or self.hard_state is not None or self.snapshot is not None

    def is_empty(self) -> bool:
        return not (
            self.hard_state
            or self.entries
            or self.snapshot
            or self.committed_entries
            or self.messages
            or self.read_states
        )


@dataclass(frozen=True, slots=True)
class Config:
    """Tuning of one member. Ticks are the unit of time; the shell decides how long a tick is."""

    id: int
    election_tick: int = 10  # randomized in [election_tick, 2 * election_tick)
    heartbeat_tick: int = 1
    max_size_per_msg: int = 1 << 20  # bytes of entries in one MsgApp
    max_entries_per_msg: int = 512
    max_inflight_msgs: int = 256  # bounded pipeline of unacknowledged MsgApp per follower
    max_committed_per_ready: int = 4096  # entries handed to the application per Ready
    snapshot_chunk_size: int = 1 << 20  # bytes of snapshot data per MsgSnap
    snapshot_window: int = 4  # unacknowledged MsgSnap chunks in flight per follower
    max_uncommitted_bytes: int = 64 << 20  # a leader refuses proposals beyond this backlog
    pre_vote: bool = True
    check_quorum: bool = True

    def __post_init__(self) -> None:
        if self.id <= NONE:
            raise ValueError("node id must be positive")
        if self.heartbeat_tick <= 0 or self.election_tick <= self.heartbeat_tick:
            raise ValueError("need 0 < heartbeat_tick < election_tick")
        if self.max_inflight_msgs <= 0 or self.max_entries_per_msg <= 0:
            raise ValueError("max_inflight_msgs and max_entries_per_msg must be positive")
        if self.snapshot_chunk_size <= 0 or self.snapshot_window <= 0:
            raise ValueError("snapshot_chunk_size and snapshot_window must be positive")
