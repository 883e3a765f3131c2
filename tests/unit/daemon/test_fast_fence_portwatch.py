"""The coordinator's watch of the agent ports, on real sockets and real processes.

A refused reconnect after the connection broke marks the incarnation dead; a port
never reached, or a server that keeps its port, does not. EarlyLoss then drops that
node from the planning view only with fencing enabled. Ports 25690-25699.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import grpc

from reconciler.controller.fencing import REFUSED_CAUSE, Port
from reconciler.daemon.fencing_wait import EarlyLoss, incarnation
from reconciler.daemon.state import ClusterState
from reconciler.transport.agent_api import AgentClient, AgentServicer, PortWatch, add_to_server

PORT = 25691
LISTENER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("ready", flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
"""


async def until(pred: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def grpc_server(port: int) -> grpc.aio.Server:
    server = grpc.aio.server()
    add_to_server(AgentServicer("n", None, lambda: 0), server)  # type: ignore[arg-type]
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server


def test_stopped_grpc_server_is_refused_and_reported() -> None:
    async def main() -> None:
        server = await grpc_server(PORT)
        changed = asyncio.Event()
        w = PortWatch(changed.set)
        w.watch({"k": f"127.0.0.1:{PORT}"})
        await until(lambda: w.state["k"] is Port.UP, "connected")
        await asyncio.sleep(1.5)  # the server keeps an idle well-behaved HTTP/2 client
        assert w.state["k"] is Port.UP
        t0 = time.monotonic()
        await server.stop(None)
        await asyncio.wait_for(changed.wait(), 5)
        assert w.refused == {"k"} and time.monotonic() - t0 < 2
        w.watch({})  # forgetting the key forgets its verdict
        assert w.refused == set()
        await w.close()

    asyncio.run(main())


def test_never_reached_port_is_not_a_verdict() -> None:
    async def main() -> None:
        w = PortWatch(lambda: None)
        w.watch({"k": f"127.0.0.1:{PORT + 1}"})  # nothing ever listened here
        await asyncio.sleep(1.0)
        assert w.state["k"] is Port.NEVER and w.refused == set()
        await w.close()

    asyncio.run(main())


def test_kill_9_of_the_listening_process_is_refused() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(PORT + 2)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

        async def main() -> None:
            w = PortWatch(lambda: None)
            w.watch({"k": f"127.0.0.1:{PORT + 2}"})
            await until(lambda: w.state["k"] is Port.UP, "connected")
            proc.send_signal(signal.SIGKILL)
            await until(lambda: w.refused == {"k"}, "the refusal")
            await w.close()

        asyncio.run(main())
    finally:
        proc.kill()
        proc.wait()


def _state(port: int, *, fencing: bool, pid: int = 7) -> ClusterState:
    live = {
        "node1": {"address": "127.0.0.1:1", "pid": 1, "since": 1.0},
        "node2": {"address": f"127.0.0.1:{port}", "pid": pid, "since": 2.0},
    }
    cluster = {"metadata": {"name": "cluster"}, "spec": {"fencingEnabled": fencing}}
    return ClusterState(revision=1, live=live, desired={"cluster": {"cluster": cluster}})


def test_early_loss_drops_the_refused_incarnation_only_with_fencing() -> None:
    async def main() -> None:
        server = await grpc_server(PORT + 3)
        agents = AgentClient()
        woken = asyncio.Event()
        early = EarlyLoss(agents, woken.set, "node1")  # node1 is the coordinator: unwatched
        st = _state(PORT + 3, fencing=True)
        assert early.apply(st) is st
        w = agents.port_watch(lambda: None)
        key = incarnation("node2", st.live["node2"])
        assert sorted(w.state) == [key]
        await until(lambda: w.state[key] is Port.UP, "connected")
        await server.stop(None)
        await asyncio.wait_for(woken.wait(), 5)
        assert sorted(early.apply(st).live) == ["node1"]
        assert early.cause("node2") == REFUSED_CAUSE
        gone = ClusterState(revision=2, live={"node1": st.live["node1"]}, desired=st.desired)
        assert early.apply(gone).live == gone.live
        assert early.cause("node2") == REFUSED_CAUSE, "kept for the fencing that follows"
        off = _state(PORT + 3, fencing=False)
        assert sorted(early.apply(off).live) == ["node1", "node2"]  # lease wait, as before
        assert early.cause("node2") == ""
        again = _state(PORT + 3, fencing=True, pid=8)  # restarted since: a new incarnation
        assert sorted(early.apply(again).live) == ["node1", "node2"]
        await agents.close()

    asyncio.run(main())
