"""``RaftNode``: the Raft consensus core as a deterministic state machine (etcd raft's design).

Inputs: ``step(message)``, ``tick()``, ``propose``, ``propose_conf_change``, ``read_index``,
``transfer_leader``, ``campaign``. Outputs: ``ready()`` (state to persist, messages to
send, entries to apply, read states) and ``advance(ready)`` once the shell performed it.
No I/O, no clock, no global randomness: the election timeout is drawn from the injected
``random.Random``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.raft.errors import LogCompacted, ProposalDropped, SnapshotTemporarilyUnavailable
from reconciler.raft.log import RaftLog
from reconciler.raft.membership import apply_conf_change, check_conf_change
from reconciler.raft.progress import Progress, ProgressState, ProgressTracker
from reconciler.raft.readonly import ReadOnly
from reconciler.raft.storage import Storage
from reconciler.raft.types import (
    NONE,
    ConfChange,
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MsgType,
    ReadState,
    Ready,
    Snapshot,
    SnapshotMeta,
    SoftState,
    StateType,
)

T = MsgType
TRANSFER_CONTEXT = b"CampaignTransfer"
_VOTE_RESP = {T.MsgVote: T.MsgVoteResp, T.MsgPreVote: T.MsgPreVoteResp}


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


class RaftNode:
    def __init__(self, config: Config, storage: Storage, rng: random.Random) -> None:
        self.config = config
        self.id = config.id
        self.rng = rng
        self.log = RaftLog(storage, config.max_committed_per_ready)
        self.tracker = ProgressTracker(config.max_inflight_msgs)
        hs, cs = storage.initial_state()
        self._restore_conf(cs)
        self.term = 0
        self.vote = NONE
        if not hs.is_empty():
            if hs.commit < self.log.committed or hs.commit > self.log.last_index():
                raise AssertionError(
                    f"hard state commit {hs.commit} out of range "
                    f"[{self.log.committed}, {self.log.last_index()}]"
                )
            self.log.committed = hs.commit
            self.term = hs.term
            self.vote = hs.vote
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.read_only = ReadOnly()
        self._pending_reads: list[Message] = []
        self.lead = NONE
        self.role = StateType.FOLLOWER
        self.lead_transferee = NONE
        self.pending_conf_index = 0
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.ticks = 0  # ticks seen; the leader's clock for check-quorum
        self.randomized_election_timeout = config.election_tick
        self._snap_meta: SnapshotMeta | None = None  # a snapshot being assembled from chunks
        self._snap_buf = bytearray()
        self._become_follower(self.term, NONE)
        self._prev_hs = hs
        self._prev_ss = self._soft_state()

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

    # ====================================================================== state
    def _hard_state(self) -> HardState:
        return HardState(term=self.term, vote=self.vote, commit=self.log.committed)

    def _soft_state(self) -> SoftState:
        return SoftState(lead=self.lead, role=self.role)

    def _restore_conf(self, cs: ConfState) -> None:
        t = self.tracker
        t.voters = set(cs.voters)
        t.learners = set(cs.learners)
        t.witnesses = set(cs.witnesses)
        last = self.log.last_index()
        t.progress = {
            i: Progress(last + 1, 0, t.max_inflight, i in t.learners) for i in cs.members()
        }

    def _promotable(self) -> bool:
        return self.id in self.tracker.voters and self.log.unstable.snapshot is None

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        et = self.config.election_tick
        self.randomized_election_timeout = et + self.rng.randrange(et)
        self.lead_transferee = NONE
        self.tracker.reset_votes()
        last = self.log.last_index()
        t = self.tracker
        for i in list(t.progress):
            pr = Progress(last + 1, 0, t.max_inflight, i in t.learners)
            pr.last_active = self.ticks  # a grace period of one election timeout
            if i == self.id:
                pr.match = last
            t.progress[i] = pr
        self.pending_conf_index = 0
        self.read_only = ReadOnly()
        self._pending_reads = []

    def _become_follower(self, term: int, lead: int) -> None:
        self._reset(term)
        self.lead = lead
        self.role = StateType.FOLLOWER

    def _become_candidate(self) -> None:
        if self.role == StateType.LEADER:
            raise AssertionError("leader cannot become candidate")
        self._reset(self.term + 1)
        self.vote = self.id
        self.role = StateType.CANDIDATE

    def _become_pre_candidate(self) -> None:
        if self.role == StateType.LEADER:
            raise AssertionError("leader cannot become pre-candidate")
        self.tracker.reset_votes()
        self.lead = NONE
        self.role = StateType.PRE_CANDIDATE

    def _become_leader(self) -> None:
        if self.role == StateType.FOLLOWER:
            raise AssertionError("follower cannot become leader without an election")
        self._reset(self.term)
        self.lead = self.id
        self.role = StateType.LEADER
        me = self.tracker.progress.get(self.id)
        if me is not None:
            me.become_replicate()
        # a configuration change may only follow an entry of our own term
        self.pending_conf_index = self.log.last_index()
        self._append_entries([Entry(0, 0)])

    def _past_election_timeout(self) -> bool:
        return self.election_elapsed >= self.randomized_election_timeout

    def _committed_entry_in_current_term(self) -> bool:
        return self.log.zero_term(self.log.committed) == self.term

    # ====================================================================== ticks
    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self._promotable() and self._past_election_timeout():
            self.election_elapsed = 0
            self._step(Message(T.MsgHup, frm=self.id))

    def _tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.config.check_quorum:
            # checked every tick: a leader that has not heard a quorum for a whole election
            # timeout steps down at once (not up to two timeouts later, as a periodic check)
            self._step(Message(T.MsgCheckQuorum, frm=self.id))
            if self.role != StateType.LEADER:
                return
        if self.election_elapsed >= self.config.election_tick:
            self.election_elapsed = 0
            if self.lead_transferee != NONE:
                self.lead_transferee = NONE  # transfer took too long: abort it
        if self.heartbeat_elapsed >= self.config.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self._step(Message(T.MsgBeat, frm=self.id))

    # ====================================================================== elections
    def _hup(self, transfer: bool) -> None:
        if self.role == StateType.LEADER or not self._promotable():
            return
        if self._pending_conf_change_unapplied():
            return  # the conf change must be applied first: it may remove us
        if transfer:
            self._campaign(T.MsgVote, transfer=True)
        elif self.config.pre_vote:
            self._campaign(T.MsgPreVote, transfer=False)
        else:
            self._campaign(T.MsgVote, transfer=False)

    def _pending_conf_change_unapplied(self) -> bool:
        if self.log.committed <= self.log.applied:
            return False
        try:
            ents = self.log.slice(self.log.applied + 1, self.log.committed + 1, 1 << 62)
        except LogCompacted:
            return False
        return any(e.type == EntryType.CONF_CHANGE for e in ents)

    def _campaign(self, vote_type: MsgType, transfer: bool) -> None:
        if vote_type == T.MsgPreVote:
            self._become_pre_candidate()
            term = self.term + 1
        else:
            self._become_candidate()
            term = self.term
        self.tracker.record_vote(self.id, True)
        if self._poll_result() == 1:
            if vote_type == T.MsgPreVote:
                self._campaign(T.MsgVote, transfer=False)
            else:
                self._become_leader()
            return
        ctx = TRANSFER_CONTEXT if transfer else b""
        for v in sorted(self.tracker.voters):
            if v == self.id:
                continue
            self.msgs.append(
                Message(
                    vote_type,
                    to=v,
                    frm=self.id,
                    term=term,
                    index=self.log.last_index(),
                    log_term=self.log.last_term(),
                    context=ctx,
                )
            )

    def _poll_result(self) -> int:
        """1 won, -1 lost, 0 pending."""
        granted, rejected = self.tracker.tally()
        q = self.tracker.quorum()
        if granted >= q:
            return 1
        if rejected > len(self.tracker.voters) - q:
            return -1
        return 0

    # ====================================================================== step
    def _step(self, m: Message) -> None:
        if m.term > self.term:
            if m.type in (T.MsgVote, T.MsgPreVote):
                force = m.context == TRANSFER_CONTEXT
                in_lease = (
                    self.config.check_quorum
                    and self.lead != NONE
                    and self.election_elapsed < self.config.election_tick
                )
                if not force and in_lease:
                    return  # we heard from a leader recently: ignore the disruptive vote
            if m.type == T.MsgPreVote or (m.type == T.MsgPreVoteResp and not m.reject):
                pass  # pre-votes do not change our term
            elif m.type in (T.MsgApp, T.MsgHeartbeat, T.MsgSnap):
                self._become_follower(m.term, m.frm)
            else:
                self._become_follower(m.term, NONE)
        elif 0 < m.term < self.term:
            if (self.config.check_quorum or self.config.pre_vote) and m.type in (
                T.MsgHeartbeat,
                T.MsgApp,
                T.MsgSnap,
            ):
                # tell a stale leader that its term is over
                self._send(Message(T.MsgAppResp, to=m.frm))
            elif m.type == T.MsgPreVote:
                self.msgs.append(
                    Message(T.MsgPreVoteResp, to=m.frm, frm=self.id, term=self.term, reject=True)
                )
            return

        if m.type == T.MsgHup:
            self._hup(transfer=False)
        elif m.type in (T.MsgVote, T.MsgPreVote):
            self._handle_vote(m)
        elif self.role == StateType.LEADER:
            self._step_leader(m)
        elif self.role in (StateType.CANDIDATE, StateType.PRE_CANDIDATE):
            self._step_candidate(m)
        else:
            self._step_follower(m)

    def _handle_vote(self, m: Message) -> None:
        can_vote = (
            self.vote == m.frm
            or (self.vote == NONE and self.lead == NONE)
            or (m.type == T.MsgPreVote and m.term > self.term)
        )
        resp = _VOTE_RESP[m.type]
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            self.msgs.append(Message(resp, to=m.frm, frm=self.id, term=m.term))
            if m.type == T.MsgVote:
                self.election_elapsed = 0
                self.vote = m.frm
        else:
            self.msgs.append(Message(resp, to=m.frm, frm=self.id, term=self.term, reject=True))

    def _send(self, m: Message) -> None:
        """Queue ``m`` from us at our term (etcd's ``send``: MsgProp/MsgReadIndex carry no term)."""
        term = 0 if m.type in (T.MsgProp, T.MsgReadIndex) else self.term
        frm = m.frm if m.frm != NONE else self.id
        if m.term != term or m.frm != frm:
            m = Message(
                m.type,
                to=m.to,
                frm=frm,
                term=term,
                log_term=m.log_term,
                index=m.index,
                entries=m.entries,
                commit=m.commit,
                reject=m.reject,
                reject_hint=m.reject_hint,
                context=m.context,
                snapshot=m.snapshot,
                snap_data=m.snap_data,
                snap_offset=m.snap_offset,
                snap_total=m.snap_total,
            )
        self.msgs.append(m)

    # ---------------------------------------------------------------- follower / candidate
    def _step_follower(self, m: Message) -> None:
        t = m.type
        if t == T.MsgProp:
            if self.lead == NONE:
                raise ProposalDropped("no leader")
            self._send(Message(T.MsgProp, to=self.lead, frm=m.frm, entries=m.entries))
        elif t == T.MsgApp:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_append(m)
        elif t == T.MsgHeartbeat:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_heartbeat(m)
        elif t == T.MsgSnap:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_snap_chunk(m)
        elif t == T.MsgTransferLeader:
            if self.lead == NONE:
                raise ProposalDropped("no leader to transfer from")
            self._send(Message(T.MsgTransferLeader, to=self.lead, frm=m.frm))
        elif t == T.MsgTimeoutNow:
            self._hup(transfer=True)
        elif t == T.MsgReadIndex:
            if self.lead == NONE:
                raise ProposalDropped("no leader")
            self._send(Message(T.MsgReadIndex, to=self.lead, frm=m.frm, context=m.context))
        elif t == T.MsgReadIndexResp:
            self.read_states.append(ReadState(index=m.index, ctx=m.context))

    def _step_candidate(self, m: Message) -> None:
        t = m.type
        my_resp = T.MsgPreVoteResp if self.role == StateType.PRE_CANDIDATE else T.MsgVoteResp
        if t in (T.MsgProp, T.MsgReadIndex, T.MsgTransferLeader):
            raise ProposalDropped("election in progress")
        if t == T.MsgApp:
            self._become_follower(m.term, m.frm)
            self._handle_append(m)
        elif t == T.MsgHeartbeat:
            self._become_follower(m.term, m.frm)
            self._handle_heartbeat(m)
        elif t == T.MsgSnap:
            self._become_follower(m.term, m.frm)
            self._handle_snap_chunk(m)
        elif t == my_resp:
            self.tracker.record_vote(m.frm, not m.reject)
            res = self._poll_result()
            if res == 1:
                if self.role == StateType.PRE_CANDIDATE:
                    self._campaign(T.MsgVote, transfer=False)
                else:
                    self._become_leader()
                    self._bcast_append()
            elif res == -1:
                self._become_follower(self.term, NONE)

    def _handle_append(self, m: Message) -> None:
        if m.index < self.log.committed:
            self._send(Message(T.MsgAppResp, to=m.frm, index=self.log.committed))
            return
        last_new = self.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self._send(Message(T.MsgAppResp, to=m.frm, index=last_new))
            return
        hint = min(m.index, self.log.last_index())
        hint = self.log.find_conflict_by_term(hint, m.log_term)
        self._send(
            Message(
                T.MsgAppResp,
                to=m.frm,
                index=m.index,
                reject=True,
                reject_hint=hint,
                log_term=self.log.zero_term(hint),
            )
        )

    def _handle_heartbeat(self, m: Message) -> None:
        self.log.commit_to(min(m.commit, self.log.last_index()))
        self._send(Message(T.MsgHeartbeatResp, to=m.frm, context=m.context))

    def _handle_snap_chunk(self, m: Message) -> None:
        meta = m.snapshot
        if meta is None:
            return
        if m.snap_offset == 0:
            self._snap_meta = meta
            self._snap_buf = bytearray()
        elif self._snap_meta != meta or len(self._snap_buf) != m.snap_offset:
            have = len(self._snap_buf) if self._snap_meta == meta else 0
            self._send(
                Message(T.MsgSnapResp, to=m.frm, index=meta.index, snap_offset=have, reject=True)
            )
            return
        self._snap_buf += m.snap_data
        if len(self._snap_buf) < m.snap_total:
            self._send(
                Message(T.MsgSnapResp, to=m.frm, index=meta.index, snap_offset=len(self._snap_buf))
            )
            return
        snap = Snapshot(meta=meta, data=bytes(self._snap_buf))
        self._snap_meta = None
        self._snap_buf = bytearray()
        if self._restore(snap):
            self._send(Message(T.MsgAppResp, to=m.frm, index=self.log.last_index()))
        else:
            self._send(Message(T.MsgAppResp, to=m.frm, index=self.log.committed))

    def _restore(self, snap: Snapshot) -> bool:
        meta = snap.meta
        if meta.index <= self.log.committed:
            return False
        if self.log.match_term(meta.index, meta.term):
            self.log.commit_to(meta.index)  # we have it all: fast-forward the commit
            return False
        self.log.restore(snap)
        self._restore_conf(meta.conf_state)
        return True

    # ---------------------------------------------------------------- leader
    def _step_leader(self, m: Message) -> None:
        t = m.type
        if t == T.MsgBeat:
            self._bcast_heartbeat(self.read_only.last_pending_ctx() or b"")
            return
        if t == T.MsgCheckQuorum:
            window = self.config.election_tick
            if not self.tracker.quorum_heard_within(self.id, self.ticks, window):
                self._become_follower(self.term, NONE)
            return
        if t == T.MsgProp:
            self._leader_propose(m)
            return
        if t == T.MsgReadIndex:
            self._leader_read_index(m)
            return
        pr = self.tracker.progress.get(m.frm)
        if pr is None:
            return
        if t == T.MsgAppResp:
            self._leader_app_resp(m, pr)
        elif t == T.MsgHeartbeatResp:
            self._leader_heartbeat_resp(m, pr)
        elif t == T.MsgSnapResp:
            self._heard(pr)
            if pr.state == ProgressState.SNAPSHOT and pr.pending_snapshot == m.index:
                pr.snap_offset = m.snap_offset
                self._send_snap_chunk(m.frm, pr)
        elif t == T.MsgTransferLeader:
            self._leader_transfer(m.frm, pr)

    def _heard(self, pr: Progress) -> None:
        pr.last_active = self.ticks

    def _recently_heard(self, pr: Progress) -> bool:
        return self.ticks - pr.last_active < self.config.election_tick

    def _leader_propose(self, m: Message) -> None:
        if not m.entries:
            raise ProposalDropped("empty proposal")
        if self.id not in self.tracker.progress:
            raise ProposalDropped("leader was removed from the configuration")
        if self.lead_transferee != NONE:
            raise ProposalDropped("leadership transfer in progress")
        ents = list(m.entries)
        for i, e in enumerate(ents):
            if e.type != EntryType.CONF_CHANGE:
                continue
            why = None
            if self.pending_conf_index > self.log.applied:
                why = "a configuration change is still pending"
            elif not self._committed_entry_in_current_term():
                why = "the new leader has not committed an entry of its term yet"
            else:
                why = check_conf_change(self.tracker, ConfChange.decode(e.data))
            if why is not None:
                if m.frm == self.id:
                    raise ProposalDropped(why)
                ents[i] = Entry(0, 0)  # forwarded: keep the slot, as etcd does
            else:
                self.pending_conf_index = self.log.last_index() + i + 1
        self._append_entries(ents)
        self._bcast_append()

    def _append_entries(self, ents: Sequence[Entry]) -> None:
        li = self.log.last_index()
        stamped = [
            Entry(term=self.term, index=li + 1 + i, type=e.type, data=e.data)
            for i, e in enumerate(ents)
        ]
        li = self.log.append(stamped)
        me = self.tracker.progress.get(self.id)
        if me is not None:
            me.maybe_update(li)
        self._maybe_commit()

    def _maybe_commit(self) -> bool:
        if self.log.maybe_commit(self.tracker.committed(), self.term):
            if self._pending_reads and self._committed_entry_in_current_term():
                pending, self._pending_reads = self._pending_reads, []
                for m in pending:
                    self._leader_read_index(m)
            return True
        return False

    def _leader_read_index(self, m: Message) -> None:
        if self.tracker.is_singleton(self.id):
            self._answer_read(m.frm, self.log.committed, m.context)
            return
        if not self._committed_entry_in_current_term():
            self._pending_reads.append(m)
            return
        self.read_only.add_request(self.log.committed, m.frm, m.context)
        self.read_only.recv_ack(self.id, m.context)
        self._bcast_heartbeat(m.context)

    def _answer_read(self, requester: int, index: int, ctx: bytes) -> None:
        if requester in (NONE, self.id):
            self.read_states.append(ReadState(index=index, ctx=ctx))
        else:
            self._send(Message(T.MsgReadIndexResp, to=requester, index=index, context=ctx))

    def _leader_app_resp(self, m: Message, pr: Progress) -> None:
        self._heard(pr)
        if m.reject:
            hint = m.reject_hint
            if m.log_term > 0:
                hint = self.log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, hint):
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                self._send_append(m.frm)
            return
        old_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        if pr.state == ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state == ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
            pr.become_probe()
            pr.become_replicate()
        elif pr.state == ProgressState.REPLICATE:
            pr.inflights.free_le(m.index)
        if self._maybe_commit():
            self._bcast_append()
        elif old_paused:
            self._send_append(m.frm)
        while self._send_append(m.frm, send_if_empty=False):
            pass
        if m.frm == self.lead_transferee and pr.match == self.log.last_index():
            self._send(Message(T.MsgTimeoutNow, to=m.frm))

    def _leader_heartbeat_resp(self, m: Message, pr: Progress) -> None:
        self._heard(pr)
        pr.probe_sent = False
        if pr.state == ProgressState.REPLICATE and pr.inflights.full():
            pr.inflights.free_first_one()
        if pr.state == ProgressState.SNAPSHOT:
            self._send_snap_chunk(m.frm, pr)  # resend the chunk in flight (it may be lost)
        elif pr.match < self.log.last_index():
            self._send_append(m.frm)
        if not m.context:
            return
        acks = self.read_only.recv_ack(m.frm, m.context)
        if acks is None or not self.tracker.has_quorum(acks):
            return
        for rs in self.read_only.advance(m.context):
            self._answer_read(rs.requester, rs.index, rs.ctx)

    def _leader_transfer(self, transferee: int, pr: Progress) -> None:
        if pr.is_learner or transferee not in self.tracker.voters:
            return
        if transferee in (self.id, self.lead_transferee):
            return
        self.election_elapsed = 0
        self.lead_transferee = transferee
        if pr.match == self.log.last_index():
            self._send(Message(T.MsgTimeoutNow, to=transferee))
        else:
            self._send_append(transferee)

    # ---------------------------------------------------------------- replication
    def _bcast_append(self) -> None:
        for i in self.tracker.ids():
            if i != self.id:
                self._send_append(i)

    def _bcast_heartbeat(self, ctx: bytes) -> None:
        for i in self.tracker.ids():
            if i == self.id:
                continue
            pr = self.tracker.progress[i]
            commit = min(pr.match, self.log.committed)
            self._send(Message(T.MsgHeartbeat, to=i, commit=commit, context=ctx))

    def _send_append(self, to: int, send_if_empty: bool = True) -> bool:
        pr = self.tracker.progress[to]
        if pr.is_paused():
            return False
        prev_term = self.log.term(pr.next - 1)
        try:
            ents = self.log.entries(pr.next, self.config.max_size_per_msg)
        except LogCompacted:
            ents = None
        if ents is not None and len(ents) > self.config.max_entries_per_msg:
            ents = ents[: self.config.max_entries_per_msg]
        if not ents and not send_if_empty:
            return False
        if prev_term is None or ents is None:
            return self._start_snapshot(to, pr)
        self._send(
            Message(
                T.MsgApp,
                to=to,
                index=pr.next - 1,
                log_term=prev_term,
                entries=tuple(ents),
                commit=self.log.committed,
            )
        )
        if ents and pr.state == ProgressState.REPLICATE:
            last = ents[-1].index
            pr.optimistic_update(last)
            pr.inflights.add(last)
        elif pr.state == ProgressState.PROBE:
            pr.probe_sent = True
        return True

    def _start_snapshot(self, to: int, pr: Progress) -> bool:
        if not self._recently_heard(pr):
            return False  # do not ship a snapshot to a member that seems down
        try:
            snap = self.log.snapshot()
        except SnapshotTemporarilyUnavailable:
            return False
        if snap.is_empty():
            raise AssertionError("need a non-empty snapshot to catch a follower up")
        pr.become_snapshot(snap.meta.index)
        self._send_snap_chunk(to, pr)
        return True

    def _send_snap_chunk(self, to: int, pr: Progress) -> None:
        snap = self.log.snapshot()
        if snap.meta.index != pr.pending_snapshot:
            pr.become_probe()  # a newer snapshot replaced it: start over from probing
            return
        off = min(pr.snap_offset, len(snap.data))
        chunk = snap.data[off : off + self.config.snapshot_chunk_size]
        self._send(
            Message(
                T.MsgSnap,
                to=to,
                snapshot=snap.meta,
                snap_data=chunk,
                snap_offset=off,
                snap_total=len(snap.data),
            )
        )

    # ---------------------------------------------------------------- membership
    def _apply_conf_change(self, cc: ConfChange) -> None:
        apply_conf_change(self.tracker, cc, self.log.last_index() + 1, self.ticks)
        if self.role != StateType.LEADER:
            return
        if self.id not in self.tracker.voters:
            self._become_follower(self.term, NONE)  # we were removed (or demoted): step down
            return
        if self.lead_transferee != NONE and self.lead_transferee not in self.tracker.voters:
            self.lead_transferee = NONE
        if self._maybe_commit():
            self._bcast_append()
        else:
            for i in self.tracker.ids():
                if i != self.id and self.tracker.progress[i].match == 0:
                    self._send_append(i)
