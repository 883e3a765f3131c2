"""The Raft engine of a store member: the asyncio shell around the pure ``RaftNode``.

One ready loop does, for each ``Ready``: persist (entries, hard state, snapshot; one
fsync per Ready, so concurrent writes share it: group commit) -> send -> hand the
committed entries to the apply task -> advance. A ticker ticks the node every ``tick_s``.
Everything that feeds the node (peer messages, proposals, reads) wakes the loop.

The apply task applies committed entries in log order, in slices of at most
``APPLY_SLICE_S`` of the loop (a large command is applied in steps, see
``KVStore.apply_steps``), so a long apply never keeps the ready loop from sending
heartbeats and votes. It also answers read indexes once applied and takes snapshots
between two entries. The ready loop waits for it only before a Ready that carries a
snapshot or a membership change (as etcd does), so the core's membership and the applied
state never disagree in a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

from reconciler.base.errors import NoSpace, StoreUnavailable
from reconciler.daemon import store_gc
from reconciler.daemon.store_member import StoreMember
from reconciler.daemon.store_membership import MembershipMixin
from reconciler.daemon.store_peers import PeerInfo, peer_target, port_refuses
from reconciler.daemon.store_reads import READ_TIMEOUT_S, ReadIndexMixin
from reconciler.daemon.store_snapshots import APPLY_SLICE_S, SnapshotMixin
from reconciler.persist.durable import RaftDisk
from reconciler.raft.errors import ProposalDropped
from reconciler.raft.node import RaftNode
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import (
    ConfChange,
    ConfChangeType,
    Config,
    Entry,
    EntryType,
    Message,
    MsgType,
    Ready,
    Snapshot,
    StateType,
)
from reconciler.transport.etcd_backend import NO_LEADER
from reconciler.transport.peer import PeerSender

log = logging.getLogger(__name__)

SNAPSHOT_COUNT = (
    100_000  # applied entries between snapshots (etcd's default) (then the log is compacted)
)
TRACE = bool(os.environ.get("HACTL_STORE_TRACE"))
# a follower fsyncs on the loop (1) or in a worker thread (0): it can send nothing before
# the sync anyway, and an fdatasync here (~0.2 ms) costs less than the hand-off to a
# thread and back. The leader always syncs in a worker thread: meanwhile its loop keeps
# taking client requests (the next Ready's batch), which measured faster with 16 clients.
SYNC_INLINE = os.environ.get("HACTL_STORE_SYNC_INLINE", "1") == "1"
LEADER_PROBE_DELAYS_S = (0.0, 0.02, 0.1)  # when the leader's stream ends (see _check_leader)
STALL_WARN_S = 0.15  # a longer hold of the loop is logged (see docs/store.md, timing)


def _wal_delay_s(name: str) -> float:
    """A fault for tests: ``HACTL_STORE_WAL_DELAY=m1=700`` makes member m1's every WAL
    write take 700 ms longer (a slow disk on demand; this machine has no delay device)."""
    for item in os.environ.get("HACTL_STORE_WAL_DELAY", "").split(","):
        who, _, ms = item.partition("=")
        if who == name and ms:
            return int(ms) / 1000.0
    return 0.0


class RaftEngine(ReadIndexMixin, MembershipMixin, SnapshotMixin):
    def __init__(
        self,
        member: StoreMember,
        storage: MemoryStorage,
        rng: random.Random,
        *,
        tick_s: float = 0.1,
        election_tick: int = 10,
        snapshot_count: int = SNAPSHOT_COUNT,
        disk: RaftDisk | None = None,
        credentials: object | None = None,
    ) -> None:
        self.member = member
        self.storage = storage
        self.tick_s = tick_s
        self.disk = disk
        self.snapshot_count = snapshot_count
        # members snapshot up to a tenth of the interval apart (a fixed offset per member):
        # all of them writing a large snapshot file at the same index stalled both
        # followers' WAL syncs on a shared disk at once, and the leader, hearing from no
        # follower, stepped down by check-quorum; one follower at a time keeps a quorum
        self.snapshot_due = snapshot_count + member.member_id % (snapshot_count // 10 + 1)
        self.keep_after_snapshot = max(1, snapshot_count // 4)  # for slow followers
        self.credentials = credentials
        # few appends in flight per follower: proposals that arrive meanwhile wait in the
        # leader's log and leave in one larger append (fewer messages and fsyncs per write)
        cfg = Config(
            id=member.member_id,
            election_tick=election_tick,
            heartbeat_tick=1,
            max_inflight_msgs=int(os.environ.get("HACTL_STORE_INFLIGHT", "1")),
        )
        self.node = RaftNode(cfg, storage, rng)
        self.peers: dict[int, PeerInfo] = {}
        self.senders: dict[int, PeerSender] = {}
        self._wake = asyncio.Event()
        self._applied = storage.snapshot().meta.index
        self._lead = 0
        self._leadership = (0, 0)  # the last leader known, and its term
        self._role = StateType.FOLLOWER
        self._init_reads()
        self._conf_waiters: dict[int, asyncio.Future[None]] = {}
        self._since_snapshot = 0
        self._snapshotting = False
        self._snapshot_ready: Snapshot | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._apply_q: deque[tuple[Entry, ...]] = deque()
        self._apply_wake = asyncio.Event()
        self._apply_progress = asyncio.Event()
        self._queued = self._applied  # the last index handed to the apply task
        self._draining = False  # the ready loop waits for the apply task (no snapshot now)
        self.last_tick = 0.0  # monotonic time of the last tick (a stall watchdog reads it)
        hs0 = storage.initial_state()[0]
        self._synced_term_vote = (hs0.term, hs0.vote)
        self._tasks: list[asyncio.Task[None]] = []
        self._probes: set[asyncio.Task[None]] = set()
        self._keepalive: asyncio.TimerHandle | None = None  # heartbeats during a slow sync
        self._wal_delay_s = _wal_delay_s(member.cfg.name)
        self.leader_call_fn: Callable[[str, int], Awaitable[int | None]] | None = None

    # --- membership bookkeeping ---------------------------------------------------------

    def bootstrap(self, founders: list[PeerInfo]) -> None:
        self.node.bootstrap(
            [ConfChange(ConfChangeType.ADD_VOTER, p.id, p.encode()) for p in founders]
        )

    def set_peer(self, info: PeerInfo) -> None:
        self.peers[info.id] = info
        if info.id == self.member.member_id or not info.peer_urls:
            return
        target = peer_target(info.peer_urls[0])
        current = self.senders.get(info.id)
        if current is not None and current.target == target:
            return
        old = self.senders.pop(info.id, None)
        if old is not None:
            asyncio.get_running_loop().create_task(old.close())
        s = PeerSender(
            self.member.cluster_id,
            self.member.member_id,
            info.id,
            target=target,
            credentials=self.credentials,  # type: ignore[arg-type]
            on_unreachable=self._unreachable,
        )
        self.senders[info.id] = s
        s.start()

    def _drop_peer(self, node_id: int) -> None:
        self.peers.pop(node_id, None)
        s = self.senders.pop(node_id, None)
        if s is not None:
            asyncio.get_running_loop().create_task(s.close())

    def _unreachable(self, peer_id: int) -> None:
        pass  # Raft's probing and heartbeats recover the link

    def peer_stream_ended(self, peer_id: int) -> None:
        """A peer's stream to us ended. When it was our leader's, find out at once whether
        the leader's process is gone (its peer port refuses connections) instead of waiting
        out an election timeout of silence; then a new leader is elected within a few
        ticks (``RaftNode.peer_down``)."""
        info = self.peers.get(peer_id)
        if peer_id != self.node.lead or info is None or not info.peer_urls or not self._tasks:
            return
        target = peer_target(info.peer_urls[0])
        task = asyncio.get_running_loop().create_task(self._check_leader(peer_id, target))
        self._probes.add(task)
        task.add_done_callback(self._probes.discard)

    async def _check_leader(self, peer_id: int, target: str) -> None:
        # a killed process's connections may close a moment before its listening socket:
        # a connection accepted right then proves nothing, so look again shortly after
        for delay in LEADER_PROBE_DELAYS_S:
            await asyncio.sleep(delay)
            if self.node.lead != peer_id:
                return
            if await port_refuses(target):
                log.warning(
                    "leader %x is down (its peer port %s refuses connections): electing now",
                    peer_id,
                    target,
                )
                self.node.peer_down(peer_id)
                self._wake.set()
                return

    def known_peer(self, node_id: int) -> bool:
        return node_id in self.peers or node_id in self.node.conf_state().members()

    # --- the LogEngine port -------------------------------------------------------------

    def is_leader(self) -> bool:
        return self._role == StateType.LEADER

    def leader_id(self) -> int:
        return self._lead

    def term(self) -> int:
        return self.node.term

    def commit_index(self) -> int:
        return self.node.log.committed

    def applied_index(self) -> int:
        return self._applied

    def step(self, m: Message) -> None:
        if TRACE:
            log.warning("T step %s from %d", m.type.name, m.frm % 1000)
        self.node.step(m)
        self._wake.set()

    async def propose(self, data: bytes) -> None:
        try:
            self.node.propose(data)
        except ProposalDropped as exc:
            raise StoreUnavailable(NO_LEADER) from exc
        self._wake.set()

    async def leader_call(self, what: str, lease_id: int) -> int:
        lead = self._lead
        sender = self.senders.get(lead)
        if sender is None:
            raise StoreUnavailable(NO_LEADER)
        ttl, err = await sender.lease_call(what, lease_id, READ_TIMEOUT_S)
        if err:
            raise StoreUnavailable(err)
        return ttl

    # --- the loops ----------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        snap = self.storage.snapshot()
        if not snap.is_empty():
            self.restore_state(snap.data)
        store_gc.configure()
        self._tasks = [
            loop.create_task(self._ticker()),
            loop.create_task(self._ready_loop()),
            loop.create_task(self._apply_loop()),
            loop.create_task(store_gc.full_collections(self.is_leader)),
        ]
        if self.node.conf_state().voters == (self.member.member_id,):
            self.node.campaign()  # a cluster of one need not wait out an election timeout
            self._wake.set()

    async def stop(self) -> None:
        for t in [*self._tasks, *self._probes]:
            t.cancel()
        for t in [*self._tasks, *self._probes]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        for s in list(self.senders.values()):
            await s.close()

    async def _ticker(self) -> None:
        """One tick every ``tick_s``; a loop held longer is logged (it delays heartbeats).

        After a stall the node gets one tick, not one per tick missed: the peers'
        messages that arrived meanwhile are still unread, and counting the stall as
        silence would start an election against a leader that kept sending.
        """
        loop = asyncio.get_running_loop()
        due = loop.time() + self.tick_s
        self.last_tick = time.monotonic()
        if os.environ.get("HACTL_STORE_STALL_STACKS") == "1":
            from reconciler.daemon import store_watchdog

            store_watchdog.start(lambda: self.last_tick, 2 * self.tick_s)
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            now = loop.time()
            late = now - due
            if late > STALL_WARN_S:
                log.warning("event loop held for %.0f ms: Raft ticks were late", late * 1000)
            due = (due if late < self.tick_s else now) + self.tick_s
            self.last_tick = time.monotonic()
            self.node.tick()
            self._wake.set()

    async def _ready_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._snapshot_ready is not None:
                await self._record_snapshot()
            self._issue_reads()
            while self.node.has_ready():
                rd = self.node.ready()
                if TRACE:
                    log.warning(
                        "T ready ents=%d committed=%d msgs=%s",
                        len(rd.entries),
                        len(rd.committed_entries),
                        [(m.type.name, m.to % 1000, len(m.entries), m.commit) for m in rd.messages],
                    )
                early = self._may_send_before_sync(rd)
                later: list[Message] = []
                if early:
                    later = self._send(rd, defer=bool(rd.committed_entries))
                if self.disk is not None and self._must_sync(rd):
                    await self._write_disk(rd, inline=SYNC_INLINE and not early)
                self._persist_in_memory(rd)
                if not early:
                    self._send(rd)
                await self._apply(rd)
                if later:
                    # after the apply task's turn: the clients it answers go first
                    asyncio.get_running_loop().call_soon(self._send_msgs, later)
                self.node.advance(rd)
                self._after_advance(rd)
            self._answer_reads()

    def _may_send_before_sync(self, rd: Ready) -> bool:
        """A leader may send its appends while it fsyncs them (Raft thesis 10.2.1).

        Safe here because the next Ready is taken only after this one is on disk: a commit
        index that counted the leader's own, not yet durable, copy reaches no one (no
        message, no apply, no client answer) before that copy is durable. Not when the term
        or vote changes or a snapshot comes: those must be on disk before any message.
        """
        if rd.soft_state.role != StateType.LEADER or rd.snapshot is not None:
            return False
        hs = rd.hard_state
        return hs is None or (hs.term, hs.vote) == self._synced_term_vote

    def _must_sync(self, rd: Ready) -> bool:
        """etcd's rule: sync for new entries, a snapshot, or a changed term or vote.

        A Ready that only moves the commit index is not written: a lower commit index on
        disk is safe (a restarted member learns the commit from the leader again), and it
        spares an fsync per round on every member.
        """
        if rd.entries or rd.snapshot is not None:
            return True
        hs = rd.hard_state
        if hs is None:
            return False
        return (hs.term, hs.vote) != self._synced_term_vote

    async def _write_disk(self, rd: Ready, *, inline: bool = False) -> None:
        """Snapshot file, then WAL records and one fdatasync, in a worker thread.

        While it runs the loop keeps accepting proposals, so the next Ready carries all
        of them: one fsync per batch (group commit). On a full disk the member raises the
        NOSPACE alarm, fails the waiting writes and retries until space comes back; it
        never acknowledges or sends anything that is not on disk.
        """
        disk = self.disk
        assert disk is not None and disk.wal is not None
        wal = disk.wal
        mark = None
        if rd.snapshot is not None:
            from reconciler.persist.codec import SnapshotMark

            mark = SnapshotMark(rd.snapshot.meta.index, rd.snapshot.meta.term)

        def write() -> None:
            if self._wal_delay_s:
                time.sleep(self._wal_delay_s)
            if rd.snapshot is not None:
                disk.snapshotter.save(rd.snapshot)
            wal.save(rd.hard_state, rd.entries, mark)
            if rd.hard_state is not None:
                self._synced_term_vote = (rd.hard_state.term, rd.hard_state.vote)

        loop = asyncio.get_running_loop()
        while True:
            try:
                began = time.monotonic()
                if inline:
                    write()
                else:
                    self._keepalive = loop.call_later(self.tick_s, self._heartbeat_during_sync)
                    try:
                        await loop.run_in_executor(None, write)
                    finally:
                        self._keepalive.cancel()
                took = time.monotonic() - began
                if took > STALL_WARN_S:  # messages (heartbeats too) waited for the disk
                    log.warning("WAL write and fsync took %.0f ms", took * 1000)
                return
            except NoSpace as exc:
                log.error("disk full: %s; NOSPACE alarm raised", exc)
                self.member.raise_alarm(1)
                self.member.fail_waiting(exc)
                await asyncio.sleep(1.0)

    def _heartbeat_during_sync(self) -> None:
        """The leader's WAL write has lasted a tick: keep its followers' election timers
        from firing meanwhile.

        The ready loop sends nothing more until the write is durable (nor does etcd's), so
        a slow disk silenced the leader: fsyncs of 500-800 ms were seen here on a busy
        shared disk, longer than the election timeout leaves, and the followers voted.
        These heartbeats carry the current term, which is on disk (a leader syncs in this
        worker thread only for a Ready that changes neither term nor vote), and commit 0:
        a follower never lowers its commit index, so they commit nothing (in particular
        not the entries whose write is still running). Their answers tell check-quorum
        that the followers are there.
        """
        # the core's role, not ``_role``: that one changes only after this Ready's write
        if self.node.role != StateType.LEADER or self.node.term != self._synced_term_vote[0]:
            return
        me, term = self.member.member_id, self.node.term
        for peer_id, sender in self.senders.items():
            sender.send(Message(MsgType.MsgHeartbeat, to=peer_id, frm=me, term=term))
        loop = asyncio.get_running_loop()
        self._keepalive = loop.call_later(self.tick_s, self._heartbeat_during_sync)

    def _persist_in_memory(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            self.storage.apply_snapshot(rd.snapshot)
        if rd.entries:
            self.storage.append(rd.entries)
        if rd.hard_state is not None:
            self.storage.set_hard_state(rd.hard_state)

    def _send(self, rd: Ready, *, defer: bool = False) -> list[Message]:
        """Send ``rd``'s messages. With ``defer`` (a leader's Ready with committed
        entries) send now only what the next commit or a waiting client needs: appends
        carrying entries, and the commit notice of a follower that proposed one of the
        committed entries (its client waits for it); return the rest (other commit
        notices, heartbeats) to send once the apply task has answered the leader's own
        clients."""
        if not defer:
            self._send_msgs(rd.messages)
            return []
        proposers = {self.member.proposer_of(e.data) for e in rd.committed_entries}
        now = [m for m in rd.messages if m.entries or m.to in proposers]
        self._send_msgs(now)
        return [m for m in rd.messages if not (m.entries or m.to in proposers)]

    def _send_msgs(self, msgs: list[Message] | tuple[Message, ...]) -> None:
        for m in msgs:
            s = self.senders.get(m.to)
            if s is not None:
                s.send(m)

    async def _apply(self, rd: Ready) -> None:
        """Hand ``rd``'s committed entries to the apply task (waiting for it only when
        ``rd`` carries a snapshot or a membership change)."""
        ss = rd.soft_state
        if ss.lead != self._lead or ss.role != self._role:
            if ss.lead != self._lead:
                log.info("leader is now %x (term %d)", ss.lead, self.node.term)
            if ss.lead and (ss.lead, self.node.term) != self._leadership:
                if self._leadership[0]:
                    self._leadership_changed()
                self._leadership = (ss.lead, self.node.term)
            self._lead, self._role = ss.lead, ss.role
        self._read_states_in(rd.read_states)
        if rd.snapshot is not None and not rd.snapshot.is_empty():
            await self._drain(self._queued)
            await self.restore_state_async(rd.snapshot.data)
            log.info(
                "restored from a snapshot at index %d (term %d) sent by the leader",
                rd.snapshot.meta.index,
                rd.snapshot.meta.term,
            )
            self._applied = max(self._applied, rd.snapshot.meta.index)
            self._queued = max(self._queued, self._applied)
            self._progress()
        ents = tuple(e for e in rd.committed_entries if e.index > self._queued)
        if not ents:
            return
        self._apply_q.append(ents)
        self._queued = ents[-1].index
        self._apply_wake.set()
        if any(e.type != EntryType.NORMAL for e in ents):
            await self._drain(self._queued)

    async def _drain(self, index: int) -> None:
        """Wait until the apply task applied up to ``index``."""
        self._draining = True
        try:
            while self._applied < index:
                ev = self._apply_progress
                await ev.wait()
        finally:
            self._draining = False

    async def _apply_loop(self) -> None:
        """Apply committed entries in log order, giving the loop back every few ms."""
        while True:
            await self._apply_wake.wait()
            self._apply_wake.clear()
            began = time.monotonic()
            while self._apply_q:
                ents = self._apply_q.popleft()
                for e in ents:
                    if e.index <= self._applied:
                        continue
                    if e.type == EntryType.NORMAL:
                        for _ in self.member.apply_entry_steps(e.data):
                            if time.monotonic() - began > APPLY_SLICE_S:
                                await asyncio.sleep(0)
                                began = time.monotonic()
                    else:
                        self._apply_conf(ConfChange.decode(e.data))
                    self._applied = e.index
                    self._since_snapshot += 1
                    if time.monotonic() - began > APPLY_SLICE_S:
                        self._progress()
                        await asyncio.sleep(0)
                        began = time.monotonic()
                self._progress()
                if self._since_snapshot >= self.snapshot_due and not self._snapshotting:
                    await self._take_snapshot()
                    began = time.monotonic()

    def _progress(self) -> None:
        self._answer_reads()
        ev, self._apply_progress = self._apply_progress, asyncio.Event()
        ev.set()

    def _apply_conf(self, cc: ConfChange) -> None:
        if cc.type == ConfChangeType.REMOVE_NODE:
            self._drop_peer(cc.node_id)
        else:
            info = PeerInfo.decode(cc.node_id, cc.context)
            old = self.peers.get(cc.node_id)
            if old is None or old.peer_urls != info.peer_urls or not old.name:
                self.set_peer(info if info.peer_urls or old is None else old)
        fut = self._conf_waiters.pop(cc.node_id, None)
        if fut is not None and not fut.done():
            fut.set_result(None)
        self.member.notify_applied()

    def _after_advance(self, rd: Ready) -> None:
        pass

    def _leadership_changed(self) -> None:
        """Another leadership (another leader, or a new term) took over.

        A proposal or a ReadIndex forwarded to the old one is lost with it (or, for a
        proposal, committed by the next one): no answer comes from where it went, and the
        client would wait out the request timeout. Fail them as indeterminate now, as a
        timeout would, so that the client retries at once. Not when the leader is merely
        unknown for a moment (a follower whose election timer fired becomes a
        pre-candidate and forgets it): if the same leader of the same term is heard again,
        the answers still come, and failing then failed hundreds of writes under load for
        no leader change at all.
        """
        self._fail_inflight_reads()
        self.member.fail_waiting(StoreUnavailable("etcdserver: leader changed"))
