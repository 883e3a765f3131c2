"""Live-cluster benchmarks (``make bench-cluster``; writes docs/BENCHMARKS.md's cluster section).

1. ``hactl apply`` → resource started (``ocf:pacemaker:Dummy``) on a real 3-node local
   cluster (etcd store, hacd processes on 127.0.0.1): p50/p90/max over N applies,
   measured from sending the apply to the API until the started operation is
   recorded and visible through the API.
2. A simulated 64-node cluster with 5,000 resources converging from nothing: the
   coordinator's real planner and reconcile decision, agents simulated (every
   dispatched action completes at once): wall time, passes, actions, and the
   coordinator's memory (tracemalloc peak of the planning state, and max RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from reconciler.controller.decide import decide
from reconciler.controller.fencing import Health
from reconciler.controller.simple_plan import (
    NodeView,
    Rsc,
    RscOnNode,
    SimpleInput,
    group_units,
    params_digest,
    plan_simple,
)
from reconciler.daemon import localcluster
from reconciler.transport.hactl_api import ApiClient

REPO = Path(__file__).resolve().parent.parent
BENCH_DOC = REPO / "docs" / "BENCHMARKS.md"
BASE_PORT = 25000
START, END = "<!-- bench:cluster:start -->", "<!-- bench:cluster:end -->"


def doc(name: str) -> dict[str, object]:
    return {
        "apiVersion": "hactl.io/v1",
        "kind": "Resource",
        "metadata": {"name": name},
        "spec": {
            "agent": "ocf:pacemaker:Dummy",
            "operations": [{"name": "monitor", "interval": "10s"}],
        },
    }


async def apply_to_started(servers: list[str], n: int) -> list[float]:
    """Like ``hactl apply`` then ``hactl get -w``: the view is read on every change the
    API's watch reports (no polling loop competing for the CPU)."""
    c = ApiClient(servers[0], timeout_s=10)
    changed = asyncio.Event()

    async def follow() -> None:
        async for _ in c.changes(""):
            changed.set()

    watcher = asyncio.create_task(follow())
    times = []
    try:
        for i in range(n):
            name = f"bench-{i}"
            changed.clear()
            t0 = time.perf_counter()
            _, _, err = await c.apply(json.dumps([doc(name)]), False, False, "", "bench")
            assert not err, err
            while True:
                changed.clear()
                v = json.loads((await c.view())[0])
                r = next((x for x in v["resources"] if x["name"] == name), None)
                if r is not None and r["nodes"]:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 1.0)
            times.append(time.perf_counter() - t0)
        for i in range(n):
            await c.delete("Resource", f"bench-{i}", "")
    finally:
        watcher.cancel()
        await c.close()
    return times


def debug_configs(d: Path) -> None:
    """Write the local cluster's configs with ``logLevel: DEBUG`` (timings in hacd.log)."""
    import yaml

    lay = localcluster.layout(d, 3, BASE_PORT, "etcd")
    localcluster.write_configs(lay)
    localcluster.save_layout(lay)
    for n in lay.nodes:
        path = lay.config_path(n)
        cfg = yaml.safe_load(path.read_text())
        cfg["logLevel"] = "DEBUG"
        path.write_text(yaml.safe_dump(cfg))


