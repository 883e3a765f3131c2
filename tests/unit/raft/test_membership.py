"""Single-server membership changes, witnesses, and leadership transfer."""

from __future__ import annotations

import pytest

from reconciler.raft.errors import ProposalDropped
from reconciler.raft.types import ConfChange, ConfChangeType, EntryType, MsgType, StateType
from reconciler.testing.raftnet import RaftNet, log_of

CC = ConfChangeType


def change(net: RaftNet, leader: int, kind: ConfChangeType, node: int) -> None:
    net.node(leader).propose_conf_change(ConfChange(kind, node, context=b"peer-url"))
    net.process()


def test_add_learner_catches_up_without_voting_then_is_promoted() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    for k in range(5):
        net.propose(1, b"%d" % k)
    net.add_empty_member(4)
    change(net, 1, CC.ADD_LEARNER, 4)
    net.tick(2)
    assert net.applied_data(4) == net.applied_data(1)  # caught up from the log
    cs = net.node(1).conf_state()
    assert cs.learners == (4,) and 4 not in cs.voters
    assert net.node(4).conf_state() == cs  # it replayed the membership from the log
    # a learner is not counted: 1 + 4 alone cannot commit
    net.isolate(2)
    net.cut(1, 3)
    net.node(1).propose(b"needs-a-voter")
    net.process()
    assert b"needs-a-voter" not in net.applied_data(1)
    net.heal()
    net.tick(2)
    change(net, net.leader(), CC.ADD_VOTER, 4)
    assert net.node(1).conf_state().voters == (1, 2, 3, 4)
    assert net.node(4).conf_state().learners == ()


def test_a_learner_never_campaigns() -> None:
    net = RaftNet([1, 2, 3], learners=[4])
    net.campaign(1)
    net.isolate(4)
    net.tick(100)
    assert net.node(4).role == StateType.FOLLOWER and net.node(4).term == net.node(1).term


def test_remove_a_follower_and_the_quorum_shrinks() -> None:
    net = RaftNet([1, 2, 3, 4])
    net.campaign(1)
    change(net, 1, CC.REMOVE_NODE, 4)
    assert net.node(1).conf_state().voters == (1, 2, 3)
    net.isolate(4)
    net.isolate(3)
    net.propose(1, b"two of three")
    assert b"two of three" in net.applied_data(2)


def test_a_removed_leader_steps_down() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    change(net, 1, CC.REMOVE_NODE, 1)
    assert net.node(1).role == StateType.FOLLOWER
    assert net.node(2).conf_state().voters == (2, 3)
    net.tick(30)
    assert net.leader() in (2, 3)
    assert net.node(1).role == StateType.FOLLOWER  # not a voter: never campaigns


def test_only_one_configuration_change_at_a_time() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(2)
    net.isolate(3)  # the first change cannot commit
    net.node(1).propose_conf_change(ConfChange(CC.ADD_LEARNER, 4))
    with pytest.raises(ProposalDropped, match="pending"):
        net.node(1).propose_conf_change(ConfChange(CC.ADD_LEARNER, 5))


def test_a_new_leader_commits_an_entry_of_its_term_before_any_configuration_change() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.intercept = lambda m: m.type != MsgType.MsgAppResp  # nothing commits
    net.isolate(1)
    net.tick(25, only=[2, 3])
    new = next(i for i in net.leaders() if i != 1)
    with pytest.raises(ProposalDropped):
        net.node(new).propose_conf_change(ConfChange(CC.ADD_LEARNER, 9))
    net.intercept = None
    net.tick(2, only=[2, 3])
    net.node(new).propose_conf_change(ConfChange(CC.ADD_LEARNER, 9))  # accepted now


def test_a_forwarded_refused_conf_change_becomes_a_no_op() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(3)
    net.node(1).propose_conf_change(ConfChange(CC.ADD_LEARNER, 4))
    net.cut(1, 2)  # the first one stays pending
    net.heal()
    net.node(2).propose_conf_change(ConfChange(CC.ADD_LEARNER, 5))  # forwarded, refused
    net.process()
    net.tick(2)
    ccs = [
        ConfChange.decode(e.data).node_id
        for e in log_of(net.node(1))
        if e.type == EntryType.CONF_CHANGE
    ]
    assert 5 not in ccs


def test_removing_the_last_voter_is_refused() -> None:
    net = RaftNet([1])
    net.campaign(1)
    with pytest.raises(ProposalDropped, match="last voter"):
        net.node(1).propose_conf_change(ConfChange(CC.REMOVE_NODE, 1))


def test_two_resource_nodes_and_a_witness_survive_the_loss_of_either_resource_node() -> None:
    for lost in (1, 2):
        net = RaftNet([1, 2, 3], witnesses=[3])
        assert net.node(1).is_witness(3) and not net.node(1).is_witness(2)
        assert net.node(2).conf_state().witnesses == (3,)
        net.campaign(lost)
        net.isolate(lost)
        net.tick(30)
        leader = next(i for i in net.leaders() if i != lost)
        net.propose(leader, b"still writable")
        survivor = 3 - lost
        assert b"still writable" in net.applied_data(survivor)
        assert b"still writable" in net.applied_data(3)  # the witness stores the log


def test_add_a_witness_by_conf_change() -> None:
    net = RaftNet([1, 2])
    net.campaign(1)
    net.add_empty_member(3)
    change(net, 1, CC.ADD_WITNESS, 3)
    net.tick(2)
    assert net.node(3).conf_state().witnesses == (3,)
    assert net.node(1).conf_state().voters == (1, 2, 3)


def test_leadership_transfer_to_an_up_to_date_follower() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.propose(1, b"a")
    term = net.node(1).term
    net.node(1).transfer_leader(3)
    net.process()
    assert net.leader() == 3 and net.node(3).term == term + 1
    net.propose(3, b"b")
    assert net.applied_data(1)[-1] == b"b"


def test_leadership_transfer_waits_for_a_lagging_transferee_to_catch_up() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(3)
    for k in range(10):
        net.propose(1, b"%d" % k)
    net.heal()
    net.node(1).transfer_leader(3)
    net.process()
    net.tick(2)
    assert net.leader() == 3
    assert net.applied_data(3)[:10] == [b"%d" % k for k in range(10)]


def test_proposals_are_refused_during_a_transfer_and_a_stuck_transfer_aborts() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(3)
    net.propose(1, b"x")
    net.node(1).transfer_leader(3)  # 3 is unreachable: the transfer cannot finish
    net.process()
    with pytest.raises(ProposalDropped, match="transfer"):
        net.node(1).propose(b"y")
    net.tick(11, only=[1, 2])
    assert net.node(1).role == StateType.LEADER
    net.propose(1, b"z")  # the transfer was aborted after an election timeout
    assert net.applied_data(2)[-1] == b"z"


def test_transfer_from_a_follower_is_forwarded_to_the_leader() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.node(2).transfer_leader(2)
    net.process()
    assert net.leader() == 2
