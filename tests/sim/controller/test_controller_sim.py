"""Seeded simulation of the coordinator's decisions with simulated agents and nodes.

The pure planner and the reconcile decision drive a simulated world: actions
take random time, resources die, nodes go to standby, nodes crash (their
resources keep running until the node is fenced). After every step the world
must never have a resource active on two nodes; after the chaos stops the
cluster must converge with every resource running exactly once.

Replay one seed: ``.venv/bin/pytest tests/sim/controller -k 'seed and 17]' --sim-seeds=18``
or ``make sim SEEDS=1 SEED_START=17``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from reconciler.controller.decide import decide
from reconciler.controller.fencing import Health
from reconciler.controller.retry import RetryBook
from reconciler.controller.simple_plan import (
    NodeView,
    PlannedAction,
    Rsc,
    RscOnNode,
    SimpleInput,
    group_units,
    params_digest,
    plan_simple,
)
from reconciler.controller.steps import InFlight

NODES = ["n1", "n2", "n3", "n4"]
CHAOS_STEPS = 100


@dataclass
class World:
    rng: random.Random
    resources: list[Rsc]
    groups: dict[str, list[str]]
    locations: list[tuple[str, str, int]]
    active: set[tuple[str, str]] = field(default_factory=set)  # ground truth (rsc, node)
    up: set[str] = field(default_factory=lambda: set(NODES))
    off: set[str] = field(default_factory=set)  # fenced, powered off
    standby: set[str] = field(default_factory=set)
    obs: dict[tuple[str, str], RscOnNode] = field(default_factory=dict)
    fail: dict[tuple[str, str], int] = field(default_factory=dict)
    pending: list[tuple[float, PlannedAction]] = field(default_factory=list)
    in_flight: dict[str, InFlight] = field(default_factory=dict)
    deaths: list[tuple[float, str, str]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    calm: bool = False  # the chaos stopped: starts no longer fail

    def holds(self, n: str) -> bool:
        return any(
            s.state in ("active", "failed", "stop_failed")
            for (_, node), s in self.obs.items()
            if node == n
        )

    def health(self, n: str) -> Health:
        if n in self.up:
            return Health.ONLINE
        if n in self.off or not self.holds(n):
            return Health.OFFLINE
        return Health.UNCLEAN

    def inp(self) -> SimpleInput:
        obs = {}
        for r in self.resources:
            for n in NODES:
                o = self.obs.get((r.name, n))
                if o is None:
                    o = RscOnNode("unknown" if n in self.up else "stopped")
                obs[(r.name, n)] = RscOnNode(
                    o.state, o.monitors, self.fail.get((r.name, n), 0), o.digest
                )
        return SimpleInput(
            units=group_units(self.resources, self.groups),
            nodes=tuple(NodeView(n, self.health(n), standby=n in self.standby) for n in NODES),
            observed=obs,
            locations=tuple(self.locations),
            fence_agent="stonith:fence_sim",
        )

    def complete(self, a: PlannedAction, now: float) -> None:
        s = a.step
        self.in_flight.pop(s.id, None)
        if s.node not in self.up:
            return  # the node died under it: no result
        if a.target:
            t = a.target
            self.off.add(t)
            self.active = {(r, n) for r, n in self.active if n != t}
            self.obs = {k: v for k, v in self.obs.items() if k[1] != t}
            self.log.append(f"{now:.1f} fenced {t}")
            return
        key = (s.resource or "", s.node or "")
        cur = self.obs.get(key, RscOnNode("unknown"))
        if s.operation == "start":
            if not self.calm and self.rng.random() < 0.03:
                self.obs[key] = RscOnNode("failed")
                self.fail[key] = 1_000_000
            else:
                self.active.add(key)
                self.obs[key] = RscOnNode("active", frozenset(), 0, params_digest(a.params))
        elif s.operation == "stop":
            self.active.discard(key)
            self.obs[key] = RscOnNode("stopped")
        elif s.operation == "monitor" and a.interval_ms == 0:
            self.obs[key] = RscOnNode("active" if key in self.active else "stopped")
        elif s.operation == "monitor":
            if key in self.active:
                self.obs[key] = RscOnNode(cur.state, cur.monitors | {a.interval_ms}, 0, cur.digest)
            else:
                self.obs[key] = RscOnNode("failed", cur.monitors, 0, cur.digest)

    def check(self, now: float) -> None:
        for r in self.resources:
            where = sorted(n for (rr, n) in self.active if rr == r.name and n not in self.off)
            assert len(where) <= 1, f"t={now:.1f}: {r.name} active on {where}\n" + "\n".join(
                self.log[-30:]
            )


def build(rng: random.Random) -> World:
    rs = [
        Rsc(
            f"r{i}",
            "ocf:sim:Dummy",
            params={"v": "1"},
            monitors=((1000, 5000),),
            migration_threshold=rng.choice([None, 1, 2, 3]),
            stickiness=rng.choice([0, 50, 200]),
        )
        for i in range(6)
    ]
    groups = {"g": ["r4", "r5"]} if rng.random() < 0.7 else {}
    locs = [
        (f"r{rng.randrange(6)}", rng.choice(NODES), rng.choice([-100, 50, 100, 1_000_000]))
        for _ in range(rng.randrange(4))
    ]
    return World(rng, rs, groups, sorted(set(locs)))


def step(w: World, now: float, book: RetryBook) -> tuple[RetryBook, bool]:
    for due, a in sorted([p for p in w.pending if p[0] <= now], key=lambda p: (p[0], p[1].step.id)):
        w.pending.remove((due, a))
        w.complete(a, now)
    for due, r, n in [d for d in w.deaths if d[0] <= now]:
        w.deaths.remove((due, r, n))
        if n in w.up and (r, n) in w.obs and w.obs[(r, n)].state == "active":
            w.obs[(r, n)] = RscOnNode("failed", w.obs[(r, n)].monitors, 0, w.obs[(r, n)].digest)
            w.fail[(r, n)] = w.fail.get((r, n), 0) + 1
    plan = plan_simple(w.inp())
    by_id = {a.step.id: a for a in plan.actions}
    d = decide(plan.steps(), w.in_flight, now, book)
    for sid in d.dispatch:
        a = by_id[sid]
        book = book.record(sid, now)
        w.in_flight[sid] = InFlight(sid, a.step.resource, a.step.node, now)
        w.pending.append((now + w.rng.uniform(0.05, 0.6), a))
    return book, d.converged and not w.pending and not w.deaths


def chaos(w: World, now: float) -> None:
    rng = w.rng
    x = rng.random()
    if x < 0.03 and w.active:
        r, n = rng.choice(sorted(w.active))
        if n in w.up:
            w.active.discard((r, n))  # the service dies; its monitor notices later
            w.deaths.append((now + 1.0, r, n))
            w.log.append(f"{now:.1f} {r} died on {n}")
    elif x < 0.05:
        n = rng.choice(NODES)
        w.standby.symmetric_difference_update({n})
        w.log.append(f"{now:.1f} standby toggled on {n}")
    elif x < 0.06 and len(w.up) > 2:
        n = rng.choice(sorted(w.up))
        w.up.discard(n)
        w.in_flight = {k: v for k, v in w.in_flight.items() if v.node != n}
        w.pending = [p for p in w.pending if p[1].step.node != n]
        w.log.append(f"{now:.1f} {n} crashed")
    elif x < 0.08:
        for n in sorted(w.off):
            w.off.discard(n)
            w.up.add(n)  # rebooted after fencing: runs nothing, will be probed
            w.log.append(f"{now:.1f} {n} back")


def test_controller_simulation(seed: int) -> None:
    rng = random.Random(seed)
    w = build(rng)
    book = RetryBook(base=0.1, cap=1.0)
    now = 0.0
    try:
        for _ in range(CHAOS_STEPS):
            chaos(w, now)
            book, _ = step(w, now, book)
            w.check(now)
            now += 0.1
        # the chaos stops, start failures included: a start that fails now bans its
        # resource from that node (fail count INFINITY, as Pacemaker's
        # start-failure-is-fatal), and two such bans can leave a group nowhere to run
        # (seed 100434: r4 failed on n4, r5 on n1, with n2 and n3 down), which is right
        # but not what "converges with every resource running" checks
        w.calm = True
        w.standby.clear()
        for n in sorted(w.off):
            w.off.discard(n)
            w.up.add(n)
        w.fail.clear()
        done = False
        for _ in range(400):
            book, done = step(w, now, book)
            w.check(now)
            now += 0.1
            if done:
                break
        assert done, "did not converge after the chaos stopped\n" + "\n".join(w.log[-20:])
        for r in w.resources:
            where = [n for (rr, n) in w.active if rr == r.name]
            assert len(where) == 1, f"{r.name} runs on {where} after convergence"
    except AssertionError as e:
        raise AssertionError(
            f"seed {seed}: {e}\nreplay: .venv/bin/pytest tests/sim/controller "
            f"--sim-seeds=1 --sim-seed-start={seed}"
        ) from None
