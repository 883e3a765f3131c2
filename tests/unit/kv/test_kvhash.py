"""HashKV's hash (reconciler.kv.kvhash): what makes it comparable between members."""

from __future__ import annotations

import pytest

from reconciler.kv import errors, snapshot
from reconciler.kv.kvhash import hash_kv
from reconciler.kv.store import KVStore
from reconciler.kv.types import (
    CompactionRequest,
    DeleteRangeRequest,
    LeaseGrantRequest,
    PutRequest,
)


def _store() -> KVStore:
    s = KVStore()
    s.apply(LeaseGrantRequest(id=5, ttl=30))
    for i in range(50):
        s.apply(PutRequest(key=b"/h/%02d" % (i % 20), value=b"v%d" % i, lease=5 if i % 7 else 0))
    s.apply(DeleteRangeRequest(key=b"/h/00", range_end=b"/h/05"))
    return s


def test_a_member_restored_from_a_snapshot_hashes_like_one_that_applied_the_log() -> None:
    a = _store()
    a.apply(CompactionRequest(revision=30))
    b = snapshot.decode(snapshot.encode(a))
    for rev in (31, 40, 0):
        assert hash_kv(a, rev) == hash_kv(b, rev)


def test_later_writes_do_not_change_the_hash_at_a_revision() -> None:
    s = _store()
    rev = s.revision
    before = hash_kv(s, rev)
    s.apply(PutRequest(key=b"/h/99", value=b"new"))
    assert hash_kv(s, rev) == before
    assert hash_kv(s, 0) != before


def test_different_histories_hash_differently() -> None:
    a, b = _store(), _store()
    b.apply(PutRequest(key=b"/h/01", value=b"x"))
    a.apply(PutRequest(key=b"/h/01", value=b"y"))
    assert a.revision == b.revision
    assert hash_kv(a, 0) != hash_kv(b, 0)


def test_errors_as_etcd() -> None:
    s = _store()
    with pytest.raises(errors.FutureRevision):
        hash_kv(s, s.revision + 1)
    s.apply(CompactionRequest(revision=20))
    with pytest.raises(errors.CompactedRevision):
        hash_kv(s, 20)  # etcd refuses the compact revision itself too
    hash_kv(s, 21)
