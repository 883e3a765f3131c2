"""`python -m bench.store`: the builtin store side by side with real etcd, same run, same clients.

Both backends run as 3 members on 127.0.0.1 (``hactl store up``), both clusters up at
once and measured in turns, so that the shared machine's changing load hits both alike.
Measured, for each:
sequential puts (one client, to the leader) with p50/p99; puts with 16 concurrent
clients; ``etcdctl check perf --load=m`` and ``--load=l``; leader failover after
``kill -9`` (time from the kill until a write succeeds again through a surviving member),
median of several rounds. Results and ratios go to docs/BENCHMARKS.md (between the
``bench:store`` markers) and to stdout.

Options: ``--quick`` (short runs, no check perf), ``--no-write`` (stdout only),
``--backend B`` (one backend alone, with ``--perf m,l`` and ``--failovers N``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G

from bench.grpc_floor import Floor, measure, skeleton

REPO = Path(__file__).resolve().parent.parent
PORTS = {"etcd": 23200, "builtin": 23100}
VALUE = b"x" * 256


@dataclass
class Result:
    backend: str
    seq_rate: float = 0.0
    seq_p50_ms: float = 0.0
    seq_p99_ms: float = 0.0
    conc_rate: float = 0.0
    conc_p50_ms: float = 0.0
    conc_p99_ms: float = 0.0
    perf: dict[str, str] = field(default_factory=dict)
    failovers: list[float] = field(default_factory=list)
    floor: Floor | None = None


def hactl(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", *args], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"hactl {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout.strip()


def leader_endpoint(endpoints: list[str]) -> tuple[int, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for i, ep in enumerate(endpoints):
            with grpc.insecure_channel(ep) as ch:
                try:
                    st = G.MaintenanceStub(ch).Status(R.StatusRequest(), timeout=1)
                except grpc.RpcError:
                    continue
                if st.leader and st.leader == st.header.member_id:
                    return i, ep
        time.sleep(0.05)
    raise SystemExit("no leader")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] * 1000


def sequential(endpoint: str, seconds: float) -> tuple[float, float, float]:
    with grpc.insecure_channel(endpoint) as ch:
        kv = G.KVStub(ch)
        lat: list[float] = []
        start = time.perf_counter()
        i = 0
        while time.perf_counter() - start < seconds:
            t = time.perf_counter()
            kv.Put(R.PutRequest(key=b"seq/%d" % (i % 1000), value=VALUE), timeout=10)
            lat.append(time.perf_counter() - t)
            i += 1
        return len(lat) / (time.perf_counter() - start), pct(lat, 0.5), pct(lat, 0.99)


async def _concurrent(endpoint: str, clients: int, seconds: float) -> tuple[float, float, float]:
    channels = [grpc.aio.insecure_channel(endpoint) for _ in range(clients)]
    lat: list[float] = []
    stop = time.perf_counter() + seconds

    async def client(n: int) -> None:
        kv = G.KVStub(channels[n])
        i = 0
        while time.perf_counter() < stop:
            t = time.perf_counter()
            await kv.Put(R.PutRequest(key=b"conc/%d/%d" % (n, i % 100), value=VALUE), timeout=10)
            lat.append(time.perf_counter() - t)
            i += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - start
    for ch in channels:
        await ch.close(None)
    return len(lat) / elapsed, pct(lat, 0.5), pct(lat, 0.99)


def check_perf(endpoints: list[str], load: str) -> str:
    env = dict(os.environ, ETCDCTL_API="3")
    out = subprocess.run(
        ["etcdctl", f"--endpoints={','.join(endpoints)}", "check", "perf", f"--load={load}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=400,
    )
    lines = [ln.strip() for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
    keep = [ln for ln in lines if re.match(r"(PASS|FAIL|Slowest request|Stddev)", ln)]
    return "; ".join(keep) or f"no result (rc={out.returncode}): {' '.join(lines[-3:])}"


def failover(backend: str, directory: Path, endpoints: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        i, _ep = leader_endpoint(endpoints)
        pid = int((directory / f"m{i + 1}.pid").read_text())
        others = [e for j, e in enumerate(endpoints) if j != i]
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        done = None
        while done is None and time.monotonic() - killed < 30:
            for ep in others:
                with grpc.insecure_channel(ep) as ch:
                    try:
                        # a short timeout per attempt: a member that still forwards to the
                        # dead leader would otherwise round every result up to the timeout
                        G.KVStub(ch).Put(R.PutRequest(key=b"failover", value=b"x"), timeout=0.15)
                        done = time.monotonic() - killed
                        break
                    except grpc.RpcError:
                        pass
        times.append(done if done is not None else float("inf"))
        hactl("store", "up", "--members", "3", "--dir", str(directory), "--backend", backend)
        time.sleep(2.0)  # let the restarted member catch up before the next round
    return times


def run_backend(
    backend: str, root: Path, quick: bool, perf: tuple[str, ...] = ("m", "l"), rounds: int = -1
) -> Result:
    directory = root / backend
    endpoints = hactl(
        "store", "up", "--members", "3", "--dir", str(directory), "--backend", backend,
        "--base-port", str(PORTS[backend]),
    ).split(",")  # fmt: skip
    res = Result(backend)
    try:
        _, lead = leader_endpoint(endpoints)
        secs = 3.0 if quick else 10.0
        sequential(lead, 1.0)  # warm up
        res.seq_rate, res.seq_p50_ms, res.seq_p99_ms = sequential(lead, secs)
        print(f"{backend}: sequential {res.seq_rate:.0f}/s", flush=True)
        res.conc_rate, res.conc_p50_ms, res.conc_p99_ms = asyncio.run(_concurrent(lead, 16, secs))
        print(f"{backend}: 16 clients {res.conc_rate:.0f}/s", flush=True)
        if not quick or perf != ("m", "l"):
            for load in perf:
                res.perf[load] = check_perf(endpoints, load)
                print(f"{backend}: check perf --load={load}: {res.perf[load]}", flush=True)
        if rounds < 0:
            rounds = 3 if quick else 5
        res.failovers = failover(backend, directory, endpoints, rounds) if rounds else [0.0]
        print(f"{backend}: failovers {res.failovers}", flush=True)
    finally:
        hactl("store", "down", "--dir", str(directory))
    return res


def run_interleaved(root: Path, quick: bool, rounds: int = 2) -> dict[str, Result]:
    """Both clusters up at once; each measure taken in turns (etcd, builtin, etcd, ...).

    The machine is shared: its load moves by a factor of two within minutes, so measuring
    one backend after the other compared them under different loads. An idle cluster
    costs ~1% of a core. Rates are the mean of ``rounds`` turns, latencies their median.
    """
    backends = ("etcd", "builtin")
    eps: dict[str, list[str]] = {}
    res = {b: Result(b) for b in backends}
    try:
        for b in backends:
            eps[b] = hactl(
                "store", "up", "--members", "3", "--dir", str(root / b), "--backend", b,
                "--base-port", str(PORTS[b]),
            ).split(",")  # fmt: skip
        lead = {b: leader_endpoint(eps[b])[1] for b in backends}
        secs = 3.0 if quick else 10.0
        for b in backends:
            sequential(lead[b], 1.0)  # warm up
        seq: dict[str, list[tuple[float, float, float]]] = {b: [] for b in backends}
        conc: dict[str, list[tuple[float, float, float]]] = {b: [] for b in backends}
        for turn in range(rounds):
            for b in backends if turn % 2 == 0 else backends[::-1]:
                seq[b].append(sequential(lead[b], secs))
                print(f"{b}: sequential {seq[b][-1][0]:.0f}/s", flush=True)
            for b in backends if turn % 2 == 0 else backends[::-1]:
                conc[b].append(asyncio.run(_concurrent(lead[b], 16, secs)))
                print(f"{b}: 16 clients {conc[b][-1][0]:.0f}/s", flush=True)
        for b in backends:
            r = res[b]
            r.seq_rate = statistics.mean(x[0] for x in seq[b])
            r.seq_p50_ms = statistics.median(x[1] for x in seq[b])
            r.seq_p99_ms = statistics.median(x[2] for x in seq[b])
            r.conc_rate = statistics.mean(x[0] for x in conc[b])
            r.conc_p50_ms = statistics.median(x[1] for x in conc[b])
            r.conc_p99_ms = statistics.median(x[2] for x in conc[b])
        if not quick:
            for load in ("m", "l"):
                for b in backends:
                    res[b].perf[load] = check_perf(eps[b], load)
                    print(f"{b}: check perf --load={load}: {res[b].perf[load]}", flush=True)
        for b in backends:
            res[b].failovers = failover(b, root / b, eps[b], 3 if quick else 5)
            print(f"{b}: failovers {res[b].failovers}", flush=True)
        floor = res["builtin"].floor = measure(root, 2.0 if quick else 4.0)
        sk: list[tuple[float, float]] = []
        near: list[float] = []
        for _ in range(rounds):  # in turns with etcd: the load moves
            near.append(sequential(lead["etcd"], secs / 2)[1])
            sk.append(skeleton(secs / 2, root))
        floor.skeleton_p50_ms = statistics.median(x[0] for x in sk)
        floor.skeleton_p99_ms = statistics.median(x[1] for x in sk)
        floor.skeleton_etcd_p50_ms = statistics.median(near)
        print(f"floor: {res['builtin'].floor}", flush=True)
    finally:
        for b in eps:
            hactl("store", "down", "--dir", str(root / b))
    return res


def render(results: dict[str, Result], quick: bool) -> str:
    e, b = results["etcd"], results["builtin"]

    def ratio(x: float, y: float) -> str:
        return f"{x / y:.2f}x" if y else "-"

    fe, fb = statistics.median(e.failovers), statistics.median(b.failovers)
    rows = [
        "| measure | etcd 3.4 | builtin | builtin/etcd |",
        "|---|---|---|---|",
        f"| sequential puts/s (1 client, to the leader) | {e.seq_rate:.0f} | {b.seq_rate:.0f} | {ratio(b.seq_rate, e.seq_rate)} |",
        f"| sequential put p50 / p99 ms | {e.seq_p50_ms:.2f} / {e.seq_p99_ms:.2f} | {b.seq_p50_ms:.2f} / {b.seq_p99_ms:.2f} | |",
        f"| puts/s, 16 concurrent clients | {e.conc_rate:.0f} | {b.conc_rate:.0f} | {ratio(b.conc_rate, e.conc_rate)} |",
        f"| 16 clients p50 / p99 ms | {e.conc_p50_ms:.2f} / {e.conc_p99_ms:.2f} | {b.conc_p50_ms:.2f} / {b.conc_p99_ms:.2f} | |",
        f"| leader failover after kill -9, median s ({len(e.failovers)} rounds) | {fe:.2f} | {fb:.2f} | {ratio(fb, fe)} |",
    ]
    for load in ("m", "l"):
        if load in e.perf:
            rows.append(
                f"| `etcdctl check perf --load={load}` | {e.perf[load]} | {b.perf[load]} | |"
            )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return "\n".join(
        [
            f"Measured {when} by `make bench-store` ({'quick run' if quick else 'full run'}): "
            "3 members each on 127.0.0.1, both clusters up and measured in turns "
            "(sequential and 16 clients: two turns each, rates averaged), this machine "
            f"({os.cpu_count()} cores, shared; load average at the end "
            f"{os.getloadavg()[0]:.1f}), the same Python clients for both; 256-byte values.",
            "",
            *rows,
            "",
            f"Failover rounds (s): etcd {[round(x, 2) for x in e.failovers]}, "
            f"builtin {[round(x, 2) for x in b.failovers]}.",
            *_floor_lines(b.floor, e),
            "",
            *_goal_lines(e, b, fe, fb),
        ]
    )


def _writes_per_s(perf: str) -> float | None:
    m = re.search(r"Throughput (?:is|too low:) (\d+) writes/s", perf)
    return float(m.group(1)) if m else None


def _goal_lines(e: Result, b: Result, fe: float, fb: float) -> list[str]:
    """The issue's goals for the builtin store, judged on this run's numbers."""

    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    rows = []
    if "m" in b.perf:
        ok = b.perf["m"].endswith("PASS")
        rows.append(f"| `check perf --load=m` PASS | {met(ok)}: {b.perf['m']} |")
    seq = b.seq_rate / e.seq_rate if e.seq_rate else 0.0
    rows.append(
        f"| sequential puts ≥ 0.7x etcd | {met(seq >= 0.7)}: {seq:.2f}x "
        f"(p50 {b.seq_p50_ms:.2f} ms vs {e.seq_p50_ms:.2f} ms) |"
    )
    conc = b.conc_rate / e.conc_rate if e.conc_rate else 0.0
    rows.append(f"| 16 clients ≥ 1.0x etcd | {met(conc >= 1.0)}: {conc:.2f}x |")
    le, lb = _writes_per_s(e.perf.get("l", "")), _writes_per_s(b.perf.get("l", ""))
    if le and lb:
        rows.append(
            f"| `--load=l` ≥ 1.0x etcd | {met(lb / le >= 1.0)}: {lb / le:.2f}x "
            f"({lb:.0f} vs {le:.0f} writes/s) |"
        )
    rows.append(
        f"| leader failover median ≤ 1.0 s | {met(fb <= 1.0)}: {fb:.2f} s (etcd {fe:.2f} s) |"
    )
    return ["Goals for the builtin store, judged on this run:", "", "| goal | this run |",
            "|---|---|", *rows]  # fmt: skip


def _floor_lines(f: Floor | None, e: Result) -> list[str]:
    """The floor of a builtin put (bench/grpc_floor.py), measured in this run."""
    if f is None:
        return []
    best = e.seq_p50_ms / f.put_ms if f.put_ms else 0.0
    return [
        "",
        "The floor of a builtin put, measured in the same run (`bench/grpc_floor.py`: "
        "gRPC Python and the disk alone, no Raft, no store): an empty `grpc.aio` unary "
        f"call {f.unary_p50_ms:.2f} ms p50 + one peer-stream round trip "
        f"{f.stream_rtt_p50_ms:.2f} ms (the sender's CPU alone "
        f"{f.stream_cpu_per_rtt_ms:.2f} ms) + one fdatasync {f.fsync_p50_ms:.2f} ms = "
        f"**{f.put_ms:.2f} ms**, against etcd's whole sequential put p50 of "
        f"{e.seq_p50_ms:.2f} ms ({best:.2f}x etcd). That sum is of parts each measured "
        "alone, two processes at a time; composed, as a store must compose them, they "
        "cost more (the skeleton below).",
        *_skeleton_lines(f),
        *_ceiling_lines(f, e),
    ]


def _skeleton_lines(f: Floor) -> list[str]:
    if not f.skeleton_p50_ms:
        return []
    ratio = f.skeleton_etcd_p50_ms / f.skeleton_p50_ms
    verdict = (
        "so 0.7x etcd sequentially is beyond even the skeleton: out of reach for any "
        "store built on gRPC Python here"
        if ratio < 0.7
        else "so the skeleton alone reaches the 0.7x goal, with "
        f"{f.skeleton_p50_ms * (ratio / 0.7 - 1):.2f} ms to spare for Raft and the store"
    )
    return [
        "",
        "The replication skeleton, same run (`bench/grpc_floor.py`): three processes, the "
        "same transport and disk, no Raft, no store, no encoding. The leader's `Put` "
        "writes the request to both followers' peer streams and fdatasyncs it in a worker "
        "thread, each follower fdatasyncs it and acks on its own stream, the leader "
        "answers on its own sync and one ack: every builtin put does at least this. "
        f"Sequential put p50 **{f.skeleton_p50_ms:.2f} ms** (p99 {f.skeleton_p99_ms:.2f} ms), "
        f"against etcd's {f.skeleton_etcd_p50_ms:.2f} ms measured in turns with it: "
        f"**{ratio:.2f}x etcd**, {verdict}.",
    ]


def _ceiling_lines(f: Floor, e: Result) -> list[str]:
    if not f.ceiling_calls_s:
        return []
    per_call = f.ceiling_server_cpu_ms + f.ceiling_client_cpu_ms
    cores = per_call * e.conc_rate / 1000
    return [
        "",
        "The ceiling of the 16-client measure, same run: the same 16-client Python load "
        f"against the same do-nothing server reaches {f.ceiling_calls_s:.0f} calls/s (etcd "
        f"reached {e.conc_rate:.0f} puts/s). Per call the server process spends "
        f"{f.ceiling_server_cpu_ms:.2f} ms of CPU and the client process "
        f"{f.ceiling_client_cpu_ms:.2f} ms, so matching etcd's rate costs {cores:.2f} of "
        f"this machine's {os.cpu_count()} cores in gRPC calls alone, before the leader does "
        "any Raft work and before its two followers run: 1.0x etcd with 16 clients (and at "
        "`--load=l`) is out of reach for a Python store on this machine.",
    ]


def write_section(text: str) -> None:
    path = REPO / "docs" / "BENCHMARKS.md"
    doc = path.read_text()
    start, end = "<!-- bench:store:start -->", "<!-- bench:store:end -->"
    a, b = doc.index(start) + len(start), doc.index(end)
    path.write_text(doc[:a] + "\n" + text + "\n" + doc[b:])


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.store")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--backend", choices=("etcd", "builtin"), help="measure only this one")
    ap.add_argument("--perf", default="m,l", help="check perf loads (with --quick: none)")
    ap.add_argument("--failovers", type=int, default=-1, help="rounds (default 5, quick 3)")
    args = ap.parse_args()
    if shutil.which("etcd") is None or shutil.which("etcdctl") is None:
        raise SystemExit("bench.store needs Debian's etcd-server and etcd-client")
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        if args.backend:
            loads = tuple(x for x in args.perf.split(",") if x)
            r = run_backend(args.backend, Path(tmp), args.quick, loads, args.failovers)
            print(r)
            return
        results = run_interleaved(Path(tmp), args.quick)
    text = render(results, args.quick)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
