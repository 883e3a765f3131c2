"""A DeleteRange of 60,000 keys keeps the leader and is atomic for readers (builtin store).

The store starts from a snapshot of 60,000 keys (built here, loaded with `hactl store
restore`: writing them one by one would take minutes). With the default timing (500 ms
election timeout) one DeleteRange of all of them is applied on every member in slices,
so heartbeats keep flowing: the leader and its term must not change. Meanwhile a client
counts the keys with serializable reads on a follower: it must see all of them or none,
never a part, and a watcher on the leader receives the whole revision.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import grpc
import pytest
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G
from storekit import WatchStream, hactl

from reconciler.kv import snapshot as kv_snapshot
from reconciler.kv.store import KVStore
from reconciler.kv.types import PutRequest

pytestmark = pytest.mark.slow

N = 60_000
PORT = 23660


def _snapshot_file(path: Path) -> None:
    kv = KVStore()
    for i in range(N):
        kv.apply(PutRequest(key=b"/big/%06d" % i, value=b"x" * 64))
    data = kv_snapshot.encode(kv)
    data += b"\0" * (-len(data) % 512)  # as Maintenance.Snapshot streams it
    path.write_bytes(data + hashlib.sha256(data).digest())


def _status(ep: str) -> tuple[int, int]:
    with grpc.insecure_channel(ep) as ch:
        st = G.MaintenanceStub(ch).Status(R.StatusRequest(), timeout=10)
    return st.leader, st.raftTerm


def _count(ep: str) -> int:
    with grpc.insecure_channel(ep) as ch:
        req = R.RangeRequest(key=b"/big/", range_end=b"/big0", count_only=True, serializable=True)
        return int(G.KVStub(ch).Range(req, timeout=30).count)


def test_delete_range_of_60000_keys_keeps_the_leader_and_is_atomic(tmp_path: Path) -> None:
    snap, d = tmp_path / "big.snap", tmp_path / "store"
    _snapshot_file(snap)
    out = hactl("store", "restore", "--snapshot", str(snap), "--dir", str(d),
                "--members", "3", "--base-port", str(PORT))  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = hactl("store", "up", "--members", "3", "--dir", str(d), "--timeout", "60")
    assert out.returncode == 0, out.stderr
    endpoints = out.stdout.strip().split(",")
    try:
        before = {_status(ep) for ep in endpoints}
        assert len(before) == 1, before
        leader_id, term = next(iter(before))
        leader_ep = next(
            ep for ep in endpoints if _member_id(ep) == leader_id
        )  # the leader: the delete is proposed there
        follower_ep = next(ep for ep in endpoints if ep != leader_ep)
        assert _count(follower_ep) == N
        seen: set[int] = set()
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                seen.add(_count(follower_ep))

        t = threading.Thread(target=reader)
        t.start()
        # a watcher on the leader receives the whole revision (60,000 events) as well
        watch_ch = grpc.insecure_channel(leader_ep)
        watch = WatchStream(G.WatchStub(watch_ch), timeout=120)
        watch.create(b"/big/", range_end=b"/big0")
        try:
            with grpc.insecure_channel(leader_ep) as ch:
                r = G.KVStub(ch).DeleteRange(
                    R.DeleteRangeRequest(key=b"/big/", range_end=b"/big0"), timeout=60
                )
            assert r.deleted == N
            for ep in endpoints:
                with grpc.insecure_channel(ep) as ch:  # linearizable: waits for the apply
                    rr = G.KVStub(ch).Range(
                        R.RangeRequest(key=b"/big/", range_end=b"/big0", count_only=True),
                        timeout=60,
                    )
                assert rr.count == 0
            events = watch.events(N)
            assert len(events) == N and {e.kv.mod_revision for e in events} == {r.header.revision}
        finally:
            stop.set()
            t.join(timeout=60)
            watch.close()
            watch_ch.close()
        assert seen <= {N, 0}, f"a reader saw part of the DeleteRange: {sorted(seen)}"
        after = {_status(ep) for ep in endpoints}
        logs = "".join((d / f"m{i}.log").read_text(errors="replace") for i in (1, 2, 3))
        held = [ln for ln in logs.splitlines() if "event loop held" in ln]
        assert after == {(leader_id, term)}, (
            f"leader/term changed during the DeleteRange: {after}, was {(leader_id, term)}; "
            f"loop stalls logged: {held}"
        )
    finally:
        hactl("store", "down", "--dir", str(d), "--grace", "1")


def _member_id(ep: str) -> int:
    with grpc.insecure_channel(ep) as ch:
        return int(G.MaintenanceStub(ch).Status(R.StatusRequest(), timeout=10).header.member_id)
