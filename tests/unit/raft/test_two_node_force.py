"""The forced configuration of a two-voter cluster's survivor (``reconciler.raft.force``).

Pure core, in-memory network: the step is refused without a fence proof naming the other
voter; with one, the survivor leads alone and keeps every committed entry; the fenced
member, back with its old two-voter configuration, cannot win an election and is
overwritten when the survivor re-adds it (learner, then voter).
"""

from __future__ import annotations

import random

import pytest

from reconciler.raft.force import FenceProof, ForceRefused, force_config
from reconciler.raft.node import RaftNode
from reconciler.raft.types import ConfChange, ConfChangeType, Config, EntryType, StateType
from reconciler.testing.raftnet import Member, RaftNet, log_of

CC = ConfChangeType


def proof(*fenced: int, device: str = "fence_test") -> FenceProof:
    return FenceProof(fenced=fenced, by="node2", device=device, at=1.0)


def pair_led_by_1() -> RaftNet:
    net = RaftNet([1, 2])
    net.campaign(1)
    net.propose(1, b"a")
    net.propose(1, b"b")
    assert net.applied_data(2) == [b"a", b"b"]
    return net


def fence(net: RaftNet, i: int) -> Member:
    """Power a member off: it vanishes from the network, keeping what it persisted."""
    return net.members.pop(i)


def power_on(net: RaftNet, i: int, m: Member) -> None:
    """Restart it from what it persisted (its storage), as a new process would."""
    node = RaftNode(Config(id=i), m.storage, random.Random(i))
    net.members[i] = Member(node=node, storage=m.storage)  # it re-applies its log


@pytest.mark.parametrize(
    ("given", "why"),
    [
        (None, "no fence proof"),
        (proof(), "voters not fenced"),
        (proof(3), "voters not fenced"),
        (proof(1, 3), "not voters"),
        (proof(2, 1), "names this member"),
        (proof(1, device=""), "no fence device"),
    ],
)
def test_force_is_refused_without_a_proof_naming_the_other_voter(
    given: FenceProof | None, why: str
) -> None:
    net = pair_led_by_1()
    fence(net, 1)
    n2 = net.node(2)
    before = (n2.term, n2.vote, n2.log.last_index(), n2.log.committed, n2.conf_state(), n2.role)
    with pytest.raises(ForceRefused, match=why):
        force_config(n2, given)
    after = (n2.term, n2.vote, n2.log.last_index(), n2.log.committed, n2.conf_state(), n2.role)
    assert after == before, "a refused force changed the core"


def test_a_lone_voter_cannot_force() -> None:
    net = RaftNet([1])
    net.campaign(1)
    with pytest.raises(ForceRefused, match="only voter"):
        force_config(net.node(1), proof(2))


def test_survivor_forces_after_fencing_and_keeps_every_committed_entry() -> None:
    net = pair_led_by_1()
    net.dropped.add((2, 1))  # node2 stores "c" but its acknowledgement never arrives
    net.propose(1, b"c")
    assert net.node(1).log.committed == net.node(2).log.committed  # "c" is not committed
    old1 = fence(net, 1)
    net.heal()
    n2 = net.node(2)
    old_term = n2.term
    at = force_config(n2, proof(1))
    net.process()
    assert n2.role == StateType.LEADER and n2.term == old_term + 1
    assert n2.conf_state().voters == (2,)
    assert n2.log.committed == n2.log.last_index() >= at
    forced = next(e for e in log_of(n2) if e.index == at)
    assert forced.type == EntryType.CONF_CHANGE
    cc = ConfChange.decode(forced.data)
    assert (cc.type, cc.node_id, FenceProof.decode(cc.context)) == (CC.REMOVE_NODE, 1, proof(1))
    net.propose(2, b"d")  # the survivor commits alone
    assert net.applied_data(2) == [b"a", b"b", b"c", b"d"]

    # the fenced node comes back believing in {1, 2}: it cannot win, whatever it tries
    power_on(net, 1, old1)
    for _ in range(60):
        net.tick(1)
        assert net.leaders() == [2], "the fenced node took over"
    assert net.node(2).term == old_term + 1

    # the survivor re-adds it: learner (catches up, replays the forced change), then voter
    net.node(2).propose_conf_change(ConfChange(CC.ADD_LEARNER, 1, b"peer-url"))
    net.tick(3)
    n1 = net.node(1)
    assert n1.conf_state() == n2.conf_state()
    assert n1.conf_state().learners == (1,)
    net.node(2).propose_conf_change(ConfChange(CC.ADD_VOTER, 1, b"peer-url"))
    net.tick(3)
    assert n2.conf_state().voters == (1, 2) == n1.conf_state().voters
    assert [e.data for e in log_of(n1)] == [e.data for e in log_of(n2)]
    net.propose(2, b"e")  # two voters again: commits need both
    assert net.applied_data(1)[-2:] == [b"d", b"e"]


def test_the_fenced_leaders_uncommitted_tail_is_overwritten() -> None:
    net = pair_led_by_1()
    net.cut(1, 2)
    net.propose(1, b"lost")  # only in the old leader's log: never committed
    assert b"lost" not in net.applied_data(1)
    old1 = fence(net, 1)
    net.heal()
    force_config(net.node(2), proof(1))
    net.process()
    net.propose(2, b"kept")
    power_on(net, 1, old1)
    net.node(2).propose_conf_change(ConfChange(CC.ADD_LEARNER, 1, b"peer-url"))
    net.tick(3)
    assert [e.data for e in log_of(net.node(1))] == [e.data for e in log_of(net.node(2))]
    assert all(e.data != b"lost" for e in log_of(net.node(1)))
    assert net.applied_data(1) == net.applied_data(2) == [b"a", b"b", b"kept"]


def test_a_leader_that_lost_its_peer_may_force_too() -> None:
    net = pair_led_by_1()
    fence(net, 2)
    n1 = net.node(1)
    force_config(n1, proof(2))
    net.process()
    net.propose(1, b"c")
    assert n1.role == StateType.LEADER and n1.conf_state().voters == (1,)
    assert net.applied_data(1) == [b"a", b"b", b"c"]
