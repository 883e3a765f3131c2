"""What the leader knows of each follower: match/next, flow-control state, inflight appends.

As etcd's ``tracker`` package: a follower is probed (one append per heartbeat until its
log matches), then replicated to optimistically with a bounded pipeline of inflight
appends, or is being sent a snapshot.
"""

from __future__ import annotations

import enum
from collections import deque

from reconciler.raft.types import ConfState, Snapshot


class ProgressState(enum.IntEnum):
    PROBE = 0
    REPLICATE = 1
    SNAPSHOT = 2


class Inflights:
    """Last indexes of unacknowledged MsgApp, oldest first, at most ``size`` of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._q: deque[int] = deque()

    def add(self, last: int) -> None:
        if self.full():
            raise AssertionError("cannot add into a full inflights")
        self._q.append(last)

    def free_le(self, to: int) -> None:
        while self._q and self._q[0] <= to:
            self._q.popleft()

    def free_first_one(self) -> None:
        if self._q:
            self._q.popleft()

    def full(self) -> bool:
        return len(self._q) >= self.size

    def count(self) -> int:
        return len(self._q)

    def reset(self) -> None:
        self._q.clear()


class Progress:
    __slots__ = (
        "inflights",
        "is_learner",
        "last_active",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "snap",
        "snap_acked",
        "snap_sent",
        "state",
    )

    def __init__(self, next_index: int, match: int, max_inflight: int, is_learner: bool) -> None:
        self.match = match
        self.next = next_index
        self.state = ProgressState.PROBE
        self.pending_snapshot = 0
        self.snap: Snapshot | None = None  # the snapshot being sent (pinned while sending)
        self.snap_sent = 0  # next byte of it to send
        self.snap_acked = 0  # bytes the follower confirmed it holds
        self.last_active = 0  # the leader's tick count when this member last answered
        self.probe_sent = False
        self.inflights = Inflights(max_inflight)
        self.is_learner = is_learner

    def _reset_state(self, state: ProgressState) -> None:
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snap = None
        self.snap_sent = 0
        self.snap_acked = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        if self.state == ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset_state(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snap: Snapshot) -> None:
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snap.meta.index
        self.snap = snap

    def maybe_update(self, n: int) -> bool:
        """A follower acknowledged up to ``n``."""
        updated = False
        if self.match < n:
            self.match = n
            updated = True
            self.probe_sent = False
        self.next = max(self.next, n + 1)
        return updated

    def optimistic_update(self, n: int) -> None:
        self.next = n + 1

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """A follower rejected an append at ``rejected``; back off to ``match_hint + 1``."""
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False  # stale rejection
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False  # stale rejection
        self.next = max(min(rejected, match_hint + 1), 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True


class ProgressTracker:
    """The configuration (voters, learners, witnesses), each member's progress, and votes."""

    def __init__(self, max_inflight: int) -> None:
        self.max_inflight = max_inflight
        self.voters: set[int] = set()
        self.learners: set[int] = set()
        self.witnesses: set[int] = set()
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}

    def conf_state(self) -> ConfState:
        return ConfState(
            voters=tuple(sorted(self.voters)),
            learners=tuple(sorted(self.learners)),
            witnesses=tuple(sorted(self.witnesses)),
        )

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def is_singleton(self, node_id: int) -> bool:
        return self.voters == {node_id}

    def ids(self) -> list[int]:
        return sorted(self.progress)

    def committed(self) -> int:
        """The largest index that a quorum of voters has (0 without voters)."""
        if not self.voters:
            return 0
        matches = sorted(
            (self.progress[v].match if v in self.progress else 0 for v in self.voters),
            reverse=True,
        )
        return matches[self.quorum() - 1]

    def quorum_heard_within(self, self_id: int, now: int, window: int) -> bool:
        """Whether a quorum of voters (us included) answered in the last ``window`` ticks."""
        heard = 0
        for v in self.voters:
            pr = self.progress.get(v)
            if v == self_id or (pr is not None and now - pr.last_active < window):
                heard += 1
        return heard >= self.quorum()

    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, node_id: int, granted: bool) -> None:
        self.votes.setdefault(node_id, granted)

    def tally(self) -> tuple[int, int]:
        granted = sum(1 for v in self.voters if self.votes.get(v) is True)
        rejected = sum(1 for v in self.voters if self.votes.get(v) is False)
        return granted, rejected

    def has_quorum(self, acks: set[int]) -> bool:
        return sum(1 for v in self.voters if v in acks) >= self.quorum()
