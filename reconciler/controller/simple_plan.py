"""A small, complete planner for primitives and groups: the coordinator's stand-in scheduler.

The full scheduler (``reconciler.scheduler``) plans everything Pacemaker can
express; this one covers the common case (primitives and groups, location
scores, stickiness, standby, maintenance, target roles, failcounts with
migrationThreshold/failureTimeout, recovery of failed resources, fencing of
unclean nodes) and is used when the full scheduler is not available. It is
pure: inputs are values, ``now`` is an argument, output is sorted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.base.score import INFINITY, MINUS_INFINITY, add
from reconciler.controller.failures import banned
from reconciler.controller.fencing import Health, choose_fencer
from reconciler.controller.steps import Step


@dataclass(frozen=True, slots=True)
class Rsc:
    name: str
    agent: str
    params: Mapping[str, str] = field(default_factory=dict)
    monitors: tuple[tuple[int, int], ...] = ()  # (interval_ms, timeout_ms)
    start_timeout_ms: int = 20000
    stop_timeout_ms: int = 20000
    stickiness: int | None = None
    migration_threshold: int | None = None
    target_started: bool = True
    managed: bool = True
    maintenance: bool = False
    orphan: bool = False  # no longer desired: only stopped where found active, never probed


@dataclass(frozen=True, slots=True)
class Unit:
    """What is placed as one: a primitive, or a group's members in order."""

    name: str
    members: tuple[Rsc, ...]


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    health: Health
    standby: bool = False
    maintenance: bool = False
    fence_requested: bool = False  # `hactl fence NODE`


@dataclass(frozen=True, slots=True)
class RscOnNode:
    """The observed state of a resource on a node."""

    state: str  # unknown | stopped | active | failed | stop_failed
    monitors: frozenset[int] = frozenset()  # recurring monitor intervals running
    failcount: int = 0  # effective (after failureTimeout)
    digest: str | None = None  # of the parameters it was started with


