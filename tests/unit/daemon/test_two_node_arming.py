"""When the two-node guard may act ("armed"): only after seeing the pair work, in this run,
with itself as a voter — never from a stale configuration (pure core, in-memory network)."""

from __future__ import annotations

import contextlib
import random

from reconciler.daemon.two_node import arms
from reconciler.raft.errors import ProposalDropped
from reconciler.raft.force import FenceProof, force_config
from reconciler.raft.node import RaftNode
from reconciler.raft.types import ConfChange, ConfChangeType, Config
from reconciler.testing.raftnet import Member, RaftNet, log_of

CC = ConfChangeType


def restart(net: RaftNet, i: int, m: Member, max_entries_per_msg: int = 0) -> RaftNode:
    """A new process on the member's persisted state (term, vote, log)."""
    cfg = Config(id=i, max_entries_per_msg=max_entries_per_msg) if max_entries_per_msg else None
    node = RaftNode(cfg or Config(id=i), m.storage, random.Random(i))
    net.members[i] = Member(node=node, storage=m.storage)
    return node


def test_neither_node_is_armed_before_the_pair_has_worked() -> None:
    net = RaftNet([1, 2])
    assert not arms(net.node(1), 2) and not arms(net.node(2), 1)


def test_both_are_armed_once_a_leader_of_the_pair_committed() -> None:
    net = RaftNet([1, 2])
    net.campaign(1)
    assert arms(net.node(1), 2)  # the leader
    assert arms(net.node(2), 1)  # voted for it and holds its committed first entry


def test_a_restarted_node_is_not_armed_until_it_hears_the_pair() -> None:
    net = RaftNet([1, 2])
    net.campaign(1)
    n2 = restart(net, 2, net.members[2])
    assert not arms(n2, 1)  # its persisted vote alone proves nothing
    net.tick(2)  # the leader's heartbeats: the same term, the configuration it voted in
    assert arms(n2, 1)


def test_the_fenced_node_is_armed_again_only_after_the_hand_off() -> None:
    net = RaftNet([1, 2])
    net.campaign(1)
    net.propose(1, b"a")
    old1 = net.members.pop(1)  # node1 is fenced
    force_config(net.node(2), FenceProof((1,), by="node2", device="d"))
    net.process()
    net.propose(2, b"written alone")
    assert not arms(net.node(2), 1)  # a single voter: not a pair
    n1 = restart(net, 1, old1)  # back with its old two-voter configuration
    for _ in range(30):
        net.tick(1)
        assert not arms(n1, 2), "a fenced node armed itself from its stale configuration"
    net.node(2).propose_conf_change(ConfChange(CC.ADD_LEARNER, 1, b"url"))
    net.tick(3)
    assert not arms(n1, 2)  # a learner
    net.node(2).propose_conf_change(ConfChange(CC.ADD_VOTER, 1, b"url"))
    net.tick(3)
    assert arms(net.node(2), 1)  # the leader holds everything
    assert not arms(n1, 2)  # it did not vote in this term: it may lack what 2 wrote alone
    net.node(2).transfer_leader(1)
    net.tick(3)
    assert net.leader() == 1
    assert arms(n1, 2) and arms(net.node(2), 1)
    assert b"written alone" in net.applied_data(1)


def test_an_armed_node_holds_every_committed_entry_under_random_schedules() -> None:
    """Seeded random runs of what the guard does (proposals, lost messages, ticks,
    restarts; an armed node fences its peer and forces; the peer comes back and is
    re-added, promoted, sometimes handed the leadership): whenever a node is armed, its
    log holds every entry either node ever applied, so forcing it would lose nothing."""
    for seed in range(40):
        rng = random.Random(seed)
        net = RaftNet([1, 2], seed=seed)
        net.campaign(1)
        applied_anywhere: set[bytes] = set()
        fenced: tuple[int, Member] | None = None
        for step in range(100):
            r = rng.random()
            with contextlib.suppress(ProposalDropped):
                if r < 0.35 and net.leaders():
                    net.propose(net.leaders()[0], b"%d-%d" % (seed, step))
                elif r < 0.45:
                    net.cut(1, 2) if rng.random() < 0.5 else net.heal()
                elif r < 0.5 and fenced is None:
                    i = rng.choice([1, 2])
                    restart(net, i, net.members[i])
                elif r < 0.55 and fenced is None:
                    armed = [x for x in (1, 2) if arms(net.node(x), 3 - x)]
                    if armed:  # the guard on x: fence the peer, force
                        x = rng.choice(armed)
                        fenced = (3 - x, net.members.pop(3 - x))
                        force_config(net.node(x), FenceProof((3 - x,), by="x", device="d"))
                        net.process()
                elif r < 0.65 and fenced is not None and net.leaders():
                    x, (y, m) = net.leaders()[0], fenced
                    fenced = None
                    restart(net, y, m)  # powered on with its old data
                    net.node(x).propose_conf_change(ConfChange(CC.ADD_LEARNER, y, b"u"))
                    net.tick(3)
                    net.node(x).propose_conf_change(ConfChange(CC.ADD_VOTER, y, b"u"))
                    net.tick(2)
                    if rng.random() < 0.5:
                        net.node(x).transfer_leader(y)
                else:
                    net.tick(1)
            for i in sorted(net.members):
                applied_anywhere |= set(net.applied_data(i))
            for x in sorted(net.members):
                if arms(net.node(x), 3 - x):
                    log = {e.data for e in log_of(net.node(x)) if e.data}
                    missing = applied_anywhere - log
                    assert not missing, (
                        f"seed {seed} step {step}: armed node {x} lacks committed {missing}; "
                        f"replay: this test with range({seed}, {seed + 1})"
                    )


def test_a_promoted_node_lacking_entries_written_alone_is_not_armed() -> None:
    """The case arming exists for: node1 goes on alone, re-adds node2, and commits its
    promotion together with a write of its own; node2 applies the promotion (it is a voter
    following node1) but never received the write. Forcing node2 now would lose it."""
    net = RaftNet([1, 2], configure=lambda i: Config(id=i, max_entries_per_msg=1))
    net.campaign(1)
    net.propose(1, b"a")
    old2 = net.members.pop(2)
    force_config(net.node(1), FenceProof((2,), by="node1", device="d"))
    net.process()
    n2 = restart(net, 2, old2, max_entries_per_msg=1)
    n1 = net.node(1)
    n1.propose_conf_change(ConfChange(CC.ADD_LEARNER, 2, b"u"))
    net.tick(3)
    net.intercept = lambda m: not (m.to == 2 and any(e.data == b"alone" for e in m.entries))
    n1.propose_conf_change(ConfChange(CC.ADD_VOTER, 2, b"u"))
    n1.propose(b"alone")  # committed with the promotion, by node1 alone
    net.tick(3)
    assert b"alone" in net.applied_data(1)
    assert n2.conf_state().voters == (1, 2) and n2.status().lead == 1
    assert b"alone" not in {e.data for e in log_of(n2)}
    assert not arms(n2, 1), "armed without the entries its peer committed alone"
    assert arms(n1, 2)
