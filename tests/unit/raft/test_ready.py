"""The Ready/Advance contract with the shell: what must be persisted before what is sent."""

from __future__ import annotations

import random

from reconciler.raft.node import RaftNode
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import (
    ConfChange,
    ConfChangeType,
    Config,
    HardState,
    Message,
    MsgType,
)


def single(i: int = 1, peers: tuple[int, ...] = (1,)) -> tuple[RaftNode, MemoryStorage]:
    st = MemoryStorage()
    n = RaftNode(Config(id=i), st, random.Random(i))
    n.bootstrap([ConfChange(ConfChangeType.ADD_VOTER, p) for p in peers])
    return n, st


def settle(n: RaftNode, st: MemoryStorage) -> None:
    while n.has_ready():
        rd = n.ready()
        st.append(rd.entries)
        if rd.hard_state is not None:
            st.set_hard_state(rd.hard_state)
        n.advance(rd)


def test_a_vote_is_in_the_hard_state_of_the_ready_that_carries_the_vote_response() -> None:
    n, st = single(2, (1, 2, 3))
    settle(n, st)
    n.step(Message(MsgType.MsgVote, to=2, frm=1, term=5, index=3, log_term=1))
    rd = n.ready()
    assert [m.type for m in rd.messages] == [MsgType.MsgVoteResp]
    assert rd.hard_state == HardState(term=5, vote=1, commit=3)
    assert rd.must_sync


def test_entries_and_commit_arrive_in_order_for_a_single_member() -> None:
    n, st = single()
    settle(n, st)
    n.campaign()
    settle(n, st)
    n.propose(b"a")
    rd = n.ready()
    assert [e.data for e in rd.entries] == [b"a"]
    assert [e.data for e in rd.committed_entries] == [b"a"]  # persist first, then apply
    assert rd.hard_state is not None and rd.hard_state.commit == rd.entries[-1].index


def test_stepping_between_ready_and_advance_loses_nothing() -> None:
    """The shell may fsync in the background while proposals keep coming (group commit)."""
    n, st = single()
    settle(n, st)
    n.campaign()
    settle(n, st)
    n.propose(b"a")
    rd1 = n.ready()
    n.propose(b"b")  # while rd1 is being written
    n.tick()
    st.append(rd1.entries)
    assert rd1.hard_state is not None
    st.set_hard_state(rd1.hard_state)
    n.advance(rd1)
    rd2 = n.ready()
    assert [e.data for e in rd2.entries] == [b"b"]
    assert [e.data for e in rd2.committed_entries] == [b"b"]


def test_ready_again_without_advance_offers_the_same_state_to_persist() -> None:
    """After a failed write (e.g. a full disk) the shell just asks again and retries."""
    n, st = single()
    settle(n, st)
    n.campaign()
    settle(n, st)
    n.propose(b"a")
    rd1 = n.ready()
    rd2 = n.ready()  # the write of rd1 failed: nothing was sent, applied or advanced
    assert rd2.entries == rd1.entries
    assert rd2.hard_state == rd1.hard_state
    assert rd2.committed_entries == rd1.committed_entries
    assert rd2.messages == ()  # messages are handed out once (Raft tolerates their loss)


def test_nothing_to_do_after_advance() -> None:
    n, st = single()
    settle(n, st)
    assert not n.has_ready()
    assert n.ready().is_empty()
