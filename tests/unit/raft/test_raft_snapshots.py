"""Log compaction and InstallSnapshot in chunks for a follower that fell behind."""

from __future__ import annotations

from reconciler.raft.types import Config, MsgType
from reconciler.testing.raftnet import RaftNet


def compact(net: RaftNet, i: int, data: bytes) -> None:
    m = net.members[i]
    idx = m.node.log.applied
    m.storage.create_snapshot(idx, m.node.conf_state(), data)
    m.storage.compact(idx)


def lagging_cluster(chunk: int) -> RaftNet:
    net = RaftNet([1, 2, 3], configure=lambda i: Config(id=i, snapshot_chunk_size=chunk))
    net.campaign(1)
    net.isolate(3)
    for k in range(30):
        net.propose(1, b"%d" % k)
    compact(net, 1, b"S" * 1000)
    return net


def test_a_follower_behind_the_compacted_log_gets_the_snapshot_in_chunks() -> None:
    net = lagging_cluster(chunk=128)
    net.heal()
    net.sent.clear()
    net.tick(3)
    snaps = [m for m in net.sent if m.type == MsgType.MsgSnap and m.to == 3]
    assert [m.snap_offset for m in snaps][:8] == [i * 128 for i in range(8)]
    assert all(m.snap_total == 1000 for m in snaps)
    assert net.members[3].snapshots_applied == 1
    assert net.members[3].storage.snapshot().data == b"S" * 1000
    assert net.node(3).log.committed == net.node(1).log.committed
    assert net.node(1).status().progress[2].state == "REPLICATE"
    net.propose(1, b"after")
    assert net.applied_data(3)[-1] == b"after"


def test_a_lost_chunk_is_resent_and_the_install_completes() -> None:
    net = lagging_cluster(chunk=100)
    net.heal()
    lost = {"n": 0}

    def lose_third_chunk(m) -> bool:  # type: ignore[no-untyped-def]
        if m.type == MsgType.MsgSnap and m.snap_offset == 300 and lost["n"] == 0:
            lost["n"] = 1
            return False
        return True

    net.intercept = lose_third_chunk
    net.tick(1)
    assert net.members[3].snapshots_applied == 0  # stuck at the lost chunk
    net.tick(2)  # the next heartbeat response makes the leader resend it
    assert lost["n"] == 1 and net.members[3].snapshots_applied == 1
    assert net.members[3].storage.snapshot().data == b"S" * 1000


def test_an_out_of_order_chunk_is_refused_with_where_to_resume() -> None:
    net = lagging_cluster(chunk=100)
    net.heal()
    held = []

    def hold_second(m) -> bool:  # type: ignore[no-untyped-def]
        if m.type == MsgType.MsgSnap and m.snap_offset == 100 and not held:
            held.append(m)
            return False
        return True

    net.intercept = hold_second
    net.tick(1)
    net.intercept = None
    resumed = []
    net.intercept = lambda m: (resumed.append(m) or True) if m.type == MsgType.MsgSnapResp else True
    net.tick(3)
    assert net.members[3].snapshots_applied == 1
    net.sent.clear()
    net.deliver(held[0])  # a stale chunk arriving late: refused, no harm
    net.process()
    assert net.members[3].snapshots_applied == 1


def test_a_snapshot_already_covered_by_the_log_only_advances_the_commit() -> None:
    net = RaftNet([1, 2, 3])
    net.campaign(1)
    for k in range(5):
        net.propose(1, b"%d" % k)
    before = net.members[2].snapshots_applied
    compact(net, 1, b"S")
    net.tick(3)
    assert net.members[2].snapshots_applied == before  # 2 had the log: no snapshot sent
