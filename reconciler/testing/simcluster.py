"""Deterministic simulation of a Raft cluster: N members in one process, one seed.

Members run ``RaftNode`` with the shell's real order of effects (persist -> send ->
apply -> advance) over a ``SimNetwork`` that drops, delays, duplicates and reorders
messages and is partitioned and healed at random. Members crash (keeping only what was
fsynced, sometimes a torn prefix of the last write) and restart from their ``SimDisk``.
Clients put/get/cas/delete through random members; their history is checked for
linearizability at the end. Invariants are checked after every step; a violation raises
``SimFailure`` naming the seed.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.raft.errors import ProposalDropped
from reconciler.raft.node import RaftNode
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import (
    ConfChange,
    ConfChangeType,
    Config,
    Entry,
    EntryType,
    ReadState,
    Ready,
    StateType,
)
from reconciler.testing import linearizability as lin
from reconciler.testing.simdisk import SimDisk
from reconciler.testing.simkv import KVApp, encode_request
from reconciler.testing.simnet import RELIABLE, NetFaults, SimNetwork
from reconciler.testing.waldisk import WalDisk


class SimFailure(AssertionError):
    pass


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int
    members: int = 3
    witnesses: int = 0  # the last ``witnesses`` members are witnesses
    chaos_steps: int = 400
    heal_bound: int = 120  # steps after healing within which the cluster must commit
    clients: int = 3
    keys: int = 2
    client_timeout: int = 40
    snapshot_every: int = 12  # applied entries between snapshots (small: exercise installs)
    snapshot_chunk: int = 48  # bytes per MsgSnap (small: exercise chunking)
    election_tick: int = 10
    p_crash: float = 0.012  # per step
    p_restart: float = 0.05  # per step, per crashed member
    p_torn: float = 0.3  # a crash happens mid-write with this probability
    p_partition: float = 0.015
    p_heal: float = 0.03
    p_conf: float = 0.0  # per step: add a learner / promote it / remove a voter
    # a crashed member's followers are told it is down (its port refuses) with this
    # probability each; and per step, a wrong report (the peer may well be alive)
    p_peer_down: float = 0.6
    p_false_down: float = 0.01
    guards: bool = True  # pre-vote and check-quorum (off: many more competing elections)
    max_fsync_steps: int = 0  # a Ready's fsync takes 0..N steps; the node is stepped meanwhile
    disk_dir: str | None = None  # members write the real WAL and snapshot files under here
    net: NetFaults = field(default_factory=NetFaults)


@dataclass
class SimMember:
    id: int
    disk: SimDisk | WalDisk
    node: RaftNode | None = None
    storage: MemoryStorage | None = None
    app: KVApp = field(default_factory=KVApp)
    reads: list[ReadState] = field(default_factory=list)
    max_commit: int = 0  # within this life
    lives: int = 0
    retired: bool = False  # removed from the cluster and stopped for good
    writing: Ready | None = None  # a Ready whose fsync is in progress
    write_done_at: int = 0

    @property
    def alive(self) -> bool:
        return self.node is not None


@dataclass
class Pending:
    client: int
    member: int
    kind: str
    key: str
    value: str | None
    expected: str | None
    call: int
    deadline: int
    req_id: str


class SimCluster:
    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.net = SimNetwork(random.Random(self.rng.random()), cfg.net)
        self.now = 0
        self.clock = 0  # history event counter: every call/return gets a distinct time
        self.ids = list(range(1, cfg.members + 1))
        wit = set(self.ids[len(self.ids) - cfg.witnesses :]) if cfg.witnesses else set()
        self.peers = [
            ConfChange(ConfChangeType.ADD_WITNESS if i in wit else ConfChangeType.ADD_VOTER, i)
            for i in self.ids
        ]
        self.members = {i: SimMember(i, self._new_disk(i)) for i in self.ids}
        self.leader_of_term: dict[int, int] = {}
        self.committed: dict[int, tuple[int, bytes]] = {}  # index -> (term, data), all members
        # index -> lowest current term of a member when it saw the entry committed: every
        # leader of a higher term must hold the entry (leader completeness)
        self.committed_by_term: dict[int, int] = {}
        self.pending: dict[int, Pending] = {}  # client -> its outstanding op
        self.history: list[lin.Op] = []
        self.acked_writes: set[str] = set()
        self.seq = 0
        self.log: list[str] = []  # what happened, for a failure report
        self.next_id = cfg.members + 1  # ids are never reused after a removal
        for i in self.ids:
            self._start(i, bootstrap=True)

    # ------------------------------------------------------------------ lifecycle
    def _new_disk(self, i: int) -> SimDisk | WalDisk:
        if self.cfg.disk_dir is None:
            return SimDisk()
        return WalDisk(Path(self.cfg.disk_dir) / f"member-{i}")

    def _start(self, i: int, bootstrap: bool = False) -> None:
        m = self.members[i]
        storage = m.disk.recover()
        cfg = Config(
            id=i,
            election_tick=self.cfg.election_tick,
            snapshot_chunk_size=self.cfg.snapshot_chunk,
            max_entries_per_msg=8,
            max_inflight_msgs=4,
            pre_vote=self.cfg.guards,
            check_quorum=self.cfg.guards,
        )
        node = RaftNode(cfg, storage, random.Random(self.rng.random()))
        if bootstrap:
            node.bootstrap(self.peers)
        snap = storage.snapshot()
        m.app = KVApp.restore(snap.data, snap.meta.index)
        m.node, m.storage, m.reads = node, storage, []
        m.max_commit = node.log.committed
        m.lives += 1

    def crash(self, i: int, torn_ready: bool = False) -> None:
        m = self.members[i]
        assert m.node is not None
        if torn_ready and m.writing is not None:
            m.disk.persist(m.writing, torn=self.rng)
        elif torn_ready and m.node.has_ready():
            m.disk.persist(m.node.ready(), torn=self.rng)
        m.writing = None
        m.disk.crash()
        m.node = None
        m.storage = None
        self.note(f"crash {i}" + (" mid-write" if torn_ready else ""))
        for j in self.ids:
            other = self.members[j].node
            if other is not None and other.lead == i and self.rng.random() < self.cfg.p_peer_down:
                other.peer_down(i)
                self.note(f"{j} told {i} is down")
        for c, p in list(self.pending.items()):
            if p.member == i:
                self._give_up(c)

    def restart(self, i: int) -> None:
        self._start(i)
        self.note(f"restart {i}")

    def note(self, what: str) -> None:
        self.log.append(f"[{self.now}] {what}")

    # ------------------------------------------------------------------ one step
    def step(self, chaos: bool) -> None:
        self.now += 1
        if chaos:
            self._faults()
        for msg in self.net.due(self.now):
            m = self.members[msg.to]
            if m.node is not None:
                m.node.step(msg)
        for i in self.ids:
            node = self.members[i].node
            if node is not None:
                node.tick()
        for i in self.ids:
            self._handle_ready(i)
        self._clients(chaos)
        self._check()

    def _faults(self) -> None:
        r = self.rng
        c = self.cfg
        alive = [i for i in self.ids if self.members[i].alive]
        if alive and r.random() < c.p_crash:
            self.crash(r.choice(alive), torn_ready=r.random() < c.p_torn)
        for i in self.ids:
            m = self.members[i]
            if not m.alive and not m.retired and r.random() < c.p_restart:
                self.restart(i)
        if alive and r.random() < c.p_false_down:
            j, k = r.choice(alive), r.choice(self.ids)
            node = self.members[j].node
            if node is not None:
                node.peer_down(k)
                self.note(f"{j} wrongly told {k} is down")
        if r.random() < c.p_partition:
            ids = self.ids[:]
            r.shuffle(ids)
            k = r.randint(1, len(ids) - 1)
            a, b = set(ids[:k]), set(ids[k:])
            self.net.partition(a, b)
            self.note(f"partition {sorted(a)} | {sorted(b)}")
        elif self.net.blocked and r.random() < c.p_heal:
            self.net.heal()
            self.note("heal")
        if c.p_conf and r.random() < c.p_conf:
            self._membership_change()

    def _membership_change(self) -> None:
        """Add a learner, promote a caught-up learner, or remove a voter (keeping >= 3)."""
        leaders = [m for m in self.members.values() if m.node and m.node.role == StateType.LEADER]
        if not leaders:
            return
        leader = max(leaders, key=lambda m: m.node.term if m.node else 0)
        node = leader.node
        assert node is not None
        cs = node.conf_state()
        if cs.learners:
            lid = cs.learners[0]
            lm = self.members.get(lid)
            if lm is None or lm.app.applied + 3 < node.log.committed:
                return
            cc = ConfChange(ConfChangeType.ADD_VOTER, lid)
        elif len(cs.voters) < self.cfg.members + 1:
            lid = self.next_id
            self.next_id += 1
            self.ids.append(lid)
            self.members[lid] = SimMember(lid, self._new_disk(lid))
            self._start(lid)  # an empty member: it gets the log from the leader
            cc = ConfChange(ConfChangeType.ADD_LEARNER, lid)
        else:
            candidates = [v for v in cs.voters if v not in cs.witnesses]
            cc = ConfChange(ConfChangeType.REMOVE_NODE, self.rng.choice(candidates))
        try:
            node.propose_conf_change(cc)
        except ProposalDropped:
            return
        self.note(f"leader {leader.id} proposes {cc.type.name} {cc.node_id}")

    def _handle_ready(self, i: int) -> None:
        """Take a Ready and, once its fsync is done (maybe some steps later, while the node
        keeps being stepped, as the store's asyncio shell does), finish it."""
        m = self.members[i]
        node = m.node
        if node is None:
            return
        if m.writing is None:
            if not node.has_ready():
                return
            m.writing = node.ready()
            m.write_done_at = self.now + self.rng.randint(0, self.cfg.max_fsync_steps)
        if self.now < m.write_done_at:
            return
        rd, m.writing = m.writing, None
        self._finish_ready(i, rd)

    def _finish_ready(self, i: int, rd: Ready) -> None:
        m = self.members[i]
        node = m.node
        assert node is not None and m.storage is not None
        # 1. persist (fsync), and mirror into the in-memory storage
        m.disk.persist(rd)
        if rd.snapshot is not None:
            m.storage.apply_snapshot(rd.snapshot)
        m.storage.append(rd.entries)
        if rd.hard_state is not None:
            m.storage.set_hard_state(rd.hard_state)
        # 2. send
        for msg in rd.messages:
            self.net.send(self.now, msg)
        # 3. apply
        if rd.snapshot is not None and rd.snapshot.meta.index > m.app.applied:
            m.app = KVApp.restore(rd.snapshot.data, rd.snapshot.meta.index)
        removed = False
        for e in rd.committed_entries:
            if e.index <= m.app.applied:
                continue
            if e.type == EntryType.CONF_CHANGE:
                cc = ConfChange.decode(e.data)
                removed = removed or (cc.type == ConfChangeType.REMOVE_NODE and cc.node_id == i)
            self._record_commit(i, e, node.term)
            res = m.app.apply(e)
            if res is not None:
                self._write_done(i, *res)
        m.reads.extend(rd.read_states)
        node.advance(rd)
        self._serve_reads(m)
        if removed:
            self.crash(i)
            m.retired = True
            self.note(f"member {i} applied its removal and stops")
            return
        # compaction
        st = m.storage
        if m.app.applied - st.first_index() >= self.cfg.snapshot_every:
            snap = st.create_snapshot(m.app.applied, node.conf_state(), m.app.snapshot_data())
            m.disk.save_snapshot(snap)
            st.compact(max(st.first_index(), m.app.applied - 2))

    # ------------------------------------------------------------------ clients
    def _tick_clock(self) -> int:
        self.clock += 1
        return self.clock

    def _clients(self, chaos: bool) -> None:
        for c, p in list(self.pending.items()):
            if self.now >= p.deadline:
                self._give_up(c)
        if not chaos:
            return
        for c in range(self.cfg.clients):
            if c in self.pending or self.rng.random() < 0.5:
                continue
            self._start_op(c)

    def _start_op(self, c: int) -> None:
        r = self.rng
        alive = [i for i in self.ids if self.members[i].alive]
        if not alive:
            return
        i = r.choice(alive)
        node = self.members[i].node
        assert node is not None
        kind = r.choice(("put", "put", "get", "get", "cas", "delete"))
        key = f"k{r.randrange(self.cfg.keys)}"
        self.seq += 1
        req_id = f"c{c}-{self.seq}"
        value = f"v{self.seq}" if kind in ("put", "cas") else None
        expected = None
        if kind == "cas":
            expected = r.choice((None, *(f"v{s}" for s in range(max(1, self.seq - 6), self.seq))))
        p = Pending(
            c,
            i,
            kind,
            key,
            value,
            expected,
            self._tick_clock(),
            self.now + self.cfg.client_timeout,
            req_id,
        )
        try:
            if kind == "get":
                node.read_index(req_id.encode())
            else:
                node.propose(encode_request(req_id, kind, key, value, expected))
        except ProposalDropped:
            return  # refused up front: it did not happen
        self.pending[c] = p

    def _give_up(self, c: int) -> None:
        p = self.pending.pop(c)
        if p.kind == "get":
            return  # an unanswered read tells nothing
        self.history.append(
            lin.Op(
                client=c,
                kind=p.kind,
                key=p.key,
                call=p.call,
                ret=None,
                value=p.value,
                expected=p.expected,
            )
        )

    def _write_done(self, member: int, req_id: str, result: object) -> None:
        for c, p in self.pending.items():
            if p.req_id == req_id and p.member == member:
                del self.pending[c]
                self.history.append(
                    lin.Op(
                        client=c,
                        kind=p.kind,
                        key=p.key,
                        call=p.call,
                        ret=self._tick_clock(),
                        value=p.value,
                        expected=p.expected,
                        output=result,
                    )
                )
                self.acked_writes.add(req_id)
                return

    def _serve_reads(self, m: SimMember) -> None:
        keep: list[ReadState] = []
        for rs in m.reads:
            if rs.index > m.app.applied:
                keep.append(rs)
                continue
            for c, p in self.pending.items():
                if p.kind == "get" and p.member == m.id and p.req_id.encode() == rs.ctx:
                    del self.pending[c]
                    self.history.append(
                        lin.Op(
                            client=c,
                            kind="get",
                            key=p.key,
                            call=p.call,
                            ret=self._tick_clock(),
                            output=m.app.kv.get(p.key),
                        )
                    )
                    break
        m.reads = keep

    # ------------------------------------------------------------------ invariants
    def fail(self, why: str) -> None:
        tail = "\n".join(self.log[-25:])
        raise SimFailure(f"seed {self.cfg.seed}: {why}\nlast events:\n{tail}")

    def _record_commit(self, i: int, e: Entry, seen_at_term: int) -> None:
        prev = self.committed_by_term.get(e.index, seen_at_term)
        self.committed_by_term[e.index] = min(prev, seen_at_term)
        got = self.committed.setdefault(e.index, (e.term, e.data))
        if got != (e.term, e.data):
            self.fail(
                f"state machine safety: member {i} applies {e.index} as term {e.term} "
                f"{e.data[:40]!r}, another applied term {got[0]} {got[1][:40]!r}"
            )

    def _check(self) -> None:
        for i in self.ids:
            m = self.members[i]
            node = m.node
            if node is None:
                continue
            if node.role == StateType.LEADER:
                first = self.leader_of_term.setdefault(node.term, i)
                if first != i:
                    self.fail(f"election safety: {first} and {i} both lead term {node.term}")
            c = node.log.committed
            if c < m.max_commit:
                self.fail(f"member {i}'s commit index went back from {m.max_commit} to {c}")
            if c > m.max_commit:
                lo = max(m.max_commit + 1, node.log.first_index())
                for idx in range(lo, c + 1):
                    known = self.committed.get(idx)
                    t = node.log.term(idx)
                    if known is not None and t is not None and t != known[0]:
                        self.fail(
                            f"committed entry changed: member {i} has term {t} at {idx}, "
                            f"committed was term {known[0]}"
                        )
                m.max_commit = c

    def check_leader_completeness(self) -> None:
        for i in self.ids:
            node = self.members[i].node
            if node is None or node.role != StateType.LEADER:
                continue
            for idx in range(node.log.first_index(), max(self.committed, default=0) + 1):
                known = self.committed.get(idx)
                if known is None or node.term < self.committed_by_term[idx]:
                    continue  # a leader of an older term may lack it
                if node.log.term(idx) != known[0]:
                    self.fail(f"leader completeness: leader {i} lacks committed entry {idx}")

    # ------------------------------------------------------------------ a whole run
    def run(self) -> None:
        for _ in range(self.cfg.chaos_steps):
            self.step(chaos=True)
            if self.now % 10 == 0:
                self.check_leader_completeness()
        self.heal_all()
        self.await_progress()
        self.finish()

    def heal_all(self) -> None:
        self.net.heal()
        self.net.faults = RELIABLE
        for i in self.ids:
            m = self.members[i]
            if not m.alive and not m.retired:
                self.restart(i)
        self.note("heal all, restart all, reliable network")

    def current_members(self) -> list[int]:
        """The configuration as the most recent leader (else any live member) sees it."""
        nodes = [m.node for m in self.members.values() if m.node is not None]
        if not nodes:
            return []
        best = max(nodes, key=lambda n: (n.role == StateType.LEADER, n.term, n.log.applied))
        return list(best.conf_state().members())

    def await_progress(self) -> None:
        """After healing, a new write must commit everywhere within ``heal_bound`` steps."""
        start = self.now
        marker = f"marker-{self.cfg.seed}"
        data = encode_request(marker, "put", "marker", "m", None)
        while self.now - start < self.cfg.heal_bound:
            self.step(chaos=False)
            members = self.current_members()
            if members and all(
                marker in self.members[i].app.seen for i in members if i in self.members
            ):
                return
            if self.now % 5 == 0:
                for i in self.ids:
                    node = self.members[i].node
                    if node is not None and node.role == StateType.LEADER:
                        with contextlib.suppress(ProposalDropped):
                            node.propose(data)
        roles = {
            i: (m.node.role.name, m.node.term, m.node.log.committed)
            for i, m in self.members.items()
            if m.node is not None
        }
        self.fail(f"no progress within {self.cfg.heal_bound} steps after healing: {roles}")

    def await_convergence(self) -> None:
        """Every member of the configuration applies everything committed (bounded)."""
        for _ in range(self.cfg.heal_bound):
            members = [self.members[i] for i in self.current_members() if i in self.members]
            top = max((m.node.log.committed for m in members if m.node is not None), default=0)
            if all(m.app.applied >= top for m in members):
                return
            self.step(chaos=False)
        state = {i: m.app.applied for i, m in self.members.items() if m.node is not None}
        self.fail(f"members did not converge within {self.cfg.heal_bound} steps: {state}")

    def finish(self) -> None:
        for _ in range(self.cfg.client_timeout + 5):
            if not self.pending:
                break
            self.step(chaos=False)
        for c in list(self.pending):
            self._give_up(c)
        self.await_convergence()
        apps = {i: self.members[i].app for i in self.current_members() if i in self.members}
        for rid in sorted(self.acked_writes):
            for i, app in apps.items():
                if rid not in app.seen:
                    self.fail(f"acknowledged write {rid} lost on member {i}")
        self.check_leader_completeness()
        res = lin.check(self.history)
        if not res.ok:
            self.fail(f"history not linearizable:\n{res.detail}")
