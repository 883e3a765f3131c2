"""A large command applied in steps is atomic for readers (KVStore.apply_steps)."""

from __future__ import annotations

from reconciler.kv import snapshot
from reconciler.kv.store import APPLY_CHUNK, KVStore
from reconciler.kv.types import (
    CompactionRequest,
    DeleteRangeRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
)

N = 3 * APPLY_CHUNK + 17


def _filled(lease: int = 0) -> KVStore:
    s = KVStore()
    if lease:
        s.apply(LeaseGrantRequest(ttl=60, id=lease))
    for i in range(N):
        s.apply(PutRequest(key=b"/k/%06d" % i, value=b"v%d" % i, lease=lease))
    return s


def _count(s: KVStore) -> int:
    return s.range(RangeRequest(key=b"/k/", range_end=b"/k0", count_only=True)).count


def test_delete_range_in_steps_is_invisible_until_complete() -> None:
    s = _filled()
    rev = s.revision
    image_before = snapshot.encode(s)
    steps = s.apply_steps(DeleteRangeRequest(key=b"/k/", range_end=b"/k0"))
    n_steps = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result = done.value
            break
        n_steps += 1
        # between two steps: the committed state, with none of the deletes
        assert s.revision == rev
        assert _count(s) == N
        assert s.get(b"/k/000000") is not None
        assert s.events_since(rev + 1) == []
        # a snapshot taken now is the committed state
        assert snapshot.encode(s) == image_before
        # a read-only txn served locally sees the committed state and changes nothing
        ro = s.apply(TxnRequest(compare=(), success=(RangeRequest(key=b"/k/", range_end=b"/k0"),)))
        assert ro.error is None and ro.response is not None
        assert ro.response.responses[0].count == N  # type: ignore[union-attr]
        assert s.revision == rev
    assert n_steps >= 3
    assert result.error is None and result.response.deleted == N
    assert s.revision == rev + 1
    assert _count(s) == 0
    assert len(s.events_since(rev + 1)) == N


def test_stepped_result_equals_one_piece_result() -> None:
    a, b = _filled(), _filled()
    cmds = [
        DeleteRangeRequest(key=b"/k/000100", range_end=b"/k/002500", prev_kv=True),
        TxnRequest(
            compare=(),
            success=(
                PutRequest(key=b"/x", value=b"1"),
                DeleteRangeRequest(key=b"/k/", range_end=b"/k0"),
            ),
        ),
        CompactionRequest(revision=N),
    ]
    for cmd in cmds:
        ra = a.apply(cmd)
        steps = b.apply_steps(cmd)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                rb = done.value
                break
        assert ra == rb
    assert snapshot.encode(a) == snapshot.encode(b)


def test_lease_revoke_in_steps_keeps_keys_and_lease_until_complete() -> None:
    s = _filled(lease=7)
    steps = s.apply_steps(LeaseRevokeRequest(id=7))
    next(steps)
    assert 7 in s.leases and len(s.keys_of_lease(7)) == N
    assert _count(s) == N
    for _ in steps:
        pass
    assert 7 not in s.leases
    assert _count(s) == 0


def test_compaction_in_steps_serves_reads_at_and_after_it() -> None:
    s = _filled()
    s.apply(DeleteRangeRequest(key=b"/k/", range_end=b"/k/001000"))
    mid = s.revision
    steps = s.apply_steps(CompactionRequest(revision=mid))
    next(steps)
    assert s.compact_revision == mid
    r = s.range(RangeRequest(key=b"/k/", range_end=b"/k0", revision=mid, count_only=True))
    assert r.count == N - 1000
    for _ in steps:
        pass
    r = s.range(RangeRequest(key=b"/k/", range_end=b"/k0", revision=mid, count_only=True))
    assert r.count == N - 1000
