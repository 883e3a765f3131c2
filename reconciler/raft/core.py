"""The Raft core's state and its follower/candidate side (elections, appends, snapshots).

``RaftCore`` holds the state machine's variables and handles every message a follower,
pre-candidate or candidate sees; ``LeaderCore`` (leader.py) adds the leader's side and
``RaftNode`` (node.py) the public API. Split only to keep modules small: one class chain.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from reconciler.raft.errors import LogCompacted, ProposalDropped
from reconciler.raft.log import RaftLog
from reconciler.raft.progress import Progress, ProgressTracker
from reconciler.raft.readonly import ReadOnly
from reconciler.raft.storage import Storage
from reconciler.raft.types import (
    COMMIT_NOTICE,
    NONE,
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MsgType,
    ReadState,
    Snapshot,
    SnapshotMeta,
    SoftState,
    StateType,
)

T = MsgType
TRANSFER_CONTEXT = b"CampaignTransfer"
_VOTE_RESP = {T.MsgVote: T.MsgVoteResp, T.MsgPreVote: T.MsgPreVoteResp}


class RaftCore:
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
        self.uncommitted_bytes = 0
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.ticks = 0  # ticks seen; the leader's clock for check-quorum
        self.randomized_election_timeout = config.election_tick
        self._snap_meta: SnapshotMeta | None = None  # a snapshot being assembled from chunks
        self._snap_buf = bytearray()
        self._become_follower(self.term, NONE)
        self._prev_hs = hs
        self._prev_ss = self._soft_state()

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
        self.uncommitted_bytes = 0  # proposal bytes appended by us as leader, not yet applied
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
        elif t == T.MsgReadIndexResp:
            # answered by the leader this node forwarded the read to, before its election
            # timer fired: still a linearizable index (the leader confirmed its lease after
            # the request reached it); dropping it left the reader waiting for a timeout
            self.read_states.append(ReadState(index=m.index, ctx=m.context))
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
            if m.context == COMMIT_NOTICE and not m.entries:
                return  # nothing new for the leader to learn (see COMMIT_NOTICE)
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

    # ---------------------------------------------------------------- the leader's side
    def _step_leader(self, m: Message) -> None:
        raise NotImplementedError

    def _bcast_append(self) -> None:
        raise NotImplementedError

    def _append_entries(self, ents: Sequence[Entry]) -> None:
        raise NotImplementedError
