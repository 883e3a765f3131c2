"""Real processes, real faults: kill -9 of the leader and of a follower, and a paused
(SIGSTOP/SIGCONT) leader, while clients write.

For each backend (real etcd, builtin), 3 members as OS processes and 4 client threads
doing put/get/compare-and-swap on a few keys through every member; the leader is killed
with SIGKILL and restarted (``hactl store up`` on the same directory), then a follower.
The recorded history (a timed-out or failed write may or may not have happened) must be
linearizable, with a final read of every key, so no acknowledged write was lost.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G
from storekit import WatchStream, hactl, leader_index, start_store

from reconciler.testing.linearizability import Op, check

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

PORTS = {"etcd": 23900, "builtin": 23950}
KEYS = ["x", "y", "z"]
CLIENTS = 4
TIMEOUT_S = 2.0


class Client(threading.Thread):
    def __init__(self, n: int, endpoints: list[str], stop: threading.Event, ops: list[Op]) -> None:
        super().__init__(daemon=True)
        self.n = n
        self.endpoints = endpoints
        self.stop = stop
        self.ops = ops
        self.rng = random.Random(n)
        self.at = n % len(endpoints)
        self.channels = [grpc.insecure_channel(e) for e in endpoints]
        self.acked = 0

    def kv(self) -> Any:
        return G.KVStub(self.channels[self.at])

    def run(self) -> None:
        seq = 0
        while not self.stop.is_set():
            seq += 1
            key = self.rng.choice(KEYS)
            kind = self.rng.choice(["put", "get", "cas"])
            value = f"c{self.n}-{seq}"
            call = time.monotonic()
            expected: str | None = None
            sent = kind == "put"  # a cas is a write only once its Txn is sent
            try:
                if kind == "put":
                    self.kv().Put(
                        R.PutRequest(key=key.encode(), value=value.encode()), timeout=TIMEOUT_S
                    )
                    self.ops.append(Op(self.n, "put", key, call, time.monotonic(), value=value))
                    self.acked += 1
                elif kind == "get":
                    r = self.kv().Range(R.RangeRequest(key=key.encode()), timeout=TIMEOUT_S)
                    out = r.kvs[0].value.decode() if r.kvs else None
                    self.ops.append(Op(self.n, "get", key, call, time.monotonic(), output=out))
                else:
                    cur = self.kv().Range(R.RangeRequest(key=key.encode()), timeout=TIMEOUT_S)
                    expected = cur.kvs[0].value.decode() if cur.kvs else None
                    if expected is None:
                        cmp = R.Compare(
                            key=key.encode(),
                            target=R.Compare.VERSION,
                            result=R.Compare.EQUAL,
                            version=0,
                        )
                    else:
                        cmp = R.Compare(
                            key=key.encode(),
                            target=R.Compare.VALUE,
                            result=R.Compare.EQUAL,
                            value=expected.encode(),
                        )
                    call = time.monotonic()
                    sent = True
                    t = self.kv().Txn(
                        R.TxnRequest(
                            compare=[cmp],
                            success=[
                                R.RequestOp(
                                    request_put=R.PutRequest(key=key.encode(), value=value.encode())
                                )
                            ],
                        ),
                        timeout=TIMEOUT_S,
                    )
                    self.ops.append(
                        Op(
                            self.n,
                            "cas",
                            key,
                            call,
                            time.monotonic(),
                            value=value,
                            expected=expected,
                            output=t.succeeded,
                        )
                    )
                    self.acked += 1
            except grpc.RpcError:
                if sent:
                    # the outcome is unknown: it may or may not have happened
                    self.ops.append(
                        Op(self.n, kind, key, call, None, value=value, expected=expected)
                    )
                self.at = (self.at + 1) % len(self.endpoints)
                time.sleep(0.02)
        for ch in self.channels:
            ch.close()


class _Watcher(threading.Thread):
    """Watches keys x..z on one member from ``start``; records (revision, key, value)."""

    def __init__(self, endpoint: str, start: int) -> None:
        super().__init__(daemon=True)
        self.channel = grpc.insecure_channel(endpoint)
        self.stream = WatchStream(G.WatchStub(self.channel), timeout=120)
        self.stream.create(b"x", range_end=b"{", start_revision=start)
        self.events: list[tuple[int, bytes, bytes]] = []
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            while True:
                r = self.stream.recv()
                assert not r.canceled, r
                self.events.extend((e.kv.mod_revision, e.kv.key, e.kv.value) for e in r.events)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc
        except Exception as exc:
            self.error = exc

    def wait_for(self, revision: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not (self.events and self.events[-1][0] >= revision):
            assert self.error is None, f"the watch broke: {self.error}"
            assert time.monotonic() < deadline, f"watch did not reach revision {revision}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.stream.close()
        self.join(timeout=5)
        self.channel.close()


def _kill(directory: Path, i: int) -> None:
    pid = int((directory / f"m{i + 1}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


@pytest.fixture(params=["etcd", "builtin"])
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Path, list[str]]]:
    backend = request.param
    if backend == "etcd" and shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed")
    s = start_store(backend, tmp_path, 3, PORTS[backend])
    try:
        yield backend, tmp_path, s.endpoints
    finally:
        hactl("store", "down", "--dir", str(tmp_path), "--grace", "1")


def _first_write_after(endpoints: list[str], since: float) -> float:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for ep in endpoints:
            with grpc.insecure_channel(ep) as ch:
                try:
                    G.KVStub(ch).Put(R.PutRequest(key=b"/probe", value=b"x"), timeout=0.5)
                    return time.monotonic() - since
                except grpc.RpcError:
                    pass
    raise AssertionError("no write succeeded within 20 s of the kill")


def test_kill9_leader_and_follower_history_is_linearizable(
    cluster: tuple[str, Path, list[str]],
) -> None:
    backend, directory, endpoints = cluster
    ops: list[Op] = []
    stop = threading.Event()
    leader = leader_index(endpoints)
    assert leader is not None
    # a watch on a member that is never killed must see every event once, in order,
    # across both faults (compared with a fresh watch from the same revision at the end)
    watched = next(i for i in range(3) if i != leader)
    with grpc.insecure_channel(endpoints[watched]) as ch:
        start = G.KVStub(ch).Range(R.RangeRequest(key=b"x"), timeout=5).header.revision + 1
    live = _Watcher(endpoints[watched], start)
    live.start()
    clients = [Client(n, endpoints, stop, ops) for n in range(CLIENTS)]
    for c in clients:
        c.start()
    time.sleep(1.0)  # let the clients write before the first fault (not synchronisation)
    leader = leader_index(endpoints)
    assert leader is not None
    killed_at = time.monotonic()
    _kill(directory, leader)
    failover = _first_write_after([e for i, e in enumerate(endpoints) if i != leader], killed_at)
    out = hactl("store", "up", "--members", "3", "--dir", str(directory), "--backend", backend)
    assert out.returncode == 0, out.stderr
    new_leader = leader_index(endpoints)
    assert new_leader is not None
    follower = next(i for i in range(3) if i not in (new_leader, watched))
    _kill(directory, follower)
    time.sleep(1.0)
    out = hactl("store", "up", "--members", "3", "--dir", str(directory), "--backend", backend)
    assert out.returncode == 0, out.stderr
    # pause the leader (SIGSTOP) longer than an election timeout, then let it go on: the
    # others elect a new leader meanwhile, and the old one must not act as leader after
    paused = leader_index(endpoints)
    assert paused is not None
    pid = int((directory / f"m{paused + 1}.pid").read_text())
    os.kill(pid, signal.SIGSTOP)
    try:
        _first_write_after([e for i, e in enumerate(endpoints) if i != paused], time.monotonic())
    finally:
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 15
    while True:
        views = set()
        for ep in endpoints:
            with grpc.insecure_channel(ep) as ch:
                try:
                    views.add(G.MaintenanceStub(ch).Status(R.StatusRequest(), timeout=1).leader)
                except grpc.RpcError:
                    views.add(-1)
        if len(views) == 1 and 0 not in views and -1 not in views:
            break
        assert time.monotonic() < deadline, f"members do not agree on one leader: {views}"
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    for c in clients:
        c.join(timeout=10)
    # a final read of every key through every member
    for key in KEYS:
        for i, ep in enumerate(endpoints):
            with grpc.insecure_channel(ep) as ch:
                call = time.monotonic()
                r = G.KVStub(ch).Range(R.RangeRequest(key=key.encode()), timeout=5)
                out_v = r.kvs[0].value.decode() if r.kvs else None
                ops.append(Op(f"final{i}", "get", key, call, time.monotonic(), output=out_v))
    with grpc.insecure_channel(endpoints[watched]) as ch:
        r = G.KVStub(ch).Range(R.RangeRequest(key=b"x", range_end=b"{"), timeout=5)
    last = max(kv.mod_revision for kv in r.kvs)
    live.wait_for(last)
    replay = _Watcher(endpoints[watched], start)
    replay.start()
    replay.wait_for(last)
    live.stop()
    replay.stop()
    seen = [e for e in live.events if e[0] <= last]
    assert seen == [e for e in replay.events if e[0] <= last], (
        "the live watch lost or repeated events"
    )
    assert len(seen) > 20
    acked = sum(c.acked for c in clients)
    print(f"{backend}: {len(ops)} ops, {acked} acknowledged writes, failover {failover:.2f} s")
    assert acked > 20, "the clients hardly wrote: the test proves nothing"
    result = check(ops)
    assert result, result
