"""Seeded random clusters: the scheduler never crashes, plans are deterministic DAGs,
and hard constraints hold. A failing seed is printed with a replay command."""

from __future__ import annotations

import random

import pytest
from build import cluster, op, prim, running

from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.scheduler.input import (
    Clone,
    ClusterOptions,
    Colocation,
    Group,
    Location,
    Order,
    ResourceHistory,
    SchedulerInput,
)
from reconciler.scheduler.plan import Plan, plan
from reconciler.scheduler.summary import render

SEEDS = range(150)


def random_cluster(seed: int) -> SchedulerInput:
    rng = random.Random(seed)
    nodes = tuple(f"n{i}" for i in range(rng.randint(1, 5)))
    resources: list = []
    names: list[str] = []
    prims: list[str] = []
    for i in range(rng.randint(1, 8)):
        kind = rng.random()
        meta = {}
        if rng.random() < 0.3:
            meta["resource_stickiness"] = str(rng.choice([0, 50, 100, 1000]))
        if rng.random() < 0.1:
            meta["target_role"] = "Stopped"
        if kind < 0.55:
            resources.append(prim(f"p{i}", **meta))
            prims.append(f"p{i}")
        elif kind < 0.8:
            members = tuple(prim(f"g{i}m{k}") for k in range(rng.randint(1, 3)))
            resources.append(Group(f"g{i}", members))
            prims.extend(m.id for m in members)
        else:
            cmeta = {"clone-max": str(rng.randint(1, 4))}
            if i % 2:
                cmeta["notify"] = "true"  # (no extra draw: the seeds keep their clusters)
            resources.append(
                Clone(f"c{i}", prim(f"c{i}x"), meta=cmeta, promotable=rng.random() < 0.4)
            )
        names.append(resources[-1].id)
    locs = tuple(
        Location(
            f"l{k}",
            rsc=rng.choice(names),
            node=rng.choice(nodes),
            score=rng.choice([MINUS_INFINITY, -100, 50, 200, INFINITY]),
        )
        for k in range(rng.randint(0, 4))
    )
    cols = tuple(
        Colocation(
            f"co{k}", score=rng.choice([MINUS_INFINITY, -50, 100, INFINITY]), rsc=a, with_rsc=b
        )
        for k, (a, b) in enumerate(
            (rng.choice(names), rng.choice(names)) for _ in range(rng.randint(0, 3))
        )
        if a != b
    )
    ords = tuple(
        Order(f"o{k}", first=a, then=b, kind=rng.choice(["Mandatory", "Optional"]))
        for k, (a, b) in enumerate(
            (rng.choice(names), rng.choice(names)) for _ in range(rng.randint(0, 3))
        )
        if a != b
    )
    hist: list[ResourceHistory] = []
    for p in prims:
        if rng.random() < 0.4:
            node = rng.choice(nodes)
            ops = [op("start")]
            if rng.random() < 0.2:
                ops.append(op("monitor", rng.choice([1, 7]), 2, 10_000))
            hist.append(running(p, node, *ops))
    unclean = tuple(n for n in nodes[1:] if rng.random() < 0.15)
    opts = ClusterOptions(
        stonith_enabled=rng.random() < 0.5,
        no_quorum_policy=rng.choice(["stop", "ignore", "freeze", "demote"]),
        symmetric_cluster=rng.random() < 0.8,
    )
    return cluster(
        tuple(resources),
        nodes=nodes,
        locations=locs,
        colocations=cols,
        orders=ords,
        history=tuple(hist),
        unclean=unclean,
        options=opts,
        quorum=rng.random() < 0.8,
    )


def _acyclic(p: Plan) -> bool:
    succ: dict[int, list[int]] = {}
    indeg: dict[int, int] = {a.id: 0 for a in p.actions}
    for a, b in p.edges:
        succ.setdefault(a, []).append(b)
        indeg[b] += 1
    ready = [n for n, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for m in succ.get(n, []):
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    return seen == len(indeg)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_cluster(seed: int) -> None:
    replay = f"replay: .venv/bin/pytest 'tests/unit/scheduler/test_random_clusters.py::test_random_cluster[{seed}]'"
    inp = random_cluster(seed)
    p = plan(inp, 0)
    assert render(p) == render(plan(inp, 0)), f"seed {seed}: not deterministic; {replay}"
    assert _acyclic(p), f"seed {seed}: cycle in the graph; {replay}"
    online = {n.name for n in inp.observed.nodes if n.online and not n.unclean}
    for a in p.required_actions():
        if a.task == "notify" and not a.pseudo:
            assert a.node in online, f"seed {seed}: notify on {a.node}; {replay}"
            assert a.notify["notify_type"] in ("pre", "post"), f"seed {seed}: {a.key}; {replay}"
    bans = {(loc.rsc, loc.node) for loc in inp.locations if loc.score == MINUS_INFINITY}
    for name, pl in p.placements.items():
        if pl.node is not None:
            assert (name, pl.node) not in bans, f"seed {seed}: {name} on banned {pl.node}; {replay}"
            assert pl.scores.get(pl.node, 0) >= 0, (
                f"seed {seed}: {name} on a negative score; {replay}"
            )
