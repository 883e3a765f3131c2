"""The other nodes end a dead coordinator's lease at once, only with fencing enabled.

Real etcd, a real gRPC server standing for the coordinator's agent port, the real
watch task that every hacd runs. Ports 25688-25689 (etcd), 25698 (agent port).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import grpc

from reconciler.daemon import keys
from reconciler.daemon.fencing_wait import watch_coordinator
from reconciler.statestore.etcd import EtcdKv
from reconciler.transport.agent_api import AgentClient, AgentServicer, add_to_server

CLIENT, PEER, AGENT = 25688, 25689, 25698


async def until(pred: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def scenario(endpoint: str, fencing: bool) -> bool:
    """A coordinator node2 whose agent port goes away; True when node1 ended its lease."""
    kv = EtcdKv([endpoint], timeout=5)
    deadline = time.monotonic() + 30
    while True:
        try:
            await kv.delete(keys.ROOT, prefix=True)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    cluster = {"kind": "Cluster", "metadata": {"name": "c"}, "spec": {"fencingEnabled": fencing}}
    await kv.put(keys.desired("Cluster", "c"), json.dumps(cluster).encode())
    lease = await kv.grant(60)  # far longer than the test: only a revoke ends it
    live = {"address": f"127.0.0.1:{AGENT}", "pid": 42, "since": 1.0}
    await kv.put(keys.live("node2"), json.dumps(live).encode(), lease=lease)
    await kv.put(keys.ELECTION, json.dumps({"node": "node2"}).encode(), lease=lease)
    server = grpc.aio.server()
    add_to_server(AgentServicer("node2", None, lambda: 0), server)  # type: ignore[arg-type]
    server.add_insecure_port(f"127.0.0.1:{AGENT}")
    await server.start()
    agents = AgentClient()
    task = asyncio.create_task(watch_coordinator(kv, "node1", agents))
    try:

        async def connected() -> bool:
            w = agents.port_watch(lambda: None)
            return any(str(s) == "up" for s in w.state.values())

        await until(connected, "node1 connected to the coordinator's agent port")
        await server.stop(None)  # its hacd is gone: the port refuses
        if fencing:
            await until(lambda: _gone(kv), "the lease ended", timeout=5)
        else:
            await asyncio.sleep(1.5)
        return await _gone(kv)
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await kv.close()


async def _gone(kv: EtcdKv) -> bool:
    return await kv.get(keys.ELECTION) is None and await kv.get(keys.live("node2")) is None


def test_a_dead_coordinators_lease_ends_at_once_with_fencing(etcd: str) -> None:
    t0 = time.monotonic()
    assert asyncio.run(scenario(etcd, fencing=True))
    assert time.monotonic() - t0 < 20


def test_without_fencing_the_lease_is_left_to_expire(etcd: str) -> None:
    assert not asyncio.run(scenario(etcd, fencing=False))
