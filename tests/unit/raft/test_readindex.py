"""ReadIndex: linearizable read points confirmed by a heartbeat round, never by a lease."""

from __future__ import annotations

import pytest

from reconciler.raft.errors import ProposalDropped
from reconciler.raft.types import Message, MsgType, StateType
from reconciler.testing.raftnet import RaftNet


def test_read_index_on_the_leader_needs_a_quorum_heartbeat_round() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.propose(1, b"a")
    net.sent.clear()
    net.node(1).read_index(b"r1")
    net.process()
    rs = net.members[1].read_states
    assert [r.ctx for r in rs] == [b"r1"] and rs[0].index == net.node(1).log.committed
    beats = [m for m in net.sent if m.type == MsgType.MsgHeartbeat and m.context == b"r1"]
    assert len(beats) == 2


def test_a_deposed_leader_cannot_confirm_a_read() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(1)
    net.node(1).read_index(b"stale?")
    net.process()
    assert net.members[1].read_states == []  # no quorum answered: no read point


def test_read_index_from_a_follower_is_answered_by_the_leader() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.propose(1, b"a")
    net.node(3).read_index(b"f")
    net.process()
    rs = net.members[3].read_states
    assert [r.ctx for r in rs] == [b"f"] and rs[0].index == net.node(1).log.committed


def test_read_index_waits_until_the_new_leader_commits_an_entry_of_its_term() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    # block append acknowledgements so the new leader's no-op entry cannot commit yet
    net.isolate(1)
    net.intercept = lambda m: m.type != MsgType.MsgAppResp
    net.tick(25, only=[2, 3])
    new = next(i for i in net.leaders() if i != 1)
    other = 3 if new == 2 else 2
    assert not net.node(new)._committed_entry_in_current_term()
    net.node(new).read_index(b"early")
    net.process()
    assert net.members[new].read_states == []
    net.intercept = None
    net.tick(2, only=[new, other])
    assert [r.ctx for r in net.members[new].read_states] == [b"early"]
    node = net.node(new)
    assert node.log.zero_term(net.members[new].read_states[0].index) == node.term


def test_read_index_without_a_leader_is_refused_so_the_client_retries() -> None:
    net = RaftNet([1, 2, 3])
    assert all(net.node(i).role == StateType.FOLLOWER for i in (1, 2, 3))
    with pytest.raises(ProposalDropped):
        net.node(2).read_index(b"x")


def test_lost_read_heartbeats_are_retried_on_the_next_heartbeat() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.cut(1, 2)
    net.cut(1, 3)
    net.node(1).read_index(b"r")
    net.process()
    assert net.members[1].read_states == []
    net.heal()
    net.tick(1, only=[1])
    assert [r.ctx for r in net.members[1].read_states] == [b"r"]


def test_a_read_answered_while_its_follower_campaigns_is_still_served() -> None:
    """The leader's answer to a forwarded read may arrive after the follower's election
    timer fired (it is a pre-candidate then): the index is still linearizable, and
    dropping it left the reader waiting for its timeout."""
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.propose(1, b"a")
    held: list[Message] = []

    def hold_answers(m: Message) -> bool:
        if m.type == MsgType.MsgReadIndexResp:
            held.append(m)
            return False
        return True

    net.intercept = hold_answers
    net.node(3).read_index(b"f")
    net.process()
    assert [m.context for m in held] == [b"f"]
    net.isolate(3)
    for _ in range(100):
        net.tick(1, only=[3])
        if net.node(3).role == StateType.PRE_CANDIDATE:
            break
    assert net.node(3).role == StateType.PRE_CANDIDATE
    net.node(3).step(held[0])
    net.handle_ready(3)
    rs = net.members[3].read_states
    assert [r.ctx for r in rs] == [b"f"] and rs[0].index == held[0].index
