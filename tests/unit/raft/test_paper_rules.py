"""The safety rules of the Raft paper (figure 3), each checked by the test named after it.

Randomized runs use ``RaftNet`` (a synchronous network) with a seeded schedule of
partitions, elections and proposals; the rule is checked after every action.
"""

from __future__ import annotations

import contextlib
import random

import pytest

from reconciler.raft.errors import ProposalDropped
from reconciler.raft.types import Config, Entry, Message, MsgType, StateType
from reconciler.testing.raftnet import RaftNet, log_of, terms


def chaos(net: RaftNet, rng: random.Random, steps: int, check: object) -> None:
    """Random partitions, elections, proposals and ticks; ``check()`` after each."""
    ids = sorted(net.members)
    for _ in range(steps):
        r = rng.random()
        if r < 0.15:
            net.heal()
            a = rng.choice(ids)
            net.isolate(a)
            if rng.random() < 0.5:
                net.cut(rng.choice(ids), rng.choice(ids))
        elif r < 0.25:
            net.heal()
        elif r < 0.4:
            net.campaign(rng.choice(ids))
        elif r < 0.8:
            i = rng.choice(ids)
            with contextlib.suppress(ProposalDropped):
                net.propose(i, b"x%d" % rng.randrange(1 << 30))
        else:
            net.tick(rng.randint(1, 12))
        net.tick(rng.randint(0, 3))
        check()  # type: ignore[operator]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("guards", [True, False], ids=["prevote+checkquorum", "plain"])
def test_election_safety_at_most_one_leader_per_term(seed: int, guards: bool) -> None:
    def cfg(i: int) -> Config:
        return Config(id=i, pre_vote=guards, check_quorum=guards)

    net = RaftNet([1, 2, 3, 4, 5], seed=seed, configure=cfg)
    leaders: dict[int, int] = {}

    def check() -> None:
        for i, m in net.members.items():
            if m.node.role == StateType.LEADER:
                assert leaders.setdefault(m.node.term, i) == i, f"two leaders in a term: {leaders}"

    chaos(net, random.Random(seed), 200, check)
    assert len(leaders) >= (2 if guards else 5)


@pytest.mark.parametrize("seed", range(6))
def test_leader_append_only_never_overwrites_or_deletes_its_entries(seed: int) -> None:
    net = RaftNet([1, 2, 3], seed=seed)
    seen: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (leader, term) -> log so far

    def check() -> None:
        for i, m in net.members.items():
            if m.node.role != StateType.LEADER:
                continue
            now = terms(m.node)
            before = seen.get((i, m.node.term), [])
            assert now[: len(before)] == before, "a leader changed its own log"
            seen[(i, m.node.term)] = now

    chaos(net, random.Random(seed), 150, check)


@pytest.mark.parametrize("seed", range(6))
def test_log_matching_same_index_and_term_means_same_prefix(seed: int) -> None:
    net = RaftNet([1, 2, 3, 4, 5], seed=seed)

    def check() -> None:
        logs = {i: {e.index: e for e in log_of(m.node)} for i, m in net.members.items()}
        ids = sorted(logs)
        for a in ids:
            for b in ids:
                if a >= b:
                    continue
                common = sorted(set(logs[a]) & set(logs[b]))
                same = [i for i in common if logs[a][i].term == logs[b][i].term]
                if not same:
                    continue
                top = same[-1]
                for i in common:
                    if i <= top:
                        assert logs[a][i] == logs[b][i], f"logs of {a},{b} differ at {i}"

    chaos(net, random.Random(seed), 120, check)


