"""The leader's side of the Raft core: proposals, replication, ReadIndex, transfer, membership."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.raft.core import RaftCore
from reconciler.raft.errors import LogCompacted, ProposalDropped, SnapshotTemporarilyUnavailable
from reconciler.raft.membership import apply_conf_change, check_conf_change
from reconciler.raft.progress import Progress, ProgressState
from reconciler.raft.types import (
    COMMIT_NOTICE,
    NONE,
    ConfChange,
    Entry,
    EntryType,
    Message,
    MsgType,
    ReadState,
    StateType,
)

T = MsgType


class LeaderCore(RaftCore):
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
                self._snap_resp(m, pr)
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
        size = sum(len(e.data) for e in m.entries)
        if (
            self.uncommitted_bytes
            and self.uncommitted_bytes + size > self.config.max_uncommitted_bytes
        ):
            raise ProposalDropped("too many uncommitted entries (the cluster cannot keep up)")
        self.uncommitted_bytes += size
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
            pr.snap_sent = pr.snap_acked  # resend what is unconfirmed (it may be lost)
            self._send_snap_window(m.frm, pr)
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
        notice = not ents and pr.state == ProgressState.REPLICATE and pr.match == pr.next - 1
        self._send(
            Message(
                T.MsgApp,
                to=to,
                index=pr.next - 1,
                log_term=prev_term,
                entries=tuple(ents),
                commit=self.log.committed,
                context=COMMIT_NOTICE if notice else b"",
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
        pr.become_snapshot(snap)
        self._send_snap_window(to, pr)
        return True

    def _snap_resp(self, m: Message, pr: Progress) -> None:
        """A follower holds ``m.snap_offset`` bytes of the snapshot being sent.

        An acknowledgement that moves forward opens the window; a refusal (an out-of-order
        or unknown chunk) only moves the pointers: the next heartbeat response resends
        from there, so duplicated refusals cannot start a storm of chunks.
        """
        have = m.snap_offset
        if not m.reject:
            if have > pr.snap_acked:
                pr.snap_acked = have
                pr.snap_sent = max(pr.snap_sent, have)
                self._send_snap_window(m.frm, pr)
            return
        pr.snap_acked = have
        pr.snap_sent = have

    def _send_snap_window(self, to: int, pr: Progress) -> None:
        """Send chunks from ``snap_sent`` while at most ``snapshot_window`` are unconfirmed."""
        snap = pr.snap
        if snap is None:
            return
        total = len(snap.data)
        size = self.config.snapshot_chunk_size
        window = size * self.config.snapshot_window
        first = True
        while (first and total == 0) or (
            pr.snap_sent < total and pr.snap_sent - pr.snap_acked < window
        ):
            first = False
            off = pr.snap_sent
            chunk = snap.data[off : off + size]
            self._send(
                Message(
                    T.MsgSnap,
                    to=to,
                    snapshot=snap.meta,
                    snap_data=chunk,
                    snap_offset=off,
                    snap_total=total,
                )
            )
            pr.snap_sent = off + len(chunk)

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
