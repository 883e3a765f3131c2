"""The key/value state machine against etcd's documented semantics (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kv import errors, snapshot
from reconciler.kv.lessor import Lessor
from reconciler.kv.store import KVStore
from reconciler.kv.types import (
    CompactionRequest,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    EventType,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    SortOrder,
    SortTarget,
    TxnRequest,
)
from reconciler.kv.watch import FILTER_NOPUT, WatchSpec


def put(s: KVStore, k: bytes, v: bytes, **kw: Any) -> Any:
    a = s.apply(PutRequest(k, v, **kw))
    if a.error:
        raise a.error
    return a.response


def resp(s: KVStore, cmd: Any) -> Any:
    a = s.apply(cmd)
    assert a.error is None, a.error
    return a.response


def test_revisions_versions_and_history() -> None:
    s = KVStore()
    assert s.revision == 1
    r = put(s, b"a", b"1")
    assert r.revision == 2
    put(s, b"a", b"2")
    kv = s.get(b"a")
    assert kv is not None
    assert (kv.create_revision, kv.mod_revision, kv.version) == (2, 3, 2)
    assert s.range(RangeRequest(b"a", revision=2)).kvs[0].value == b"1"
    s.apply(DeleteRangeRequest(b"a"))
    assert s.revision == 4 and s.get(b"a") is None
    put(s, b"a", b"3")
    kv = s.get(b"a")
    assert kv is not None and (kv.create_revision, kv.version) == (5, 1)
    # a delete that deletes nothing changes nothing
    assert resp(s, DeleteRangeRequest(b"zz")).revision == 5
    assert s.revision == 5


def test_range_prefix_limit_sort_count() -> None:
    s = KVStore()
    for k in [b"p/c", b"p/a", b"p/b", b"q"]:
        put(s, k, k.upper())
    r = s.range(RangeRequest(b"p/", range_end=b"p0"))
    assert [kv.key for kv in r.kvs] == [b"p/a", b"p/b", b"p/c"] and r.count == 3
    r = s.range(RangeRequest(b"p/", range_end=b"p0", limit=2))
    assert len(r.kvs) == 2 and r.more and r.count == 3
    r = s.range(RangeRequest(b"p/", range_end=b"p0", sort_order=SortOrder.DESCEND))
    assert [kv.key for kv in r.kvs] == [b"p/c", b"p/b", b"p/a"]
    r = s.range(RangeRequest(b"p/", range_end=b"p0", sort_target=SortTarget.MOD))
    assert [kv.key for kv in r.kvs] == [b"p/c", b"p/a", b"p/b"]
    r = s.range(RangeRequest(b"\x00", range_end=b"\x00", count_only=True))
    assert r.count == 4 and not r.kvs
    r = s.range(RangeRequest(b"p/a", keys_only=True))
    assert r.kvs[0].value == b""
    with pytest.raises(errors.EmptyKey):
        s.range(RangeRequest(b""))
    with pytest.raises(errors.FutureRevision):
        s.range(RangeRequest(b"a", revision=99))


def test_compaction_errors() -> None:
    s = KVStore()
    for i in range(5):
        put(s, b"k", str(i).encode())
    assert s.apply(CompactionRequest(4)).error is None
    with pytest.raises(errors.CompactedRevision) as exc:
        s.range(RangeRequest(b"k", revision=3))
    assert str(exc.value) == "etcdserver: mvcc: required revision has been compacted"
    assert s.range(RangeRequest(b"k", revision=4)).kvs[0].value == b"2"
    assert isinstance(s.apply(CompactionRequest(4)).error, errors.CompactedRevision)
    assert isinstance(s.apply(CompactionRequest(40)).error, errors.FutureRevision)
    with pytest.raises(errors.CompactedRevision):
        s.events_since(2)
    assert [e.kv.mod_revision for e in s.events_since(4)] == [5, 6]


def test_put_options() -> None:
    s = KVStore()
    assert isinstance(s.apply(PutRequest(b"k", ignore_value=True)).error, errors.KeyNotFound)
    assert isinstance(s.apply(PutRequest(b"k", b"v", lease=7)).error, errors.LeaseNotFound)
    s.apply(LeaseGrantRequest(7, 60))
    put(s, b"k", b"v", lease=7)
    r = put(s, b"k", b"", ignore_value=True, prev_kv=True)
    assert r.prev_kv.value == b"v"
    kv = s.get(b"k")
    assert kv is not None and kv.value == b"v" and kv.lease == 0
    put(s, b"k", b"w", lease=7)
    put(s, b"k", b"x", ignore_lease=True)
    kv = s.get(b"k")
    assert kv is not None and kv.lease == 7 and kv.value == b"x"
    assert isinstance(
        s.apply(PutRequest(b"k", b"y", ignore_value=True)).error, errors.ValueProvided
    )


def test_txn_compare_branches_nested_and_one_revision() -> None:
    s = KVStore()
    put(s, b"a", b"1")
    txn = TxnRequest(
        compare=(Compare(b"a", CompareTarget.VALUE, CompareResult.EQUAL, value=b"1"),),
        success=(
            PutRequest(b"b", b"2"),
            PutRequest(b"c", b"3"),
            RangeRequest(b"b"),
            TxnRequest(
                # nested compares see the state before the outer txn, as in etcd
                compare=(Compare(b"b", CompareTarget.VERSION, CompareResult.EQUAL, version=0),),
                success=(DeleteRangeRequest(b"a", prev_kv=True),),
            ),
        ),
        failure=(PutRequest(b"f", b"x"),),
    )
    a = s.apply(txn)
    assert a.error is None and a.response.succeeded  # type: ignore[union-attr]
    assert s.revision == 3
    assert [e.type for e in a.events] == [EventType.PUT, EventType.PUT, EventType.DELETE]
    assert a.response.responses[2].kvs[0].value == b"2"  # type: ignore[union-attr]
    kv = s.get(b"c")
    assert kv is not None and kv.mod_revision == 3
    # compare on a missing key's value always fails; version 0 compares equal
    fail = TxnRequest(
        compare=(Compare(b"nope", CompareTarget.VALUE, CompareResult.NOT_EQUAL, value=b"x"),),
        failure=(RangeRequest(b"b"),),
    )
    assert not resp(s, fail).succeeded and s.revision == 3
    ok = TxnRequest(compare=(Compare(b"nope", CompareTarget.CREATE, CompareResult.EQUAL),))
    assert resp(s, ok).succeeded
    dup = TxnRequest(success=(PutRequest(b"x", b"1"), PutRequest(b"x", b"2")))
    assert isinstance(s.apply(dup).error, errors.DuplicateKey)


def test_leases_revoke_deletes_keys_in_one_revision() -> None:
    s = KVStore()
    assert resp(s, LeaseGrantRequest(5, 1)).ttl == 2
    assert isinstance(s.apply(LeaseGrantRequest(5, 10)).error, errors.LeaseExists)
    put(s, b"a", b"1", lease=5)
    put(s, b"b", b"1", lease=5)
    assert s.keys_of_lease(5) == [b"a", b"b"]
    a = s.apply(LeaseRevokeRequest(5))
    assert len(a.events) == 2 and s.revision == 4
    assert s.get(b"a") is None
    assert isinstance(s.apply(LeaseRevokeRequest(5)).error, errors.LeaseNotFound)


def test_lessor_expiry_is_time_as_argument() -> None:
    lessor = Lessor()
    lessor.granted(1, 10, now=100.0)
    lessor.granted(2, 5, now=100.0)
    assert lessor.expired(104.9) == []
    assert lessor.expired(105.0) == [2]
    assert lessor.keepalive(2, now=105.0) == 5
    assert lessor.remaining(2, now=106.5) == 3
    assert lessor.keepalive(9, now=0) == 0


def test_watch_filters() -> None:
    s = KVStore()
    put(s, b"w/a", b"1")
    s.apply(DeleteRangeRequest(b"w/a"))
    put(s, b"x", b"1")
    spec = WatchSpec(b"w/", b"w0", filters=frozenset({FILTER_NOPUT}), prev_kv=True)
    evs = spec.select(s.events_since(0))
    assert [e.type for e in evs] == [EventType.DELETE]
    assert evs[0].prev_kv is not None and evs[0].prev_kv.value == b"1"


def test_snapshot_roundtrip_and_damage() -> None:
    s = KVStore()
    s.apply(LeaseGrantRequest(3, 30))
    for i in range(10):
        put(s, f"k{i % 3}".encode(), str(i).encode(), lease=3 if i % 2 else 0)
    s.apply(DeleteRangeRequest(b"k1"))
    s.apply(CompactionRequest(6))
    data = snapshot.encode(s)
    t = snapshot.decode(data)
    assert t.revision == s.revision and t.compact_revision == 6
    assert t.history_items() == s.history_items()
    assert t.keys_of_lease(3) == s.keys_of_lease(3)
    assert [e.kv for e in t.events_since(7)] == [e.kv for e in s.events_since(7)]
    with pytest.raises(ValueError, match="checksum"):
        snapshot.decode(data[:40] + b"\xff" + data[41:])
