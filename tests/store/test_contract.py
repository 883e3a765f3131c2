"""The store contract: the same tests against real etcd and the builtin store.

Every test runs twice (``store`` is parametrized over the backends, 3 members each, as
OS processes). A difference between the two is a bug of ours, or a documented choice
in docs/store.md.
"""

from __future__ import annotations

import time

import grpc
import pytest
from aetcd.rpc import rpc_pb2
from storekit import Store, WatchStream

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

R = rpc_pb2


def rpc_error(fn, *args, **kw) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as exc:
        fn(*args, timeout=10, **kw)
    return exc.value


def poll(pred, timeout: float = 15.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- KV -------------------------------------------------------------------------------------


def test_put_get_revisions_and_versions(store: Store) -> None:
    p = store.prefix()
    r1 = store.put(p + b"a", b"1")
    r2 = store.put(p + b"a", b"2")
    assert r2.header.revision == r1.header.revision + 1
    assert r1.header.cluster_id != 0 and r1.header.member_id != 0 and r1.header.raft_term > 0
    kv = store.get(p + b"a").kvs[0]
    assert (kv.value, kv.create_revision, kv.mod_revision, kv.version) == (
        b"2",
        r1.header.revision,
        r2.header.revision,
        2,
    )
    old = store.get(p + b"a", revision=r1.header.revision).kvs[0]
    assert old.value == b"1" and old.version == 1
    # every member serves the same data
    for i in range(len(store.endpoints)):
        stub = store.stubs(i).kv
        assert stub.Range(R.RangeRequest(key=p + b"a"), timeout=10).kvs[0].value == b"2"
        ser = stub.Range(R.RangeRequest(key=p + b"a", serializable=True), timeout=10)
        assert ser.kvs[0].value in (b"1", b"2")


def test_write_through_every_member(store: Store) -> None:
    p = store.prefix()
    for i in range(len(store.endpoints)):
        store.stubs(i).kv.Put(R.PutRequest(key=p + str(i).encode(), value=b"v"), timeout=10)
    got = store.get(p, range_end=p[:-1] + b"0")
    assert [kv.key for kv in got.kvs] == [p + b"0", p + b"1", p + b"2"]


def test_range_prefix_limit_sort_keys_only_count_only(store: Store) -> None:
    p = store.prefix()
    for k in [b"c", b"a", b"b", b"d"]:
        store.put(p + k, k * 3)
    end = p[:-1] + b"0"
    r = store.get(p, range_end=end)
    assert [kv.key for kv in r.kvs] == [p + b"a", p + b"b", p + b"c", p + b"d"]
    assert r.count == 4 and not r.more
    r = store.get(p, range_end=end, limit=2)
    assert [kv.key for kv in r.kvs] == [p + b"a", p + b"b"] and r.more and r.count == 4
    r = store.get(p, range_end=end, sort_order=R.RangeRequest.DESCEND, limit=3)
    assert [kv.key for kv in r.kvs] == [p + b"d", p + b"c", p + b"b"] and r.more
    r = store.get(p, range_end=end, sort_target=R.RangeRequest.MOD)
    assert [kv.key for kv in r.kvs] == [p + b"c", p + b"a", p + b"b", p + b"d"]
    r = store.get(
        p, range_end=end, sort_target=R.RangeRequest.VALUE, sort_order=R.RangeRequest.DESCEND
    )
    assert [kv.value for kv in r.kvs] == [b"ddd", b"ccc", b"bbb", b"aaa"]
    r = store.get(p, range_end=end, keys_only=True)
    assert all(kv.value == b"" for kv in r.kvs) and len(r.kvs) == 4
    r = store.get(p, range_end=end, count_only=True)
    assert r.count == 4 and len(r.kvs) == 0
    mid = store.get(p + b"b").kvs[0].mod_revision
    r = store.get(p, range_end=end, min_mod_revision=mid)
    assert [kv.key for kv in r.kvs] == [p + b"b", p + b"d"] and r.count == 4
    r = store.get(p + b"zz")
    assert r.count == 0 and not r.kvs


def test_range_errors(store: Store) -> None:
    e = rpc_error(store.kv.Range, R.RangeRequest(key=b""))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.details() == "etcdserver: key is not provided"
    rev = store.get(b"x").header.revision
    e = rpc_error(store.kv.Range, R.RangeRequest(key=b"x", revision=rev + 1000))
    assert e.code() == grpc.StatusCode.OUT_OF_RANGE
    assert e.details() == "etcdserver: mvcc: required revision is a future revision"


def test_put_options_and_errors(store: Store) -> None:
    p = store.prefix()
    r = store.put(p + b"k", b"v1", prev_kv=True)
    assert not r.HasField("prev_kv")
    r = store.put(p + b"k", b"v2", prev_kv=True)
    assert r.prev_kv.value == b"v1" and r.prev_kv.version == 1
    e = rpc_error(store.kv.Put, R.PutRequest(key=p + b"missing", ignore_value=True))
    assert (e.code(), e.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "etcdserver: key not found",
    )
    e = rpc_error(store.kv.Put, R.PutRequest(key=p + b"k", value=b"x", ignore_value=True))
    assert e.details() == "etcdserver: value is provided"
    e = rpc_error(store.kv.Put, R.PutRequest(key=p + b"k", value=b"x", lease=123456789))
    assert (e.code(), e.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "etcdserver: requested lease not found",
    )
    e = rpc_error(store.kv.Put, R.PutRequest(key=b"", value=b"x"))
    assert e.details() == "etcdserver: key is not provided"
    lease = store.lease.LeaseGrant(R.LeaseGrantRequest(TTL=60), timeout=10).ID
    store.put(p + b"k", b"v3", lease=lease)
    store.put(p + b"k", b"", ignore_value=True)
    kv = store.get(p + b"k").kvs[0]
    assert (kv.value, kv.lease) == (b"v3", 0)
    store.put(p + b"k", b"v4", lease=lease)
    store.put(p + b"k", b"v5", ignore_lease=True)
    kv = store.get(p + b"k").kvs[0]
    assert (kv.value, kv.lease, kv.version) == (b"v5", lease, 6)
    store.lease.LeaseRevoke(R.LeaseRevokeRequest(ID=lease), timeout=10)


def test_delete_range_prev_kv(store: Store) -> None:
    p = store.prefix()
    for k in [b"a", b"b", b"c"]:
        store.put(p + k, k)
    r = store.kv.DeleteRange(R.DeleteRangeRequest(key=p + b"a", range_end=p + b"c", prev_kv=True))
    assert r.deleted == 2 and [kv.value for kv in r.prev_kvs] == [b"a", b"b"]
    rev = r.header.revision
    r = store.kv.DeleteRange(R.DeleteRangeRequest(key=p + b"a"))
    assert r.deleted == 0 and r.header.revision == rev
    assert [kv.key for kv in store.get(p, range_end=p[:-1] + b"0").kvs] == [p + b"c"]
    store.put(p + b"a", b"again")
    kv = store.get(p + b"a").kvs[0]
    assert kv.version == 1 and kv.create_revision == kv.mod_revision


def _cmp(key: bytes, target: str, result: str, **kw: object) -> R.Compare:
    return R.Compare(
        key=key, target=getattr(R.Compare, target), result=getattr(R.Compare, result), **kw
    )


def _put_op(key: bytes, value: bytes) -> R.RequestOp:
    return R.RequestOp(request_put=R.PutRequest(key=key, value=value))


def test_txn_compares_branches_and_nesting(store: Store) -> None:
    p = store.prefix()
    first = store.put(p + b"a", b"1")
    txn = R.TxnRequest(
        compare=[
            _cmp(p + b"a", "VALUE", "EQUAL", value=b"1"),
            _cmp(p + b"a", "VERSION", "EQUAL", version=1),
            _cmp(p + b"a", "CREATE", "EQUAL", create_revision=first.header.revision),
            _cmp(p + b"a", "MOD", "LESS", mod_revision=first.header.revision + 1),
            _cmp(p + b"a", "LEASE", "EQUAL", lease=0),
            _cmp(p + b"new", "VERSION", "EQUAL", version=0),
        ],
        success=[
            _put_op(p + b"b", b"2"),
            _put_op(p + b"c", b"3"),
            R.RequestOp(request_range=R.RangeRequest(key=p + b"b")),
            R.RequestOp(
                request_txn=R.TxnRequest(
                    # nested compares are decided on the state before the outer txn
                    compare=[_cmp(p + b"b", "VERSION", "EQUAL", version=0)],
                    success=[
                        R.RequestOp(
                            request_delete_range=R.DeleteRangeRequest(key=p + b"a", prev_kv=True)
                        )
                    ],
                )
            ),
        ],
        failure=[_put_op(p + b"fail", b"x")],
    )
    r = store.kv.Txn(txn, timeout=10)
    assert r.succeeded
    assert r.header.revision == first.header.revision + 1  # one revision for the whole txn
    assert r.responses[2].response_range.kvs[0].value == b"2"
    inner = r.responses[3].response_txn
    assert inner.succeeded and inner.responses[0].response_delete_range.deleted == 1
    keys = [kv.key for kv in store.get(p, range_end=p[:-1] + b"0").kvs]
    assert keys == [p + b"b", p + b"c"]
    b = store.get(p + b"b").kvs[0]
    assert b.mod_revision == r.header.revision
    # failure branch; a compare on a missing key's value is false
    r = store.kv.Txn(
        R.TxnRequest(
            compare=[_cmp(p + b"none", "VALUE", "NOT_EQUAL", value=b"x")],
            success=[_put_op(p + b"s", b"1")],
            failure=[R.RequestOp(request_range=R.RangeRequest(key=p + b"c"))],
        ),
        timeout=10,
    )
    assert not r.succeeded and r.responses[0].response_range.kvs[0].value == b"3"
    # range compare: every key in the range must match
    r = store.kv.Txn(
        R.TxnRequest(compare=[_cmp(p, "VERSION", "GREATER", version=0, range_end=p[:-1] + b"0")]),
        timeout=10,
    )
    assert r.succeeded
    # a read-only txn does not advance the revision
    rev = store.get(b"x").header.revision
    r = store.kv.Txn(R.TxnRequest(success=[R.RequestOp(request_range=R.RangeRequest(key=p))]))
    assert r.header.revision == rev


def test_txn_errors(store: Store) -> None:
    p = store.prefix()
    e = rpc_error(
        store.kv.Txn, R.TxnRequest(success=[_put_op(p + b"x", b"1"), _put_op(p + b"x", b"2")])
    )
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.details() == "etcdserver: duplicate key given in txn request"
    e = rpc_error(store.kv.Txn, R.TxnRequest(success=[_put_op(p + b"x", b"1")] * 129))
    assert e.details() == "etcdserver: too many operations in txn request"
    assert not store.get(p + b"x").kvs


def test_compaction(store: Store) -> None:
    p = store.prefix()
    revs = [store.put(p + b"k", str(i).encode()).header.revision for i in range(4)]
    store.kv.Compact(R.CompactionRequest(revision=revs[2], physical=True), timeout=10)
    e = rpc_error(store.kv.Range, R.RangeRequest(key=p + b"k", revision=revs[1]))
    assert e.code() == grpc.StatusCode.OUT_OF_RANGE
    assert e.details() == "etcdserver: mvcc: required revision has been compacted"
    assert store.get(p + b"k", revision=revs[2]).kvs[0].value == b"2"
    e = rpc_error(store.kv.Compact, R.CompactionRequest(revision=revs[1]))
    assert e.details() == "etcdserver: mvcc: required revision has been compacted"
    e = rpc_error(store.kv.Compact, R.CompactionRequest(revision=revs[3] + 1000))
    assert e.details() == "etcdserver: mvcc: required revision is a future revision"
    # a watch from a compacted revision is created, then cancelled with compact_revision
    w = WatchStream(store.stubs(1).watch)
    try:
        w.create(p + b"k", start_revision=revs[1])
        r = w.recv()
        assert r.canceled and r.compact_revision == revs[2]
    finally:
        w.close()


# --- Watch ----------------------------------------------------------------------------------


def test_watch_from_revision_prefix_prev_kv_and_cancel(store: Store) -> None:
    p = store.prefix()
    start = store.put(p + b"a", b"1").header.revision
    store.put(p + b"b", b"2")
    store.kv.DeleteRange(R.DeleteRangeRequest(key=p + b"a"))
    store.put(b"/elsewhere", b"x")
    w = WatchStream(store.stubs(2).watch)
    try:
        created = w.create(p, range_end=p[:-1] + b"0", start_revision=start, prev_kv=True)
        evs = w.events(3)
        assert [(e.type, e.kv.key) for e in evs] == [(0, p + b"a"), (0, p + b"b"), (1, p + b"a")]
        assert [e.kv.mod_revision for e in evs] == [start, start + 1, start + 2]
        assert evs[2].prev_kv.value == b"1" and evs[2].kv.value == b""
        assert not evs[0].HasField("prev_kv")
        # live events keep coming in order, one revision after another
        store.put(p + b"c", b"3")
        store.stubs(1).kv.Put(R.PutRequest(key=p + b"c", value=b"4"), timeout=10)
        evs = w.events(2)
        assert [e.kv.value for e in evs] == [b"3", b"4"]
        assert evs[1].prev_kv.value == b"3"
        assert evs[1].kv.mod_revision == evs[0].kv.mod_revision + 1
        w.send(R.WatchRequest(cancel_request=R.WatchCancelRequest(watch_id=created.watch_id)))
        r = w.recv()
        while not r.canceled:
            r = w.recv()
        assert r.watch_id == created.watch_id
    finally:
        w.close()


def test_watch_filters_and_several_watchers_on_one_stream(store: Store) -> None:
    p = store.prefix()
    w = WatchStream(store.stubs(0).watch)
    try:
        puts_only = w.create(p + b"k", filters=[R.WatchCreateRequest.NODELETE]).watch_id
        dels_only = w.create(p + b"k", filters=[R.WatchCreateRequest.NOPUT]).watch_id
        assert puts_only != dels_only
        store.put(p + b"k", b"1")
        store.kv.DeleteRange(R.DeleteRangeRequest(key=p + b"k"))
        seen: dict[int, list[int]] = {puts_only: [], dels_only: []}
        while len(seen[puts_only]) < 1 or len(seen[dels_only]) < 1:
            r = w.recv()
            seen[r.watch_id].extend(e.type for e in r.events)
        assert seen == {puts_only: [0], dels_only: [1]}
    finally:
        w.close()


def test_watch_progress_request(store: Store) -> None:
    p = store.prefix()
    w = WatchStream(store.stubs(0).watch)
    try:
        w.create(p + b"k")
        rev = store.put(b"/progress", b"x").header.revision
        w.send(R.WatchRequest(progress_request=R.WatchProgressRequest()))
        r = w.recv()
        assert not r.events and r.header.revision >= rev
    finally:
        w.close()


# --- Lease ----------------------------------------------------------------------------------


def test_lease_grant_keepalive_ttl_leases_revoke(store: Store) -> None:
    p = store.prefix()
    g = store.lease.LeaseGrant(R.LeaseGrantRequest(TTL=30), timeout=10)
    assert g.ID != 0 and g.TTL == 30 and not g.error
    store.put(p + b"a", b"1", lease=g.ID)
    store.put(p + b"b", b"1", lease=g.ID)
    ttl = store.lease.LeaseTimeToLive(R.LeaseTimeToLiveRequest(ID=g.ID, keys=True), timeout=10)
    assert ttl.grantedTTL == 30 and 0 < ttl.TTL <= 30
    assert sorted(ttl.keys) == [p + b"a", p + b"b"]
    ka = list(store.stubs(1).lease.LeaseKeepAlive(iter([R.LeaseKeepAliveRequest(ID=g.ID)])))
    assert [(r.ID, r.TTL) for r in ka] == [(g.ID, 30)]
    ids = [ls.ID for ls in store.lease.LeaseLeases(R.LeaseLeasesRequest(), timeout=10).leases]
    assert g.ID in ids
    r = store.stubs(2).lease.LeaseRevoke(R.LeaseRevokeRequest(ID=g.ID), timeout=10)
    assert r.header.revision > 0
    assert not store.get(p, range_end=p[:-1] + b"0").kvs
    e = rpc_error(store.lease.LeaseRevoke, R.LeaseRevokeRequest(ID=g.ID))
    assert (e.code(), e.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "etcdserver: requested lease not found",
    )
    gone = store.lease.LeaseTimeToLive(R.LeaseTimeToLiveRequest(ID=g.ID), timeout=10)
    assert gone.TTL == -1
    ka = list(store.lease.LeaseKeepAlive(iter([R.LeaseKeepAliveRequest(ID=g.ID)])))
    assert [(r.ID, r.TTL) for r in ka] == [(g.ID, 0)]


def test_lease_with_chosen_id_and_duplicates(store: Store) -> None:
    lid = 0x1234_0000 + (hash(store.backend) & 0xFFFF)
    g = store.lease.LeaseGrant(R.LeaseGrantRequest(TTL=60, ID=lid), timeout=10)
    assert lid == g.ID
    e = rpc_error(store.lease.LeaseGrant, R.LeaseGrantRequest(TTL=60, ID=lid))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert e.details() == "etcdserver: lease already exists"
    store.lease.LeaseRevoke(R.LeaseRevokeRequest(ID=lid), timeout=10)


def test_lease_expiry_deletes_keys(store: Store) -> None:
    p = store.prefix()
    g = store.lease.LeaseGrant(R.LeaseGrantRequest(TTL=1), timeout=10)
    assert g.TTL == 2  # raised to the minimum TTL (1.5 x election timeout, rounded up)
    w = WatchStream(store.stubs(1).watch)
    try:
        w.create(p + b"k")
        store.put(p + b"k", b"v", lease=g.ID)
        granted = time.monotonic()
        evs = w.events(2)
        assert [e.type for e in evs] == [0, 1]
        assert time.monotonic() - granted >= 1.0
    finally:
        w.close()
    poll(lambda: not store.get(p + b"k").kvs, what="key deleted by lease expiry")


# --- Cluster and Maintenance ----------------------------------------------------------------


def test_member_list(store: Store) -> None:
    ml = store.stubs(1).cluster.MemberList(R.MemberListRequest(), timeout=10)
    members = sorted(ml.members, key=lambda m: m.name)
    assert [m.name for m in members] == ["m1", "m2", "m3"]
    assert [m.clientURLs[0] for m in members] == [f"http://{e}" for e in store.endpoints]
    assert all(m.peerURLs and not m.isLearner and m.ID for m in members)
    assert len({m.ID for m in members}) == 3


def test_status_and_alarms(store: Store) -> None:
    leaders = set()
    for i in range(len(store.endpoints)):
        st = store.stubs(i).maintenance.Status(R.StatusRequest(), timeout=10)
        assert st.version.startswith("3.")
        assert st.raftTerm > 0 and st.raftIndex > 0 and st.dbSize > 0
        leaders.add(st.leader)
    assert len(leaders) == 1 and 0 not in leaders
    al = store.stubs(0).maintenance.Alarm(
        R.AlarmRequest(action=R.AlarmRequest.GET, alarm=R.NONE), timeout=10
    )
    assert list(al.alarms) == []


def test_snapshot_stream(store: Store) -> None:
    import hashlib

    store.put(b"/snap", b"x" * 1000)
    chunks = list(store.stubs(0).maintenance.Snapshot(R.SnapshotRequest(), timeout=30))
    assert chunks and chunks[-1].remaining_bytes == 0
    data = b"".join(c.blob for c in chunks)
    # etcd's shape: whole 512-byte pages followed by their SHA-256
    assert (len(data) - 32) % 512 == 0
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]


