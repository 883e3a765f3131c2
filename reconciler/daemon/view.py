"""The cluster as people see it: nodes, resources, failures, warnings (``hactl status``, ``get``).

Stable JSON (``-o json``): keys are camelCase and only ever added.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from reconciler.controller.fencing import Health
from reconciler.daemon import planning
from reconciler.daemon.state import (
    ClusterState,
    active_nodes,
    base_name,
    cloned,
    healths,
    instances,
    node_names,
)
from reconciler.model.status import OCF_RC_NAMES
from reconciler.statestore.etcd import Entry


def _ops(state: ClusterState, rsc: str) -> list[dict[str, Any]]:
    out = []
    for n in sorted(state.histories):
        for h in instances(state, n, rsc):
            out += _ops_of(n, h)
    return sorted(out, key=lambda d: (d["callId"], d["node"]))


def _ops_of(n: str, h: Any) -> list[dict[str, Any]]:
    out = []
    if h is not None:
        for o in h.operations:
            out.append(
                {
                    "node": n,
                    "id": o.id,
                    "operation": o.operation,
                    "intervalMs": o.interval_ms,
                    "rc": o.rc,
                    "rcText": OCF_RC_NAMES.get(o.rc, str(o.rc)),
                    "expectedRc": o.target_rc,
                    "opStatus": o.op_status,
                    "callId": o.call_id,
                    "lastRun": o.last_run,
                    "execTimeMs": o.exec_time_ms,
                    "output": o.exit_reason or "",
                    "instance": h.name,
                }
            )
    return out


def lease_expired(state: ClusterState, configured: Sequence[str]) -> list[str]:
    """With fencing disabled: lost nodes the coordinator recovered after their lease wait.

    Nothing is written to the store when the wait ends (the coordinator counts such a
    node as cleanly down from then on); its last observed state still shows what it
    ran. The coordinator's published health says ``offline`` for it: trust that.
    """
    if planning.cluster_spec(state).get("fencingEnabled", True) is not False:
        return []
    reported = (state.coordinator or {}).get("health") or {}
    hs = healths(state, configured)
    return [
        n
        for n, h in sorted(hs.items())
        if h is Health.UNCLEAN and n not in state.live and reported.get(n) == "offline"
    ]


def startup_warning(startup: dict[str, Any], now: float) -> str:
    """The warning line of a coordinator that waits for nodes at cluster start."""
    until = float(startup.get("until") or now)
    at = datetime.fromtimestamp(until, UTC).strftime("%H:%M:%S UTC")
    return (
        f"cluster start: the coordinator waits for {', '.join(startup['waitingFor'])} to join "
        f"before starting resources, until {at} ({max(0.0, until - now):.0f} s left, "
        "startupWait)"
    )


def build_view(state: ClusterState, events: Sequence[Entry], now: float) -> dict[str, Any]:
    coord = state.coordinator or {}
    configured = list(state.live) + list(coord.get("health", {}))
    expired = lease_expired(state, configured)
    if expired:  # down and clean: what they last ran has stopped
        state = replace(
            state, histories={n: h for n, h in state.histories.items() if n not in expired}
        )
    hs = healths(state, configured)
    fencing_enabled = planning.cluster_spec(state).get("fencingEnabled", True) is not False
    group_of = {m: g for g, ms in planning.groups(state).items() for m in ms}
    cspec = planning.cluster_spec(state)
    nodes: list[dict[str, Any]] = []
    for n in node_names(state, configured):
        attrs = state.node_attributes.get(n, {})
        standby = attrs.get("standby", "") in planning.TRUE
        maint = attrs.get("maintenance", "") in planning.TRUE
        nodes.append(
            {
                "name": n,
                "state": str(hs.get(n, "offline")),
                "standby": standby,
                "maintenance": maint,
                "address": (state.live.get(n) or {}).get("address", ""),
                "coordinator": coord.get("node") == n and n in state.live,
                "fenced": bool(state.fencing.get(n, {}).get("ok")),
                "attributes": dict(sorted(state.attributes.get(n, {}).items())),
            }
        )
    resources: list[dict[str, Any]] = []
    clones = cloned(state)
    failed_actions = []
    for r in planning.resources(state):
        doc = state.desired["resource"][r.name]
        active = active_nodes(state, r.name)
        failcounts = {}
        for n, fcs in sorted(state.failcounts.items()):
            total = sum(f.count for f in fcs if base_name(f.resource) == r.name)
            if total:
                failcounts[n] = min(total, 1_000_000)
        ops = _ops(state, r.name)
        failed = [o for o in ops if o["id"] == "last_failure"]
        for o in failed:
            failed_actions.append({"resource": r.name, **o})
        monitor_failed = any(o["intervalMs"] > 0 and o["rc"] != o["expectedRc"] for o in ops)
        if not r.target_started:
            status = "Stopped (disabled)" if not active else "Stopping"
        elif not r.managed or r.maintenance:
            status = "Unmanaged"
        elif monitor_failed:
            status = "FAILED"
        elif len(active) > 1 and r.name not in clones:
            status = "Active on several nodes"
        elif active:
            status = "Started"
        else:
            status = "Stopped"
        meta = doc.get("metadata") or {}
        resources.append(
            {
                "name": r.name,
                "kind": "Resource",
                "clone": r.name in clones,
                "agent": r.agent,
                "group": group_of.get(r.name),
                "role": "Started" if active else "Stopped",
                "targetRole": "Started" if r.target_started else "Stopped",
                "nodes": active,
                "state": status,
                "failcounts": failcounts,
                "failcount": sum(failcounts.values()),
                "created": meta.get("creationTimestamp"),
                "generation": meta.get("generation"),
                "resourceVersion": meta.get("resourceVersion"),
                "operations": ops,
                "placement": (coord.get("placement") or {}).get(r.name),
            }
        )
    cli_constraints = []
    for d in state.objects("location"):
        labels = (d.get("metadata") or {}).get("labels") or {}
        if labels.get("hactl.io/origin") == "cli":
            spec = d.get("spec") or {}
            cli_constraints.append(
                {
                    "name": d["metadata"]["name"],
                    "resource": spec.get("resource"),
                    "node": spec.get("node"),
                    "score": spec.get("score"),
                    "lifetime": spec.get("lifetime"),
                }
            )
    warnings = []
    for c in cli_constraints:
        warnings.append(
            f"location override {c['name']} ({c['resource']} on {c['node']}: {c['score']}) "
            f"is still in place; `hactl clear {c['resource']}` removes it"
        )
    if cspec.get("fencingEnabled") is False:
        warnings.append("fencing is disabled: a lost node's resources are recovered unfenced")
    for rv in resources:
        if rv["state"] == "Unmanaged":
            warnings.append(f"{rv['name']} is unmanaged: the cluster neither starts nor stops it")
        if len(rv["nodes"]) > 1 and not rv["clone"]:
            warnings.append(f"{rv['name']} is active on {', '.join(rv['nodes'])}")
    for nv in nodes:
        if nv["state"] == "unclean" and fencing_enabled:  # else: the coordinator's note
            warnings.append(f"node {nv['name']} is unclean: waiting for fencing")
        if nv["maintenance"]:
            warnings.append(f"node {nv['name']} is in maintenance: no actions on it")
    for note in coord.get("notes", []):
        if "no actions" not in note:
            warnings.append(note)
    startup = coord.get("startupWait") if coord.get("node") in state.live else None
    if isinstance(startup, dict) and startup.get("waitingFor"):
        warnings.append(startup_warning(startup, now))
    if failed_actions:
        warnings.append(f"{len(failed_actions)} failed action(s); `hactl cleanup` clears them")
    evs = []
    for e in list(events)[-200:]:
        try:
            evs.append(json.loads(e.value))
        except ValueError:
            continue
    return {
        "revision": state.revision,
        "time": now,
        "coordinator": {
            "node": coord.get("node") if coord.get("node") in state.live else None,
            "token": coord.get("token"),
            "converged": bool(coord.get("converged")),
            "pending": coord.get("pending", []),
            "inFlight": coord.get("inFlight", []),
            "revision": coord.get("revision"),
            "notes": coord.get("notes", []),
            "startupWait": startup if isinstance(startup, dict) else None,
        },
        "nodes": nodes,
        "resources": resources,
        "groups": planning.groups(state),
        "clones": {
            d["metadata"]["name"]: str((d.get("spec") or {}).get("resource") or "")
            for d in state.objects("clone")
        },
        "constraints": cli_constraints,
        "failedActions": failed_actions,
        "warnings": warnings,
        "events": evs,
        "fencing": dict(sorted(state.fencing.items())),
    }