@pytest.mark.parametrize("seed", range(6))
def test_leader_completeness_committed_entries_are_in_every_later_leader(seed: int) -> None:
    net = RaftNet([1, 2, 3, 4, 5], seed=seed)
    committed: dict[int, tuple[Entry, int]] = {}  # index -> (entry, term it was seen committed)

    def check() -> None:
        for m in net.members.values():
            n = m.node
            for e in log_of(n):
                if e.index <= n.log.committed:
                    got = committed.setdefault(e.index, (e, n.term))
                    assert got[0] == e
        for m in net.members.values():
            n = m.node
            if n.role == StateType.LEADER:
                mine = {e.index: e for e in log_of(n)}
                for idx, (e, at_term) in committed.items():
                    if n.term > at_term:
                        assert mine.get(idx) == e, f"leader {n.id} lacks committed {idx}"

    chaos(net, random.Random(seed), 150, check)
    assert len(committed) > 10


@pytest.mark.parametrize("seed", range(6))
def test_state_machine_safety_no_two_members_apply_different_entries_at_an_index(
    seed: int,
) -> None:
    net = RaftNet([1, 2, 3], seed=seed)
    chaos(net, random.Random(seed), 200, lambda: None)
    net.heal()
    net.tick(30)
    leader = net.leader()
    net.propose(leader, b"final")
    applied = [net.applied_data(i) for i in sorted(net.members)]
    shortest = min(len(a) for a in applied)
    assert all(a[:shortest] == applied[0][:shortest] for a in applied)
    assert all(a[-1] == b"final" for a in applied)


def test_election_restriction_a_stale_log_gets_no_vote() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(3)
    net.propose(1, b"a")  # 1 and 2 have it, 3 does not
    net.heal()
    net.isolate(1)
    net.node(3).campaign()
    net.process()
    assert net.node(3).role != StateType.LEADER
    net.campaign(2)
    assert net.node(2).role == StateType.LEADER


def test_leader_commits_only_entries_of_its_term_by_counting_replicas() -> None:
    """Figure 8: an old-term entry on a majority is not committed by counting replicas."""
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(1)
    net.node(1).propose(b"old")  # only on 1, term t1
    net.process()
    old_index = net.node(1).log.last_index()
    net.tick(25, only=[2, 3])  # 2 or 3 becomes leader at a higher term
    other = net.leaders()[-1] if net.leaders()[-1] != 1 else net.leaders()[0]
    assert other != 1 and net.node(other).term > net.node(1).term
    # 1 comes back and the log is repaired by the new leader: "old" is discarded
    net.heal()
    net.tick(3)
    assert b"old" not in net.applied_data(1)
    assert all(e.data != b"old" for e in log_of(net.node(1)))
    assert net.node(1).log.last_index() >= old_index  # overwritten, not just missing


def test_a_leader_never_commits_a_previous_term_entry_without_one_of_its_own() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    t1 = net.node(1).term
    # block acknowledgements to 1 so its entry stays uncommitted though replicated
    net.intercept = lambda m: not (m.type == MsgType.MsgAppResp and m.to == 1)
    net.propose(1, b"e")
    idx = net.node(1).log.last_index()
    assert net.node(1).log.committed < idx
    assert net.node(2).log.last_index() == idx and net.node(3).log.last_index() == idx
    net.intercept = None
    net.isolate(1)
    net.tick(25, only=[2, 3])
    new = next(i for i in net.leaders() if i != 1)
    n = net.node(new)
    assert n.term > t1
    # the new leader committed "e" (term t1) only together with its own no-op entry
    assert n.log.committed > idx
    assert n.log.zero_term(n.log.committed) == n.term


def test_stale_term_messages_are_answered_so_the_stale_leader_steps_down() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    net.isolate(1)
    net.tick(25, only=[2, 3])
    new = next(i for i in net.leaders() if i != 1)
    old = net.node(1)
    assert old.role == StateType.LEADER and old.term < net.node(new).term  # it did not notice
    net.heal()
    old.propose(b"stale")
    net.process()
    assert old.role == StateType.FOLLOWER and old.term == net.node(new).term
    net.tick(3)
    assert b"stale" not in net.applied_data(new)


def test_local_message_types_are_refused_from_the_network() -> None:
    net = RaftNet([1])
    with pytest.raises(ValueError):
        net.node(1).step(Message(MsgType.MsgHup, to=1, frm=2))