@dataclass(frozen=True, slots=True)
class SimpleInput:
    units: tuple[Unit, ...]
    nodes: tuple[NodeView, ...]
    observed: Mapping[tuple[str, str], RscOnNode]  # (rsc, node)
    locations: tuple[tuple[str, str, int], ...] = ()  # (rsc or group, node, score)
    default_stickiness: int = 0
    stonith_enabled: bool = True
    fencer_preference: str | None = None
    fence_agent: str = ""
    fence_params: Mapping[str, str] = field(default_factory=dict)
    # per target node: (agent, params) of the device that fences it (else the default above)
    fence_devices: Mapping[str, tuple[str, Mapping[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlannedAction:
    step: Step
    agent: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    interval_ms: int = 0
    timeout_ms: int = 20000
    expected_rc: int = 0
    target: str = ""  # fencing target


@dataclass(frozen=True, slots=True)
class SimplePlan:
    actions: tuple[PlannedAction, ...]
    placement: Mapping[str, str | None]  # rsc -> node
    explanations: tuple[str, ...]

    def steps(self) -> tuple[Step, ...]:
        return tuple(a.step for a in self.actions)


def params_digest(params: Mapping[str, str]) -> str:
    """A short digest of a resource's parameters; a change restarts the resource."""
    text = json.dumps(dict(sorted(params.items())), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _sid(rsc: str, op: str, interval: int, node: str) -> str:
    return f"{rsc}_{op}_{interval}@{node}"


def plan_simple(inp: SimpleInput) -> SimplePlan:
    nodes = {n.name: n for n in inp.nodes}
    healths = {n.name: n.health for n in inp.nodes}
    order = sorted(nodes)
    actions: list[PlannedAction] = []
    placement: dict[str, str | None] = {}
    notes: list[str] = []

    unknown, stopped = RscOnNode("unknown"), RscOnNode("stopped")
    default = {n: unknown if h is Health.ONLINE else stopped for n, h in healths.items()}
    observed = inp.observed

    def obs(r: str, n: str) -> RscOnNode:
        return observed.get((r, n)) or default.get(n, stopped)

    by_target: dict[str, list[tuple[str, int]]] = {}
    for loc_rsc, loc_node, loc_score in inp.locations:
        by_target.setdefault(loc_rsc, []).append((loc_node, loc_score))

    # fencing of unclean nodes that may hold resources
    fence_ids: dict[str, str] = {}
    stop_failed = {n for (_, n), o in inp.observed.items() if o.state == "stop_failed"}
    for n in order:
        escalate = n in stop_failed and inp.stonith_enabled  # a failed stop: fence the node
        if (
            (healths[n] is Health.UNCLEAN and inp.stonith_enabled)
            or escalate
            or (nodes[n].fence_requested)
        ):
            fencer = choose_fencer(n, healths, inp.fencer_preference)
            if fencer is None:
                notes.append(
                    f"node {n} is unclean and no node can fence it: its resources are blocked"
                )
                continue
            sid = f"fence_{n}@{fencer}"
            fence_ids[n] = sid
            agent, params = inp.fence_devices.get(n, (inp.fence_agent, inp.fence_params))
            actions.append(
                PlannedAction(
                    Step(sid, None, fencer, "off"),
                    agent=agent,
                    params=dict(params),
                    timeout_ms=60000,
                    target=n,
                )
            )

    for unit in sorted(inp.units, key=lambda u: u.name):
        members = unit.members
        if any(not m.managed or m.maintenance for m in members):
            notes.append(f"{unit.name}: unmanaged, no actions")
            for m in members:
                act = [n for n in order if obs(m.name, n).state in ("active", "failed")]
                placement[m.name] = act[0] if act else None
            continue
        frozen = sorted(
            n
            for m in members
            for n in order
            if nodes[n].maintenance and obs(m.name, n).state in ("active", "failed")
        )
        if frozen:
            # active on a node in maintenance: untouchable there, so started nowhere else
            notes.append(f"{unit.name}: active on {frozen[0]} in maintenance, no actions")
            placement.update({m.name: frozen[0] for m in members})
            continue
        # probes first: every online node must report before anything starts
        probes: list[str] = []
        for m in members:
            for n in order:
                nv = nodes[n]
                if (
                    not m.orphan
                    and nv.health is Health.ONLINE
                    and not nv.maintenance
                    and obs(m.name, n).state == "unknown"
                ):
                    sid = _sid(m.name, "monitor", 0, n)
                    probes.append(sid)
                    actions.append(
                        PlannedAction(
                            Step(sid, m.name, n, "monitor"),
                            agent=m.agent,
                            params=dict(m.params),
                            timeout_ms=m.start_timeout_ms,
                            expected_rc=7,
                        )
                    )
        # scores
        best: str | None = None
        best_score: int = MINUS_INFINITY
        want = all(m.target_started for m in members)
        for n in order:
            nv = nodes[n]
            if nv.health is not Health.ONLINE or nv.standby or nv.maintenance:
                continue
            score: int = 0
            for target_name in sorted({unit.name, *(m.name for m in members)}):
                for loc_node, loc_score in by_target.get(target_name, ()):
                    if loc_node == n:
                        score = add(score, loc_score)
            for m in members:
                o = obs(m.name, n)
                if banned(o.failcount, m.migration_threshold) or o.state == "stop_failed":
                    score = MINUS_INFINITY
                if o.state == "active":
                    stick = m.stickiness if m.stickiness is not None else inp.default_stickiness
                    score = add(score, stick)
            if score > best_score:
                best, best_score = n, score
        target = best if want and best_score > MINUS_INFINITY else None
        placement.update({m.name: target for m in members})
        if target is None and want:
            notes.append(f"{unit.name}: cannot run anywhere")
        # stops (reverse member order), recoveries, starts (member order)
        stop_ids: dict[str, list[str]] = {m.name: [] for m in members}
        blocked = False
        must_stop: set[tuple[str, str]] = set()
        for n in order:
            h = healths[n]
            if h is not Health.ONLINE or nodes[n].maintenance:
                continue
            cascade = False  # an earlier member stops here: every later one restarts too
            for m in members:
                o = obs(m.name, n)
                changed = (
                    o.state == "active"
                    and o.digest is not None
                    and o.digest != params_digest(m.params)
                )
                if o.state == "failed" or changed or (o.state == "active" and n != target):
                    cascade = True
                    must_stop.add((m.name, n))
                elif cascade and o.state == "active":
                    must_stop.add((m.name, n))
        for m in reversed(members):
            for n in order:
                o = obs(m.name, n)
                h = healths[n]
                if o.state == "stop_failed":
                    if n in fence_ids:  # recovered elsewhere once the node is fenced
                        stop_ids[m.name].append(fence_ids[n])
                    else:
                        blocked = True
                        notes.append(f"{m.name}: stop failed on {n}; fencing required")
                    continue
                if h is Health.UNCLEAN:
                    if o.state in ("active", "failed"):
                        if n in fence_ids:
                            stop_ids[m.name].append(fence_ids[n])
                        else:
                            blocked = blocked or inp.stonith_enabled
                    continue
                if (m.name, n) not in must_stop:
                    continue
                sid = _sid(m.name, "stop", 0, n)
                later = [i for mm in members[members.index(m) + 1 :] for i in stop_ids[mm.name]]
                actions.append(
                    PlannedAction(
                        Step(sid, m.name, n, "stop", inputs=tuple(sorted(set(later)))),
                        agent=m.agent,
                        params=dict(m.params),
                        timeout_ms=m.stop_timeout_ms,
                    )
                )
                stop_ids[m.name].append(sid)
        if target is None or blocked:
            continue
        all_stops = sorted({i for ids in stop_ids.values() for i in ids})
        prev_start: str | None = None
        for m in members:
            o = obs(m.name, target)
            inputs = set(all_stops) | {p for p in probes}
            if prev_start is not None:
                inputs.add(prev_start)
            start_sid: str | None = None
            restarting = (m.name, target) in must_stop
            if o.state != "active" or restarting:
                start_sid = _sid(m.name, "start", 0, target)
                actions.append(
                    PlannedAction(
                        Step(start_sid, m.name, target, "start", inputs=tuple(sorted(inputs))),
                        agent=m.agent,
                        params=dict(m.params),
                        timeout_ms=m.start_timeout_ms,
                    )
                )
                prev_start = start_sid
            for interval, timeout in m.monitors:
                if start_sid is None and interval in o.monitors:
                    continue
                sid = _sid(m.name, "monitor", interval, target)
                actions.append(
                    PlannedAction(
                        Step(
                            sid,
                            m.name,
                            target,
                            "monitor",
                            inputs=(start_sid,) if start_sid else tuple(sorted(inputs)),
                        ),
                        agent=m.agent,
                        params=dict(m.params),
                        interval_ms=interval,
                        timeout_ms=timeout,
                    )
                )
    actions.sort(key=lambda a: a.step.id)
    return SimplePlan(tuple(actions), placement, tuple(notes))


__all__ = [
    "INFINITY",
    "NodeView",
    "PlannedAction",
    "Rsc",
    "RscOnNode",
    "SimpleInput",
    "SimplePlan",
    "Unit",
    "plan_simple",
]


def group_units(resources: Sequence[Rsc], groups: Mapping[str, Sequence[str]]) -> tuple[Unit, ...]:
    by_name = {r.name: r for r in resources}
    in_group = {m for ms in groups.values() for m in ms}
    units = [
        Unit(g, tuple(by_name[m] for m in ms if m in by_name)) for g, ms in sorted(groups.items())
    ]
    units += [
        Unit(r.name, (r,))
        for r in sorted(resources, key=lambda r: r.name)
        if r.name not in in_group
    ]
    return tuple(u for u in units if u.members)
