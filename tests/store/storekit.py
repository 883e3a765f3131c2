"""Helpers of the store tests: start a store with `hactl store up`, talk to it with etcd stubs.

Both are started once per session with ``hactl store up`` (real OS processes on
127.0.0.1, ports 23100-23299) and stopped at the end. Tests get a ``Store`` handle with
synchronous stubs of etcd's generated services and a key prefix of their own.
"""

from __future__ import annotations

import itertools
import queue
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

BASE_PORTS = {"etcd": 23100, "builtin": 23200}
MEMBERS = 3
_counter = itertools.count()


@dataclass
class Store:
    backend: str
    directory: Path
    endpoints: list[str]
    channels: list[grpc.Channel]

    def stubs(self, i: int = 0) -> Any:
        ch = self.channels[i]
        return _Stubs(
            rpc_pb2_grpc.KVStub(ch),
            rpc_pb2_grpc.WatchStub(ch),
            rpc_pb2_grpc.LeaseStub(ch),
            rpc_pb2_grpc.ClusterStub(ch),
            rpc_pb2_grpc.MaintenanceStub(ch),
        )

    @property
    def kv(self) -> Any:
        return rpc_pb2_grpc.KVStub(self.channels[0])

    @property
    def lease(self) -> Any:
        return rpc_pb2_grpc.LeaseStub(self.channels[0])

    def prefix(self) -> bytes:
        return f"/t{next(_counter)}/".encode()

    def put(self, key: bytes, value: bytes, **kw: Any) -> Any:
        return self.kv.Put(rpc_pb2.PutRequest(key=key, value=value, **kw), timeout=10)

    def get(self, key: bytes, **kw: Any) -> Any:
        return self.kv.Range(rpc_pb2.RangeRequest(key=key, **kw), timeout=10)


@dataclass
class _Stubs:
    kv: Any
    watch: Any
    lease: Any
    cluster: Any
    maintenance: Any


def hactl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )


def leader_index(endpoints: list[str]) -> int | None:
    """Which of ``endpoints`` is the leader now (its own Status says so), or None."""
    for i, ep in enumerate(endpoints):
        with grpc.insecure_channel(ep) as ch:
            try:
                st = rpc_pb2_grpc.MaintenanceStub(ch).Status(rpc_pb2.StatusRequest(), timeout=1)
            except grpc.RpcError:
                continue
            if st.leader and st.leader == st.header.member_id:
                return i
    return None


def wait_leader(endpoints: list[str], timeout: float = 30) -> int:
    """The leader's index in ``endpoints``, polled until one is elected."""
    deadline = time.monotonic() + timeout
    while (lead := leader_index(endpoints)) is None:
        assert time.monotonic() < deadline, f"no leader among {endpoints} in {timeout} s"
        time.sleep(0.1)
    return lead


def start_store(
    backend: str, directory: Path, members: int = MEMBERS, base: int | None = None
) -> Store:
    port = BASE_PORTS[backend] if base is None else base
    out = hactl("store", "up", "--members", str(members), "--dir", str(directory),
                "--backend", backend, "--base-port", str(port))  # fmt: skip
    if out.returncode != 0:
        hactl("store", "down", "--dir", str(directory), "--grace", "1")
        pytest.fail(f"hactl store up --backend {backend} failed:\n{out.stdout}\n{out.stderr}")
    endpoints = (directory / "endpoints").read_text().strip().split(",")
    assert len(endpoints) == members
    return Store(backend, directory, endpoints, [grpc.insecure_channel(e) for e in endpoints])


class WatchStream:
    """A Watch stream driven synchronously: ``send`` requests, ``recv`` responses."""

    def __init__(self, stub: Any, timeout: float = 60) -> None:
        self._q: queue.Queue[Any] = queue.Queue()
        self._responses = stub.Watch(iter(self._q.get, None), timeout=timeout)

    def send(self, req: Any) -> None:
        self._q.put(req)

    def create(self, key: bytes, **kw: Any) -> Any:
        self.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=key, **kw)))
        resp = self.recv()
        assert resp.created, resp
        return resp

    def recv(self) -> Any:
        return next(self._responses)

    def events(self, n: int) -> list[Any]:
        """The next ``n`` events, however the server grouped them into responses."""
        out: list[Any] = []
        while len(out) < n:
            r = self.recv()
            out.extend(r.events)
        return out

    def close(self) -> None:
        self._q.put(None)
        self._responses.cancel()
