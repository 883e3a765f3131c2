"""Pre-vote, check-quorum and randomized election timeouts."""

from __future__ import annotations

import random

from reconciler.raft.node import RaftNode
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import ConfChange, ConfChangeType, Config, MsgType, StateType
from reconciler.testing.raftnet import RaftNet


def test_pre_vote_a_partitioned_member_does_not_raise_its_term() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    term = net.node(1).term
    net.isolate(3)
    net.tick(100)
    assert net.node(3).term == term  # pre-votes failed: no term inflation
    assert net.node(3).role == StateType.PRE_CANDIDATE
    net.heal()
    net.tick(3)
    assert net.leader() == 1 and net.node(1).term == term  # rejoining did not disrupt


def test_without_pre_vote_a_rejoining_member_disrupts_the_leader() -> None:
    """The counterfactual that shows what pre-vote buys."""
    net = RaftNet([1, 2, 3], configure=lambda i: Config(id=i, pre_vote=False, check_quorum=False))
    net.campaign(1)
    term = net.node(1).term
    net.isolate(3)
    net.tick(100)
    assert net.node(3).term > term + 3
    net.heal()
    net.tick(30)
    assert net.node(net.leader()).term > term


def test_check_quorum_an_isolated_leader_steps_down_within_an_election_timeout() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(1)
    et = net.node(1).config.election_tick
    net.tick(et, only=[1])
    net.tick(1, only=[1])
    assert net.node(1).role != StateType.LEADER
    assert net.node(1).lead == 0


def test_check_quorum_a_leader_that_hears_a_quorum_keeps_leading() -> None:
    net = RaftNet([1, 2, 3, 4, 5])
    net.campaign(1)
    net.isolate(5)
    net.cut(1, 4)
    net.tick(50)
    assert net.leader() == 1


def test_check_quorum_followers_in_lease_ignore_a_disruptive_vote() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    term = net.node(1).term
    # 3 is forced to campaign without pre-vote (as if it had the old behaviour)
    n3 = net.node(3)
    n3._campaign(MsgType.MsgVote, transfer=False)
    net.process()
    assert net.node(2).term == term and net.node(1).role == StateType.LEADER
    assert net.node(2).vote == 1


def test_randomized_election_timeouts_come_from_the_injected_rng() -> None:
    def timeouts(seed: int) -> list[int]:
        n = RaftNode(Config(id=1), MemoryStorage(), random.Random(seed))
        n.bootstrap([ConfChange(ConfChangeType.ADD_VOTER, i) for i in (1, 2, 3)])
        out = []
        for _ in range(20):
            n._become_follower(n.term + 1, 0)
            out.append(n.randomized_election_timeout)
        return out

    assert timeouts(1) == timeouts(1)
    assert timeouts(1) != timeouts(2)
    assert all(10 <= t < 20 for t in timeouts(3))


def test_a_single_voter_elects_itself_and_commits_alone() -> None:
    net = RaftNet([1])
    net.tick(25)
    assert net.leader() == 1
    net.propose(1, b"solo")
    assert net.applied_data(1) == [b"solo"]
    net.node(1).read_index(b"r")
    net.process()
    assert net.members[1].read_states[-1].index == net.node(1).log.committed


def test_peer_down_the_lowest_follower_campaigns_at_the_next_tick_and_wins() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    term = net.node(1).term
    net.isolate(1)  # the leader's process is gone
    for i in (2, 3):  # both followers learn it at the same moment
        net.node(i).peer_down(1)
        assert net.node(i).lead == 0
    net.tick(1, only=[2, 3])
    net.process()
    assert net.leaders() == [1, 2], "the lowest remaining voter campaigns first, unopposed"
    assert net.node(2).term == term + 1  # one election, no split vote
    assert net.node(3).lead == 2


def test_peer_down_the_next_follower_takes_over_when_the_first_cannot_win() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.cut(1, 2)
    net.propose(1, b"only 1 and 3 have this")
    net.process()
    net.isolate(1)
    for i in (2, 3):
        net.node(i).peer_down(1)
    net.tick(1, only=[2, 3])
    net.process()
    assert net.leaders() == [1]  # (1 is gone) 2's log is behind: 3 refuses it
    net.tick(2, only=[2, 3])
    net.process()
    assert net.leaders() == [1, 3]
    assert b"only 1 and 3 have this" in net.applied_data(3)


def test_peer_down_of_a_live_leader_disrupts_nothing() -> None:
    """A wrong report: 3 campaigns, but 2 still hears the leader and refuses the pre-vote."""
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    term = net.node(1).term
    net.node(3).peer_down(1)
    net.tick(1, only=[3])
    net.process()
    assert net.leader() == 1 and net.node(1).term == term
    net.tick(5)  # the leader's heartbeats bring 3 back
    assert net.leader() == 1 and net.node(3).lead == 1 and net.node(1).term == term


def test_peer_down_of_a_peer_that_is_not_our_leader_changes_nothing() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    before = net.node(2).election_elapsed
    net.node(2).peer_down(3)
    net.node(1).peer_down(2)  # the leader itself
    assert net.node(2).lead == 1 and net.node(2).election_elapsed == before
    assert net.leader() == 1