def test_member_add_learner_promote_refused_remove(store: Store) -> None:
    cluster = store.stubs(1).cluster  # any member: a follower forwards to the leader
    port = 23290 if store.backend == "builtin" else 23190  # nobody listens there
    req = R.MemberAddRequest(peerURLs=[f"http://127.0.0.1:{port}"], isLearner=True)

    def add() -> R.MemberAddResponse | None:
        # etcd's --strict-reconfig-check refuses changes until every member has been
        # connected for 5 s ("etcdserver: unhealthy cluster"); retry through that window
        try:
            return cluster.MemberAdd(req, timeout=10)
        except grpc.RpcError as e:
            if e.details() != "etcdserver: unhealthy cluster":
                raise
            return None

    new = poll(add, what="MemberAdd accepted").member
    assert new.ID and new.isLearner and list(new.peerURLs) == [f"http://127.0.0.1:{port}"]
    # MemberList is served from each member's applied state: poll until the change arrived
    ml = poll(
        lambda: [
            m
            for m in store.stubs(2).cluster.MemberList(R.MemberListRequest(), timeout=10).members
            if m.ID == new.ID
        ],
        what="the learner in every member's list",
    )
    assert [(m.isLearner, m.name) for m in ml] == [(True, "")]
    e = rpc_error(cluster.MemberPromote, R.MemberPromoteRequest(ID=new.ID))
    assert (e.code(), e.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "etcdserver: can only promote a learner member which is in sync with leader",
    )
    cluster.MemberRemove(R.MemberRemoveRequest(ID=new.ID), timeout=10)
    poll(
        lambda: (
            sorted(
                m.name
                for m in store.stubs(0)
                .cluster.MemberList(R.MemberListRequest(), timeout=10)
                .members
            )
            == ["m1", "m2", "m3"]
        ),
        what="the learner gone from the list",
    )
    e = rpc_error(cluster.MemberRemove, R.MemberRemoveRequest(ID=new.ID))
    assert (e.code(), e.details()) == (grpc.StatusCode.NOT_FOUND, "etcdserver: member not found")


def test_move_leader(store: Store) -> None:
    def leader() -> tuple[int, int] | None:
        for i in range(len(store.endpoints)):
            st = store.stubs(i).maintenance.Status(R.StatusRequest(), timeout=10)
            if st.leader == st.header.member_id:
                return i, st.leader
        return None

    i, lead = poll(leader, what="a leader")
    members = store.stubs(0).cluster.MemberList(R.MemberListRequest(), timeout=10).members
    target = next(m.ID for m in sorted(members, key=lambda m: m.ID) if lead != m.ID)
    store.stubs(i).maintenance.MoveLeader(R.MoveLeaderRequest(targetID=target), timeout=15)
    poll(lambda: (r := leader()) is not None and r[1] == target, what="the new leader")
    # writes go on through any member
    store.put(b"/after-move", b"ok")
