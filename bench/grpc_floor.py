"""What gRPC Python and the disk cost here, before any Raft: the floor of a builtin put.

A put on the builtin store is at least one unary call (client -> leader -> client), one
peer-stream round trip (leader -> follower -> leader, the follower's append and its ack)
and one follower fdatasync. Measured alone, on the same machine, in the same run as the
store benchmark, with the same Python client:

* ``unary``: a sequential client against a ``grpc.aio`` server whose ``Put`` returns an
  empty answer at once (another process);
* ``stream``: two processes, each writing to the other's peer service over one client
  stream (our peer transport's shape), one message bouncing back and forth; also the CPU
  per round trip of the sending side;
* ``fsync``: a 300-byte append and ``fdatasync`` in a file next to the stores' data;
* ``ceiling``: 16 concurrent clients (bench.store's, one process, one channel each)
  against the same do-nothing server: calls/s, and the CPU per call of the server and
  of the client process (a store answering 16 clients does at least this much work, on
  the same 2 cores as its followers and the client).

``python -m bench.grpc_floor`` prints them; ``bench.store`` includes them in its report.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PORT_UNARY, PORT_A, PORT_B = 23390, 23391, 23392


@dataclass
class Floor:
    unary_p50_ms: float
    stream_rtt_p50_ms: float
    stream_cpu_per_rtt_ms: float
    fsync_p50_ms: float
    ceiling_calls_s: float = 0.0
    ceiling_server_cpu_ms: float = 0.0
    ceiling_client_cpu_ms: float = 0.0

    @property
    def put_ms(self) -> float:
        return self.unary_p50_ms + self.stream_rtt_p50_ms + self.fsync_p50_ms


def _p50(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2] * 1000


async def _unary_server() -> None:
    import grpc
    from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

    class KV(rpc_pb2_grpc.KVServicer):  # type: ignore[misc]
        async def Put(self, request: Any, context: Any) -> Any:
            return rpc_pb2.PutResponse()

    server = grpc.aio.server()
    rpc_pb2_grpc.add_KVServicer_to_server(KV(), server)
    server.add_insecure_port(f"127.0.0.1:{PORT_UNARY}")
    await server.start()
    await server.wait_for_termination()


def _unary_client(seconds: float) -> float:
    import grpc
    from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{PORT_UNARY}") as ch:
        grpc.channel_ready_future(ch).result(timeout=20)
        kv = rpc_pb2_grpc.KVStub(ch)
        req = rpc_pb2.PutRequest(key=b"k", value=b"x" * 256)
        for _ in range(200):
            kv.Put(req, timeout=10)
        lat: list[float] = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            kv.Put(req, timeout=10)
            lat.append(time.perf_counter() - t)
    return _p50(lat)


async def _ceiling_clients(seconds: float, clients: int = 16) -> float:
    """bench.store's 16-client load (the very same client) against the do-nothing server:
    calls/s."""
    from bench.store import _concurrent

    rate, _, _ = await _concurrent(f"127.0.0.1:{PORT_UNARY}", clients, seconds)
    return rate


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ceiling(server_pid: int, seconds: float) -> tuple[float, float, float]:
    asyncio.run(_ceiling_clients(1.0))  # warm-up: channels, the server's threads
    s0, c0 = _proc_cpu(server_pid), _cpu()
    rate = asyncio.run(_ceiling_clients(seconds))
    s1, c1 = _proc_cpu(server_pid), _cpu()
    calls = rate * seconds
    return rate, (s1 - s0) / calls * 1000, (c1 - c0) / calls * 1000


async def _stream_peer(role: str, rounds: int) -> tuple[float, float]:
    """One side of the ping-pong; side A measures, side B echoes (both as peers do)."""
    import grpc

    from reconciler._proto import peer_pb2, peer_pb2_grpc

    loop = asyncio.get_running_loop()
    got: list[asyncio.Future[None]] = [loop.create_future()]
    out: list[Any] = []

    class Peer(peer_pb2_grpc.PeerServicer):
        async def Raft(self, request_iterator: Any, context: Any) -> Any:
            async for batch in request_iterator:
                if role == "B":
                    await out[0].write(batch)
                elif not got[0].done():
                    got[0].set_result(None)
            if False:
                yield None

    server = grpc.aio.server()
    peer_pb2_grpc.add_PeerServicer_to_server(Peer(), server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"127.0.0.1:{PORT_A if role == 'A' else PORT_B}")
    await server.start()
    ch = grpc.aio.insecure_channel(f"127.0.0.1:{PORT_B if role == 'A' else PORT_A}")
    await ch.channel_ready()
    out.append(peer_pb2_grpc.PeerStub(ch).Raft())  # type: ignore[no-untyped-call]
    if role == "B":
        await server.wait_for_termination()
        return 0.0, 0.0
    batch = peer_pb2.Batch(cluster_id=1, frm=1, frames=b"x" * 400)
    lat: list[float] = []
    cpu0 = _cpu()
    for i in range(rounds):
        got[0] = loop.create_future()
        t = time.perf_counter()
        await out[0].write(batch)
        await asyncio.wait_for(got[0], 10)
        if i >= rounds // 10:  # warm-up
            lat.append(time.perf_counter() - t)
    cpu = (_cpu() - cpu0) / rounds * 1000
    return _p50(lat), cpu


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _fsync(directory: Path, n: int = 300) -> float:
    path = directory / "floor.fsync"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lat: list[float] = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, b"x" * 300)
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()
    return _p50(lat)


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.grpc_floor", *args])


def measure(directory: Path | None = None, seconds: float = 3.0) -> Floor:
    server = _spawn("_unary")
    try:
        unary = _unary_client(seconds)
        ceiling = _ceiling(server.pid, seconds)
    finally:
        server.terminate()
        server.wait()
    echo = _spawn("_stream_b")
    try:
        rtt, cpu = asyncio.run(_stream_peer("A", 3000))
    finally:
        echo.terminate()
        echo.wait()
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        fs = _fsync(Path(tmp))
    return Floor(unary, rtt, cpu, fs, *ceiling)


def main() -> None:
    if sys.argv[1:] == ["_unary"]:
        asyncio.run(_unary_server())
        return
    if sys.argv[1:] == ["_stream_b"]:
        asyncio.run(_stream_peer("B", 0))
        return
    f = measure()
    print(
        f"unary call p50 {f.unary_p50_ms:.3f} ms; peer-stream round trip p50 "
        f"{f.stream_rtt_p50_ms:.3f} ms (sender CPU {f.stream_cpu_per_rtt_ms:.3f} ms per round "
        f"trip); fdatasync p50 {f.fsync_p50_ms:.3f} ms; floor of a builtin put "
        f"{f.put_ms:.2f} ms\n16 clients against a do-nothing server: {f.ceiling_calls_s:.0f} "
        f"calls/s, server CPU {f.ceiling_server_cpu_ms:.3f} ms and client CPU "
        f"{f.ceiling_client_cpu_ms:.3f} ms per call"
    )


if __name__ == "__main__":
    main()
