"""Snapshots, log compaction and catching up: a follower that was down while the others
wrote (and compacted their logs past what it has) catches up -- by a snapshot sent in
chunks for the builtin store -- and a full restart recovers from snapshot + WAL.
Both backends, 3 members, ``--snapshot-count 50``.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G
from storekit import hactl

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

PORTS = {"etcd": 23750, "builtin": 23850}
WRITES = 300


@pytest.fixture(params=["etcd", "builtin"])
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Path, list[str]]]:
    backend = request.param
    if backend == "etcd" and shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed")
    out = hactl("store", "up", "--members", "3", "--dir", str(tmp_path), "--backend", backend,
                "--base-port", str(PORTS[backend]), "--snapshot-count", "50")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        yield backend, tmp_path, out.stdout.strip().split(",")
    finally:
        hactl("store", "down", "--dir", str(tmp_path), "--grace", "1")


def _count(endpoint: str) -> int:
    with grpc.insecure_channel(endpoint) as ch:
        r = G.KVStub(ch).Range(
            R.RangeRequest(key=b"/s/", range_end=b"/s0", count_only=True, serializable=True),
            timeout=5,
        )
        return int(r.count)


def _wait_count(endpoint: str, n: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    got = -1
    while time.monotonic() < deadline:
        try:
            got = _count(endpoint)
        except grpc.RpcError:
            got = -1
        if got == n:
            return
        time.sleep(0.1)
    raise AssertionError(f"{endpoint} holds {got} keys, expected {n}")


def test_lagging_follower_catches_up_and_restart_recovers(
    cluster: tuple[str, Path, list[str]],
) -> None:
    backend, directory, endpoints = cluster
    leader = None
    for i, ep in enumerate(endpoints):
        with grpc.insecure_channel(ep) as ch:
            st = G.MaintenanceStub(ch).Status(R.StatusRequest(), timeout=5)
            if st.leader == st.header.member_id:
                leader = i
    assert leader is not None
    down = (leader + 1) % 3
    os.kill(int((directory / f"m{down + 1}.pid").read_text()), signal.SIGKILL)
    live = endpoints[leader]
    with grpc.insecure_channel(live) as ch:
        kv = G.KVStub(ch)
        for n in range(WRITES):
            kv.Put(R.PutRequest(key=b"/s/%04d" % n, value=b"v%d" % n), timeout=10)
    out = hactl("store", "up", "--members", "3", "--dir", str(directory), "--backend", backend)
    assert out.returncode == 0, out.stderr
    _wait_count(endpoints[down], WRITES)
    if backend == "builtin":
        snaps = list((directory / f"m{leader + 1}" / "raft" / "snap").iterdir())
        assert snaps, "the leader never took a snapshot"
        log = (directory / f"m{down + 1}.log").read_text()
        assert "restored from a snapshot" in log, "the follower caught up without a snapshot"
    # everyone down, everyone up: state comes back from snapshot + WAL
    hactl("store", "down", "--dir", str(directory), "--grace", "1")
    out = hactl("store", "up", "--members", "3", "--dir", str(directory), "--backend", backend)
    assert out.returncode == 0, out.stderr
    for ep in endpoints:
        _wait_count(ep, WRITES)
    with grpc.insecure_channel(endpoints[down]) as ch:
        r = G.KVStub(ch).Range(R.RangeRequest(key=b"/s/0299"), timeout=5)
        assert r.kvs[0].value == b"v299" and r.kvs[0].version == 1
