"""Log replication: batching, the bounded inflight pipeline, fast conflict back-tracking."""

from __future__ import annotations

from reconciler.raft.types import Config, MsgType
from reconciler.testing.raftnet import RaftNet, terms


def test_appends_are_batched_by_entry_count_and_bytes() -> None:
    def cfg(i: int) -> Config:
        return Config(id=i, max_entries_per_msg=4, max_size_per_msg=10_000)

    net = RaftNet([1, 2, 3], configure=cfg)
    net.campaign(1)
    net.isolate(2)
    for k in range(20):
        net.node(1).propose(b"%d" % k)
    net.process()
    net.heal()
    net.sent.clear()
    net.tick(3)
    apps = [m for m in net.sent if m.type == MsgType.MsgApp and m.to == 2 and m.entries]
    assert apps and max(len(m.entries) for m in apps) == 4
    assert net.applied_data(2) == net.applied_data(1)

    def small(i: int) -> Config:
        return Config(id=i, max_size_per_msg=300)

    net2 = RaftNet([1, 2], configure=small)
    net2.campaign(1)
    net2.sent.clear()
    net2.isolate(2)
    for _ in range(10):
        net2.node(1).propose(b"x" * 100)
    net2.process()
    net2.heal()
    net2.tick(2)
    sizes = [sum(e.size() for e in m.entries) for m in net2.sent if m.type == MsgType.MsgApp]
    assert sizes and max(sizes) <= 300 + 124  # at most one entry past the limit (the first)


def test_inflight_appends_are_bounded_while_acks_are_missing() -> None:
    def cfg(i: int) -> Config:
        return Config(id=i, max_inflight_msgs=3)

    net = RaftNet([1, 2, 3], configure=cfg)
    net.campaign(1)
    net.intercept = lambda m: not (m.type == MsgType.MsgAppResp and m.frm == 2)
    net.sent.clear()
    for k in range(10):
        net.propose(1, b"%d" % k)  # 3 acks, so these commit; 2 never acks
    to2 = [m for m in net.sent if m.type == MsgType.MsgApp and m.to == 2 and m.entries]
    assert len(to2) == 3  # the pipeline to 2 is full: no more appends until acks come
    assert net.node(1).status().progress[1].inflight == 3
    net.intercept = None
    net.tick(2)
    assert net.applied_data(2) == net.applied_data(1)


def test_fast_backtracking_repairs_a_long_divergent_log_in_few_round_trips() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(1)
    for k in range(60):
        net.node(1).propose(b"lost%d" % k)  # uncommittable: 1 is alone
    net.process()
    net.tick(25, only=[2, 3])
    new = next(i for i in net.leaders() if i != 1)
    for k in range(30):
        net.node(new).propose(b"kept%d" % k)
    net.process()
    # hand leadership over (1 still away) so the leader's probe of 1 starts at its log's end
    other = 5 - new
    net.node(new).transfer_leader(other)
    net.process()
    assert net.leaders() == [1, other]
    new = other
    net.heal()
    net.sent.clear()
    net.tick(2)
    rejects = [m for m in net.sent if m.type == MsgType.MsgAppResp and m.frm == 1 and m.reject]
    assert 1 <= len(rejects) <= 3  # one hint jumps back over the whole divergent term
    assert terms(net.node(1)) == terms(net.node(new))
    assert not any(d.startswith(b"lost") for d in net.applied_data(1))


def test_a_follower_that_fell_behind_is_probed_then_replicated() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(3)
    for k in range(10):
        net.propose(1, b"%d" % k)
    assert net.node(1).status().progress[2].state == "REPLICATE"
    net.heal()
    net.tick(2)
    assert net.applied_data(3) == net.applied_data(1)
    assert net.node(1).status().progress[2].state == "REPLICATE"


def test_duplicated_and_reordered_appends_do_not_corrupt_the_log() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    saved = []
    net.intercept = lambda m: (saved.append(m) or True) if m.type == MsgType.MsgApp else True
    for k in range(5):
        net.propose(1, b"%d" % k)
    net.intercept = None
    for m in reversed(saved):  # replay every append, newest first
        net.deliver(m)
    net.process()
    assert terms(net.node(2)) == terms(net.node(1))
    assert net.applied_data(2) == net.applied_data(1)


def test_a_leader_that_cannot_commit_refuses_proposals_beyond_a_bounded_backlog() -> None:
    import pytest

    from reconciler.raft.errors import ProposalDropped

    net = RaftNet([1, 2, 3], configure=lambda i: Config(id=i, max_uncommitted_bytes=1000))
    net.campaign(1)
    net.isolate(1)
    for _ in range(10):
        net.node(1).propose(b"x" * 100)
    with pytest.raises(ProposalDropped, match="uncommitted"):
        net.node(1).propose(b"x" * 100)
    net.heal()
    net.tick(2)
    net.propose(1, b"accepted again")
    assert net.applied_data(2)[-1] == b"accepted again"


def test_a_commit_notice_to_a_caught_up_follower_needs_no_reply() -> None:
    from reconciler.raft.types import COMMIT_NOTICE, Message

    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.propose(1, b"warm")  # everyone replicating and caught up
    net.sent.clear()
    net.propose(1, b"x")
    notices = [m for m in net.sent if m.type == MsgType.MsgApp and m.context == COMMIT_NOTICE]
    assert notices, "the commit of b'x' reached the followers as a notice"
    assert all(not m.entries and m.commit == net.node(1).status().commit for m in notices)
    for f in (2, 3):  # every append is answered, except a notice
        plain = [m for m in net.sent if m.type == MsgType.MsgApp and m.to == f]
        plain = [m for m in plain if m.context != COMMIT_NOTICE]
        replies = [m for m in net.sent if m.type == MsgType.MsgAppResp and m.frm == f]
        assert len(replies) == len(plain), (f, replies, plain)
    assert net.applied_data(2) == net.applied_data(3) == net.applied_data(1)
    # a notice that does not match the follower's log is still rejected out loud
    f = net.node(2)
    bad = Message(
        MsgType.MsgApp, to=2, frm=1, term=f.term, index=f.status().commit + 5, log_term=f.term,
        commit=f.status().commit, context=COMMIT_NOTICE,
    )  # fmt: skip
    f.step(bad)
    assert any(m.type == MsgType.MsgAppResp and m.reject for m in f.ready().messages)
