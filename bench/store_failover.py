"""Leader failover of the store, alone: ``python -m bench.store_failover``.

For each backend: a 3-member cluster (``hactl store up``), ``--rounds`` times kill -9 of
the leader and the time until a put through a survivor succeeds (``bench.store.failover``,
the same measure as ``make bench-store``); then, with ``--perf l`` (or ``m``),
``etcdctl check perf`` with every error line it printed counted ("no leader", "timed
out"), and whether the leader or its term changed during it. Builtin members' logs are
searched for loop stalls ("event loop held").

    python -m bench.store_failover [--backend builtin|etcd|both] [--rounds 10] [--perf l]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import grpc
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G

from bench.store import failover, hactl, leader_endpoint

PORTS = {"builtin": 23600, "etcd": 23620}


def _leader_term(endpoints: list[str]) -> tuple[int, int]:
    _, ep = leader_endpoint(endpoints)
    with grpc.insecure_channel(ep) as ch:
        st = G.MaintenanceStub(ch).Status(R.StatusRequest(), timeout=2)
    return st.leader, st.raftTerm


def check_perf_errors(endpoints: list[str], load: str) -> tuple[str, dict[str, int]]:
    env = dict(os.environ, ETCDCTL_API="3")
    out = subprocess.run(
        ["etcdctl", f"--endpoints={','.join(endpoints)}", "check", "perf", f"--load={load}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=400,
    )
    text = out.stdout + out.stderr
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    verdict = "; ".join(ln for ln in lines if re.match(r"(PASS|FAIL)", ln))
    errors = {
        "no leader": text.count("no leader"),
        "timed out": text.count("timed out"),
        "other errors": sum(
            1 for ln in lines if "rror" in ln and "no leader" not in ln and "timed out" not in ln
        ),
    }
    return verdict or f"no result (rc={out.returncode})", errors


def run(backend: str, root: Path, rounds: int, perf: str) -> dict[str, object]:
    directory = root / backend
    endpoints = hactl(
        "store", "up", "--members", "3", "--dir", str(directory), "--backend", backend,
        "--base-port", str(PORTS[backend]),
    ).split(",")  # fmt: skip
    res: dict[str, object] = {"backend": backend}
    try:
        leader_endpoint(endpoints)
        if perf:
            before = _leader_term(endpoints)
            verdict, errors = check_perf_errors(endpoints, perf)
            after = _leader_term(endpoints)
            res["perf"] = verdict
            res["perf_errors"] = errors
            res["leader_changed_during_perf"] = before != after
            print(f"{backend}: check perf --load={perf}: {verdict} {errors}", flush=True)
            print(f"{backend}: leader/term before {before} after {after}", flush=True)
        if rounds:
            times = failover(backend, directory, endpoints, rounds)
            res["failovers"] = [round(t, 3) for t in times]
            res["median"] = round(statistics.median(times), 3)
            print(f"{backend}: failovers {res['failovers']} median {res['median']}", flush=True)
    finally:
        hactl("store", "down", "--dir", str(directory))
    if backend == "builtin":
        stalls = []
        for log in sorted(directory.glob("*.log")):
            for ln in log.read_text(errors="replace").splitlines():
                m = re.search(r"event loop held for (\d+) ms", ln)
                if m:
                    stalls.append(int(m.group(1)))
        res["stalls_ms"] = sorted(stalls, reverse=True)[:10]
        res["elections"] = sum(
            log.read_text(errors="replace").count("leader is now")
            for log in directory.glob("*.log")
        )
        print(f"builtin: longest loop stalls (ms) {res['stalls_ms']}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.store_failover")
    ap.add_argument("--backend", choices=("builtin", "etcd", "both"), default="both")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--perf", default="", help="etcdctl check perf load to run first (m, l)")
    ap.add_argument("--dir", type=Path, help="keep the clusters' directories (logs) here")
    args = ap.parse_args()
    backends = ["etcd", "builtin"] if args.backend == "both" else [args.backend]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        root = args.dir or Path(tmp)
        results = [run(b, root, args.rounds, args.perf) for b in backends]
    print(f"started {started}; load average now {Path('/proc/loadavg').read_text().strip()}")
    for r in results:
        print(r)


if __name__ == "__main__":
    main()
