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
* ``skeleton``: a three-member replication skeleton, three processes and no Raft, no
  store, no encoding: the leader's ``Put`` writes the request to both followers' peer
  streams and appends and fdatasyncs it in a worker thread; each follower appends and
  fdatasyncs it on its loop and writes an ack on its own stream back; the leader answers
  once its own sync and one ack are in. Every builtin put does at least this (the same
  shape, the same transport, the same disk), so its sequential p50 bounds what any
  Python gRPC store can reach here;
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
SKELETON_PORTS = {"L": 23393, "F1": 23394, "F2": 23395}


@dataclass
class Floor:
    unary_p50_ms: float
    stream_rtt_p50_ms: float
    stream_cpu_per_rtt_ms: float
    fsync_p50_ms: float
    ceiling_calls_s: float = 0.0
    ceiling_server_cpu_ms: float = 0.0
    ceiling_client_cpu_ms: float = 0.0
    skeleton_p50_ms: float = 0.0  # the replication skeleton, sequential puts
    skeleton_p99_ms: float = 0.0
    skeleton_etcd_p50_ms: float = 0.0  # etcd's sequential p50, measured in turns with it

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


def _unary_client(seconds: float, port: int = PORT_UNARY) -> float:
    return _sequential_client(seconds, port)[0]


def _sequential_client(seconds: float, port: int) -> tuple[float, float]:
    """p50 and p99 of sequential puts (ms)."""
    import grpc
    from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
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
    return _p50(lat), sorted(lat)[int(len(lat) * 0.99)] * 1000


async def _skeleton_member(role: str, directory: str) -> None:
    """One member of the replication skeleton (see the module's docstring)."""
    import grpc
    from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

    from reconciler._proto import peer_pb2, peer_pb2_grpc

    loop = asyncio.get_running_loop()
    fd = os.open(Path(directory) / f"{role}.wal", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    acks: dict[bytes, asyncio.Future[None]] = {}
    streams: dict[str, Any] = {}
    linked = asyncio.Event()

    def sync(data: bytes) -> None:
        os.write(fd, data)
        os.fdatasync(fd)

    class Peer(peer_pb2_grpc.PeerServicer):
        async def Raft(self, request_iterator: Any, context: Any) -> Any:
            await linked.wait()  # our own stream back exists
            async for batch in request_iterator:
                if role == "L":  # an ack: the follower's copy is durable
                    fut = acks.get(batch.frames)
                    if fut is not None and not fut.done():
                        fut.set_result(None)
                else:  # an append: make it durable, then ack it
                    sync(batch.frames)
                    ack = peer_pb2.Batch(cluster_id=1, frm=2, frames=batch.frames[:8])
                    await streams["L"].write(ack)
            if False:
                yield None

    class KV(rpc_pb2_grpc.KVServicer):  # type: ignore[misc]
        seq = 0

        async def Put(self, request: Any, context: Any) -> Any:
            await linked.wait()
            KV.seq += 1
            key = KV.seq.to_bytes(8, "big")
            fut = acks[key] = loop.create_future()
            data = key + request.SerializeToString()
            writes = [
                loop.create_task(streams[f].write(peer_pb2.Batch(cluster_id=1, frm=1, frames=data)))
                for f in ("F1", "F2")
            ]
            await loop.run_in_executor(None, sync, data)
            await fut
            del acks[key]
            await asyncio.gather(*writes)
            return rpc_pb2.PutResponse()

    server = grpc.aio.server()
    peer_pb2_grpc.add_PeerServicer_to_server(Peer(), server)  # type: ignore[no-untyped-call]
    if role == "L":
        rpc_pb2_grpc.add_KVServicer_to_server(KV(), server)
    server.add_insecure_port(f"127.0.0.1:{SKELETON_PORTS[role]}")
    await server.start()
    for other in ("F1", "F2") if role == "L" else ("L",):
        ch = grpc.aio.insecure_channel(f"127.0.0.1:{SKELETON_PORTS[other]}")
        await ch.channel_ready()
        streams[other] = peer_pb2_grpc.PeerStub(ch).Raft()  # type: ignore[no-untyped-call]
    linked.set()
    await server.wait_for_termination()


def skeleton(seconds: float, directory: Path | None = None) -> tuple[float, float]:
    """Sequential puts against the replication skeleton: p50 and p99 (ms)."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        members = [_spawn("_skeleton", role, tmp) for role in ("F1", "F2", "L")]
        try:
            return _sequential_client(seconds, SKELETON_PORTS["L"])
        finally:
            for m in members:
                m.terminate()
            for m in members:
                m.wait()


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
    if sys.argv[1:2] == ["_skeleton"]:
        asyncio.run(_skeleton_member(sys.argv[2], sys.argv[3]))
        return
    f = measure()
    sk50, sk99 = skeleton(4.0)
    print(
        f"unary call p50 {f.unary_p50_ms:.3f} ms; peer-stream round trip p50 "
        f"{f.stream_rtt_p50_ms:.3f} ms (sender CPU {f.stream_cpu_per_rtt_ms:.3f} ms per round "
        f"trip); fdatasync p50 {f.fsync_p50_ms:.3f} ms; floor of a builtin put "
        f"{f.put_ms:.2f} ms\n16 clients against a do-nothing server: {f.ceiling_calls_s:.0f} "
        f"calls/s, server CPU {f.ceiling_server_cpu_ms:.3f} ms and client CPU "
        f"{f.ceiling_client_cpu_ms:.3f} ms per call\nreplication skeleton (3 processes, no "
        f"Raft): sequential put p50 {sk50:.3f} ms, p99 {sk99:.3f} ms"
    )


if __name__ == "__main__":
    main()