def bench_live(n: int, keep: str | None = None, debug: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hactl-bench-cluster-") as tmp:
        d = keep or tmp
        if debug:
            debug_configs(Path(d))
        lay = localcluster.up(Path(d), 3, BASE_PORT, "etcd")
        try:
            localcluster.wait_ready(lay, 60)
            servers = [lay.api(i) for i in range(3)]
            asyncio.run(apply_to_started(servers, 3))  # warm up
            times = sorted(asyncio.run(apply_to_started(servers, n)))
        finally:
            localcluster.down(Path(d))
    return {
        "n": n,
        "p50_ms": 1000 * statistics.median(times),
        "p90_ms": 1000 * times[int(0.9 * (len(times) - 1))],
        "max_ms": 1000 * times[-1],
    }


def bench_sim(nodes: int, resources: int, trace: bool = False) -> dict[str, float]:
    names = [f"n{i:02d}" for i in range(nodes)]
    rscs = [
        Rsc(f"r{i:05d}", "ocf:sim:Dummy", params={"i": str(i)}, monitors=((10000, 20000),))
        for i in range(resources)
    ]
    digests = {r.name: params_digest(r.params) for r in rscs}
    units = group_units(rscs, {})
    node_views = tuple(NodeView(n, Health.ONLINE) for n in names)
    obs: dict[tuple[str, str], RscOnNode] = {}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    passes = actions = 0
    while True:
        passes += 1
        plan = plan_simple(SimpleInput(units=units, nodes=node_views, observed=obs))
        d = decide(plan.steps(), {}, 0.0, batch_limit=1_000_000)
        if d.converged:
            break
        by_id = {a.step.id: a for a in plan.actions}
        for sid in d.dispatch:
            a = by_id[sid]
            key = (a.step.resource or "", a.step.node or "")
            actions += 1
            cur = obs.get(key, RscOnNode("unknown"))
            if a.step.operation == "monitor" and a.interval_ms == 0:
                obs[key] = RscOnNode("stopped")
            elif a.step.operation == "start":
                obs[key] = RscOnNode("active", frozenset(), 0, digests[key[0]])
            elif a.step.operation == "monitor":
                obs[key] = RscOnNode(cur.state, cur.monitors | {a.interval_ms}, 0, cur.digest)
        if passes > 50:
            raise RuntimeError("did not converge in 50 passes")
    elapsed = time.perf_counter() - t0
    peak = 0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    running = sum(1 for o in obs.values() if o.state == "active")
    assert running == resources, running
    return {
        "nodes": nodes,
        "resources": resources,
        "seconds": elapsed,
        "passes": passes,
        "actions": actions,
        "peak_mib": peak / 2**20,
        "rss_before_mib": rss0,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def render(live: dict[str, float] | None, sim: dict[str, float]) -> str:
    lines = [START, "", "### Live cluster (`make bench-cluster`, `bench/cluster.py`)", ""]
    lines.append(
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on this machine "
        f"({os.cpu_count()} cores shared with other jobs; "
        f"load average {os.getloadavg()[0]:.1f} at the end)."
    )
    lines.append("")
    if live:
        lines += [
            "`hactl apply` → resource started (`ocf:pacemaker:Dummy`, real 3-node local cluster: "
            "3 hacd processes, 3-member etcd, loopback): from sending the apply to the API until "
            "the successful start is recorded in the store and visible through the API "
            "(probes on all 3 nodes, start, all included).",
            "",
            "| planner | applies | p50 | p90 | max | goal |",
            "|---|---|---|---|---|---|",
            f"| {os.environ.get('HACTL_PLANNER', 'scheduler')} | {int(live['n'])} | "
            f"{live['p50_ms']:.0f} ms | {live['p90_ms']:.0f} ms | "
            f"{live['max_ms']:.0f} ms | p50 ≤ 100 ms |",
            "",
            "Where the time goes (one apply, read from hacd's log): the apply transaction "
            "10-30 ms; the coordinator is woken by the store's watch and dispatches the probes "
            "within a few ms; the probes (`Dummy` is a shell script sourcing ocf-shellfuncs) "
            "and then the start are 20-40 ms each on an idle core and 70-100 ms each under "
            "this load; each apply needs about three planning passes (probes, start, monitor), "
            "and a pass of the full scheduler over the ~30 resources the benchmark creates takes "
            "~35 ms under this load (the stand-in planner ~9 ms; with it the same benchmark "
            "measured p50 264 ms at load 11). The goal is not met on this shared machine.",
            "",
        ]
    lines += [
        f"Simulated {int(sim['nodes'])}-node cluster, {int(sim['resources'])} resources converging "
        "from nothing (the stand-in planner `controller/simple_plan.py` and the reconcile decision; the "
        "full scheduler was not measured at this size; agents simulated, every "
        "action completes at once; probes on every node, starts, recurring monitors):",
        "",
        "| nodes | resources | converged in | passes | actions | coordinator max RSS (before → after) |",
        "|---|---|---|---|---|---|",
        f"| {int(sim['nodes'])} | {int(sim['resources'])} | {sim['seconds']:.1f} s | {int(sim['passes'])} | "
        f"{int(sim['actions'])} | {sim['rss_before_mib']:.0f} → {sim['maxrss_mib']:.0f} MiB |",
        "",
        END,
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    text = BENCH_DOC.read_text()
    a, b = text.index(START), text.index(END) + len(END)
    BENCH_DOC.write_text(text[:a] + section + text[b:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--applies", type=int, default=30)
    ap.add_argument("--nodes", type=int, default=64)
    ap.add_argument("--resources", type=int, default=5000)
    ap.add_argument("--no-live", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--no-sim", action="store_true")
    ap.add_argument("--keep", help="run the live cluster in this directory and keep its logs")
    ap.add_argument("--debug-log", action="store_true", help="hacd logs at DEBUG (timings)")
    args = ap.parse_args()
    live = None if args.no_live else bench_live(args.applies, args.keep, args.debug_log)
    if live:
        print(
            f"apply -> started: p50 {live['p50_ms']:.1f} ms, p90 {live['p90_ms']:.1f} ms, max {live['max_ms']:.1f} ms"
        )
    if args.no_sim:
        return
    sim = bench_sim(args.nodes, args.resources)
    print(
        f"sim {args.nodes} nodes / {args.resources} resources: {sim['seconds']:.1f}s, "
        f"{sim['passes']} passes, {sim['actions']} actions, peak {sim['peak_mib']:.0f} MiB"
    )
    section = render(live, sim)
    if not args.no_write:
        write(section)
    print(section)
    sys.exit(0)


if __name__ == "__main__":
    main()
