"""From the store's snapshot to a plan: desired objects + observed state → planned actions.

Uses the controller's planner (primitives and groups, see
``reconciler.controller.simple_plan``). Desired objects are read as the JSON
documents the API stored (already validated at apply time), so a field added
to a kind later does not break planning of the fields used here.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.base import score as scores
from reconciler.controller.failures import (
    FailureRecord,
    effective_count,
    expires_at,
    next_recheck,
)
from reconciler.controller.fencing import Health
from reconciler.controller.simple_plan import (
    NodeView,
    Rsc,
    RscOnNode,
    SimpleInput,
    SimplePlan,
    group_units,
    plan_simple,
)
from reconciler.daemon.state import ClusterState, base_name, healths
from reconciler.model.status import ResourceHistory
from reconciler.model.values import Duration

TRUE = {"true", "on", "yes", "1"}


def seconds(value: object, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    try:
        return Duration.parse(value).seconds
    except ValueError:
        return default


def _score(value: object, default: int | None = None) -> int | None:
    if value is None:
        return default
    try:
        return int(scores.parse(value if isinstance(value, (int, str)) else str(value)))
    except ValueError:
        return default


def _ms(value: object, default: int) -> int:
    s = seconds(value)
    return default if s is None else int(s * 1000)


@dataclass(frozen=True, slots=True)
class Planned:
    plan: SimplePlan
    healths: dict[str, Health]
    recheck_at: float | None
    failure_timeouts: dict[str, float | None]
    # step id -> the agent's OCF_RESKEY_CRM_meta_* variables (clone instances, notify)
    meta: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def resources(state: ClusterState) -> list[Rsc]:
    out = []
    for doc in state.objects("resource"):
        name = doc["metadata"]["name"]
        spec: dict[str, Any] = doc.get("spec") or {}
        monitors = []
        start_to, stop_to = 20000, 20000
        for op in spec.get("operations") or []:
            if op.get("enabled") is False:
                continue
            nm = op.get("name")
            interval = _ms(op.get("interval"), 0)
            timeout = _ms(op.get("timeout"), 20000)
            if nm == "monitor" and interval > 0 and not op.get("role"):
                monitors.append((interval, timeout))
            elif nm == "start":
                start_to = timeout
            elif nm == "stop":
                stop_to = timeout
        role = str(spec.get("targetRole") or "Started")
        out.append(
            Rsc(
                name=name,
                agent=str(spec.get("agent")),
                params={str(k): str(v) for k, v in sorted((spec.get("params") or {}).items())},
                monitors=tuple(sorted(monitors)),
                start_timeout_ms=start_to,
                stop_timeout_ms=stop_to,
                stickiness=_score(spec.get("stickiness")),
                migration_threshold=_score(spec.get("migrationThreshold")),
                target_started=role != "Stopped",
                managed=spec.get("managed", True) is not False,
                maintenance=spec.get("maintenance", False) is True,
            )
        )
    return out


def groups(state: ClusterState) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for doc in state.objects("group"):
        spec = doc.get("spec") or {}
        members = spec.get("resources") or spec.get("members") or []
        out[doc["metadata"]["name"]] = [
            m if isinstance(m, str) else str(m.get("name")) for m in members
        ]
    return out


def cluster_spec(state: ClusterState) -> dict[str, Any]:
    docs = state.objects("cluster")
    return dict(docs[0].get("spec") or {}) if docs else {}


def lifetime_end(doc: dict[str, Any]) -> float | None:
    """When a Location with ``lifetime`` expires (from its creation), or None."""
    spec = doc.get("spec") or {}
    life = seconds(spec.get("lifetime"))
    if life is None:
        return None
    meta = doc.get("metadata") or {}
    created = (meta.get("annotations") or {}).get("hactl.io/created-at")
    if created is None and meta.get("creationTimestamp"):
        with contextlib.suppress(ValueError):
            created = (
                datetime.strptime(str(meta["creationTimestamp"]), "%Y-%m-%dT%H:%M:%SZ")
                .replace(tzinfo=UTC)
                .timestamp()
            )
    return None if created is None else float(created) + life


def locations(
    state: ClusterState, nodes: Iterable[str], now: float
) -> tuple[list[tuple[str, str, int]], list[float]]:
    """Location constraints with a node and score (rules are left to the full scheduler)."""
    out: list[tuple[str, str, int]] = []
    ends: list[float] = []
    all_rsc = [d["metadata"]["name"] for d in state.objects("resource")] + list(groups(state))
    for doc in state.objects("location"):
        spec = doc.get("spec") or {}
        end = lifetime_end(doc)
        if end is not None:
            if now >= end:
                continue
            ends.append(end)
        node, score = spec.get("node"), _score(spec.get("score"))
        if node is None or score is None:
            continue
        targets: list[str] = []
        if spec.get("resource"):
            targets = [str(spec["resource"])]
        elif spec.get("resourcePattern"):
            pat = re.compile(str(spec["resourcePattern"]))
            targets = [r for r in all_rsc if pat.fullmatch(r)]
        out.extend((t, str(node), score) for t in targets)
    del nodes
    return sorted(out), ends


def observe(h: ResourceHistory | None) -> tuple[str, frozenset[int], str | None]:
    if h is None:
        return "unknown", frozenset(), None
    one_shot = sorted(
        (o for o in h.operations if o.interval_ms == 0 and o.id != "last_failure"),
        key=lambda o: o.call_id,
    )
    if not one_shot:
        return "unknown", frozenset(), None
    last = one_shot[-1]
    monitors = [o for o in h.operations if o.interval_ms > 0]
    if last.operation == "stop":
        state = "stopped" if last.rc == 0 and last.op_status == 0 else "stop_failed"
    elif last.operation == "monitor":
        state = {0: "active", 7: "stopped"}.get(last.rc, "failed")
    elif last.operation == "start":
        state = "active" if last.rc == 0 and last.op_status == 0 else "failed"
    else:
        state = "active"
    running = frozenset(o.interval_ms for o in monitors if o.call_id > last.call_id)
    starts = [o for o in h.operations if o.operation == "start" and o.digest]
    if state == "active" and any(
        o.call_id > last.call_id and o.rc != (o.expected_rc or 0) for o in monitors
    ):
        state = "failed"
    return state, running, (starts[-1].digest if starts else None)


def fence_devices(
    state: ClusterState, nodes: Iterable[str]
) -> dict[str, tuple[str, dict[str, str]]]:
    """Per node, the (agent, params) of the first FencingDevice (by name) that lists it."""
    devices: dict[str, tuple[str, dict[str, str]]] = {}
    for dev in state.objects("fencingdevice"):
        dspec = dev.get("spec") or {}
        agent = str(dspec.get("agent") or "")
        if not agent:
            continue
        if not agent.startswith("stonith:"):
            agent = "stonith:" + agent
        dparams = {str(k): str(v) for k, v in sorted((dspec.get("params") or {}).items())}
        for h in dspec.get("hostList") or sorted(nodes):
            devices.setdefault(str(h), (agent, dparams))
    return devices


def plan(
    state: ClusterState,
    configured: Iterable[str],
    now: float,
    *,
    coordinator_node: str | None,
    fence_agent: str,
    fence_params: dict[str, str],
) -> Planned:
    hs = healths(state, configured)
    cspec = cluster_spec(state)
    rscs = resources(state)
    desired = {r.name for r in rscs}
    orphans: dict[str, str] = {}
    for n in sorted(state.histories):
        for name, h in sorted(state.histories[n].items()):
            if base_name(name) in desired:
                continue  # a clone instance of a desired resource (planned by the scheduler)
            if name not in desired and h.agent and observe(h)[0] in ("active", "failed"):
                orphans.setdefault(name, h.agent)
    rscs += [
        Rsc(name, agent, target_started=False, orphan=True)
        for name, agent in sorted(orphans.items())
    ]
    failure_timeouts: dict[str, float | None] = {}
    for doc in state.objects("resource"):
        failure_timeouts[doc["metadata"]["name"]] = seconds(
            (doc.get("spec") or {}).get("failureTimeout")
        )
    deadlines: list[float | None] = []
    observed: dict[tuple[str, str], RscOnNode] = {}
    for n in hs:
        fcs: dict[str, int] = {}
        for fc in state.failcounts.get(n, []):
            rec = FailureRecord(fc.resource, n, fc.count, float(fc.last_failure or 0))
            ft = failure_timeouts.get(fc.resource)
            fcs[fc.resource] = fcs.get(fc.resource, 0) + effective_count(rec, ft, now)
            deadlines.append(expires_at(rec, ft))
        for r in rscs:
            hist = state.histories.get(n, {}).get(r.name)
            st, mons, digest = observe(hist)
            if hist is None and hs[n] is not Health.ONLINE:
                st = "stopped"
            observed[(r.name, n)] = RscOnNode(st, mons, fcs.get(r.name, 0), digest)
    nodes = []
    node_docs = {d["metadata"]["name"]: d.get("spec") or {} for d in state.objects("node")}
    for n in sorted(hs):
        attrs = state.node_attributes.get(n, {})
        spec = node_docs.get(n, {})
        nodes.append(
            NodeView(
                n,
                hs[n],
                standby=bool(spec.get("standby"))
                or attrs.get("standby", "") in TRUE
                or state.attributes.get(n, {}).get("shutdown", "0") not in ("", "0"),
                maintenance=bool(spec.get("maintenance"))
                or attrs.get("maintenance", "") in TRUE
                or cspec.get("maintenanceMode") is True,
                fence_requested="fence-requested" in attrs,
            )
        )
    locs, ends = locations(state, hs, now)
    deadlines.extend(ends)
    fencing_enabled = cspec.get("fencingEnabled", True) is not False
    devices = fence_devices(state, hs)
    inp = SimpleInput(
        units=group_units(rscs, groups(state)),
        nodes=tuple(nodes),
        observed=observed,
        locations=tuple(locs),
        default_stickiness=_score(cspec.get("defaultStickiness"), 0) or 0,
        stonith_enabled=fencing_enabled,
        fencer_preference=coordinator_node,
        fence_agent=fence_agent,
        fence_params=fence_params,
        fence_devices=devices,
    )
    return Planned(plan_simple(inp), hs, next_recheck(deadlines, now), failure_timeouts)
