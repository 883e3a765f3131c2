"""``RaftNode``: the Raft consensus core as a deterministic state machine (etcd raft's design).

Inputs: ``step(message)``, ``tick()``, ``propose``, ``propose_conf_change``, ``read_index``,
``transfer_leader``, ``campaign``, ``peer_down``. Outputs: ``ready()`` (state to persist,
messages to send, entries to apply, read states) and ``advance(ready)`` once the shell performed it.
No I/O, no clock, no global randomness: the election timeout is drawn from the injected
``random.Random``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.raft.errors import ProposalDropped
from reconciler.raft.leader import LeaderCore
from reconciler.raft.membership import apply_conf_change
from reconciler.raft.types import (
    NONE,
    ConfChange,
    ConfState,
    Entry,
    EntryType,
    Message,
    MsgType,
    Ready,
    StateType,
)

T = MsgType


@dataclass(frozen=True, slots=True)
class ProgressView:
    id: int
    match: int
    next: int
    state: str
    inflight: int
    recent_active: bool
    is_learner: bool


@dataclass(frozen=True, slots=True)
class Status:
    id: int
    term: int
    vote: int
    commit: int
    applied: int
    lead: int
    role: StateType
    conf_state: ConfState
    progress: tuple[ProgressView, ...]  # empty unless leader
    lead_transferee: int


class RaftNode(LeaderCore):
    """One Raft member. See the package docstring for the API and the shell's duties."""

    # ====================================================================== public API
    def bootstrap(self, peers: Sequence[ConfChange]) -> None:
        """Start a new cluster: the log begins with one committed conf change per member.

        Every founding member bootstraps with the same ``peers``; a member that joins later
        does not bootstrap (it gets the log, or a snapshot, from the leader).
        """
        if self.log.last_index() != 0 or self.term != 0:
            raise AssertionError("bootstrap needs an empty log")
        if not peers:
            raise ValueError("bootstrap needs at least one member")
        self._become_follower(1, NONE)
        ents = [
            Entry(term=1, index=i + 1, type=EntryType.CONF_CHANGE, data=cc.encode())
            for i, cc in enumerate(peers)
        ]
        self.log.append(ents)
        self.log.committed = len(ents)
        for cc in peers:
            apply_conf_change(self.tracker, cc, self.log.last_index() + 1, self.ticks)

    def tick(self) -> None:
        self.ticks += 1
        if self.role == StateType.LEADER:
            self._tick_heartbeat()
        else:
            self._tick_election()

    def campaign(self) -> None:
        """Start an election now (with pre-vote if configured)."""
        self._step(Message(T.MsgHup, frm=self.id))

    def propose(self, data: bytes) -> None:
        """Propose ``data``; raises ``ProposalDropped`` when it cannot be (no leader, transfer)."""
        self._step(Message(T.MsgProp, frm=self.id, entries=(Entry(0, 0, data=data),)))

    def propose_conf_change(self, cc: ConfChange) -> None:
        """Propose one membership change; only one may be pending at a time."""
        entry = Entry(0, 0, type=EntryType.CONF_CHANGE, data=cc.encode())
        self._step(Message(T.MsgProp, frm=self.id, entries=(entry,)))

    def read_index(self, ctx: bytes) -> None:
        """Ask for a linearizable read point; answered as a ``ReadState`` with ``ctx``."""
        if not ctx:
            raise ValueError("read_index needs a non-empty, unique context")
        self._step(Message(T.MsgReadIndex, frm=self.id, context=ctx))

    def transfer_leader(self, to: int) -> None:
        """Ask the leader to hand leadership to ``to`` (forwarded if we are not leader)."""
        self._step(Message(T.MsgTransferLeader, frm=to, to=self.id))

    def peer_down(self, peer: int) -> None:
        """The shell has proof that ``peer`` is not running (e.g. its port refused a
        connection). A follower whose leader that is forgets the leader, so it no longer
        refuses votes for the leader's lease, and campaigns within a few ticks instead of
        waiting out its election timeout: the remaining voters take turns by id (one tick
        for the lowest, three for the next, ...) so that two followers told at the same
        moment do not split the vote.

        Only liveness depends on this: a wrong report (the leader was alive) at worst
        starts an election, which pre-vote refuses while the others still hear the leader.
        """
        if self.role != StateType.FOLLOWER or peer == self.id or self.lead != peer:
            return
        self.lead = NONE
        others = sorted(v for v in self.tracker.voters if v != peer)
        rank = others.index(self.id) if self.id in others else len(others)
        wait = 1 + 2 * rank
        self.election_elapsed = max(self.election_elapsed, self.randomized_election_timeout - wait)

    def step(self, m: Message) -> None:
        """Feed a message received from a peer."""
        if m.type in (T.MsgHup, T.MsgBeat, T.MsgCheckQuorum):
            raise ValueError(f"{m.type.name} is local; use the matching method")
        # a forwarded proposal or read that cannot be served is dropped: the requester retries
        with contextlib.suppress(ProposalDropped):
            self._step(m)

    def conf_state(self) -> ConfState:
        return self.tracker.conf_state()

    def is_witness(self, node_id: int) -> bool:
        return node_id in self.tracker.witnesses

    def has_ready(self) -> bool:
        if self.msgs or self.read_states or self.log.unstable.entries:
            return True
        if self.log.unstable.snapshot is not None or self.log.has_next_ents():
            return True
        return self._hard_state() != self._prev_hs or self._soft_state() != self._prev_ss

    def ready(self) -> Ready:
        """Collect what to persist, send and apply. Call ``advance`` with it when done."""
        hs = self._hard_state()
        ss = self._soft_state()
        rd = Ready(
            soft_state=ss,
            hard_state=hs if hs != self._prev_hs else None,
            entries=tuple(self.log.unstable_entries()),
            snapshot=self.log.unstable.snapshot,
            committed_entries=tuple(self.log.next_ents()),
            messages=tuple(self.msgs),
            read_states=tuple(self.read_states),
        )
        self.msgs = []
        self.read_states = []
        self._prev_ss = ss
        return rd

    def advance(self, rd: Ready) -> None:
        """The shell persisted, sent and applied ``rd``."""
        if rd.hard_state is not None:
            self._prev_hs = rd.hard_state
        if rd.snapshot is not None:
            self.log.stable_snap_to(rd.snapshot.meta.index)
            self.log.applied = max(self.log.applied, rd.snapshot.meta.index)
        if rd.entries:
            last = rd.entries[-1]
            self.log.stable_to(last.index, last.term)
        if rd.committed_entries:
            for e in rd.committed_entries:
                if e.index <= self.log.applied:
                    continue
                if self.role == StateType.LEADER:
                    self.uncommitted_bytes = max(0, self.uncommitted_bytes - len(e.data))
                if e.type == EntryType.CONF_CHANGE:
                    self._apply_conf_change(ConfChange.decode(e.data))
                self.log.applied_to(e.index)

    def status(self) -> Status:
        views: tuple[ProgressView, ...] = ()
        if self.role == StateType.LEADER:
            views = tuple(
                ProgressView(
                    id=i,
                    match=pr.match,
                    next=pr.next,
                    state=pr.state.name,
                    inflight=pr.inflights.count(),
                    recent_active=self._recently_heard(pr),
                    is_learner=pr.is_learner,
                )
                for i, pr in sorted(self.tracker.progress.items())
            )
        return Status(
            id=self.id,
            term=self.term,
            vote=self.vote,
            commit=self.log.committed,
            applied=self.log.applied,
            lead=self.lead,
            role=self.role,
            conf_state=self.tracker.conf_state(),
            progress=views,
            lead_transferee=self.lead_transferee,
        )
