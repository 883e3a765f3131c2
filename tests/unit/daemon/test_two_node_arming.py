"""When the two-node guard may act ("armed"): only after seeing the pair work, in this run,
with itself as a voter — never from a stale configuration (pure core, in-memory network)."""

from __future__ import annotations

import random

from reconciler.daemon.two_node import arms
from reconciler.raft.force import FenceProof, force_config
from reconciler.raft.node import RaftNode
from reconciler.raft.types import ConfChange, ConfChangeType, Config
from reconciler.testing.raftnet import Member, RaftNet

CC = ConfChangeType


def restart(net: RaftNet, i: int, m: Member) -> RaftNode:
    """A new process on the member's persisted state (term, vote, log)."""
    node = RaftNode(Config(id=i), m.storage, random.Random(i))
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
