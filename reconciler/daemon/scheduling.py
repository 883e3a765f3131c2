"""The coordinator's planner with the full scheduler (``reconciler.scheduler``).

Builds the scheduler's input from the store's snapshot (desired objects as
models + the observed status), plans, and translates the transition graph into
the controller's steps and dispatchable actions: the same shape
:mod:`reconciler.daemon.planning` produces with the stand-in planner, so the
coordinator does not care which one runs (``planner:`` in hacd's config).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.agents.request import clone_meta
from reconciler.controller.failures import next_recheck
from reconciler.controller.fencing import choose_fencer
from reconciler.controller.simple_plan import PlannedAction, SimplePlan, params_digest
from reconciler.controller.steps import Step
from reconciler.daemon import keys, planning
from reconciler.daemon.planning import Planned, fence_devices, lifetime_end, observe
from reconciler.daemon.state import ClusterState, healths, observed_status
from reconciler.model import KINDS, ManifestSet
from reconciler.scheduler import input as si
from reconciler.scheduler.from_model import from_model, primitive
from reconciler.scheduler.plan import plan as schedule
from reconciler.statestore.etcd import Event

log = logging.getLogger("hacd.scheduling")

DISPATCHED = ("start", "stop", "monitor", "promote", "demote", "notify")
_INSTANCE = re.compile(r":\d+$")


# (kind, name, resourceVersion) -> the validated (frozen) model, from the previous pass
_models: dict[tuple[str, str, str], Any] = {}


def _model(
    kind: str,
    cls: Any,
    doc: dict[str, Any],
    seen: dict[tuple[str, str, str], Any],
    known: dict[tuple[str, str, str], Any],
) -> Any:
    meta = doc.get("metadata") or {}
    k = (kind, str(meta.get("name")), str(meta.get("resourceVersion")))
    m = known.get(k)
    if m is None:
        m = cls.model_validate(doc)
    seen[k] = m
    return m


def _manifests(
    state: ClusterState, now: float, stored: bool = False
) -> tuple[ManifestSet, list[float]]:
    """The stored objects as models, without Locations whose lifetime is over.

    ``stored``: ``state`` was read from the store, where (kind, name, resourceVersion)
    names one content, so the models of the previous call are reused (not for a
    predicted state such as ``hactl diff``'s, whose objects keep their live version)."""
    global _models
    seen: dict[tuple[str, str, str], Any] = {}
    if not stored:
        return _validated(state, now, seen, {})
    try:
        return _validated(state, now, seen, _models)
    finally:
        _models = seen


def _validated(
    state: ClusterState,
    now: float,
    seen: dict[tuple[str, str, str], Any],
    known: dict[tuple[str, str, str], Any],
) -> tuple[ManifestSet, list[float]]:
    objs = []
    ends: list[float] = []
    for kind, cls in KINDS.items():
        for doc in state.objects(kind):
            if kind == "Location":
                end = lifetime_end(doc)
                if end is not None and now >= end:
                    continue
                if end is not None:
                    ends.append(end)
            try:
                objs.append((_model(kind, cls, doc, seen, known), None))
            except Exception as e:  # stored objects were validated at apply time
                log.warning("skipping %s/%s: %s", kind, doc["metadata"].get("name"), e)
    return ManifestSet(objs), ends


def _with_digests(res: Iterable[si.Resource]) -> tuple[si.Resource, ...]:
    out: list[si.Resource] = []
    for r in res:
        if isinstance(r, si.Primitive):
            out.append(replace(r, params_digest=params_digest(r.params)))
        elif isinstance(r, si.Group):
            out.append(replace(r, members=tuple(_with_digests(r.members))))  # type: ignore[arg-type]
        else:
            child = _with_digests([r.child])[0]
            out.append(replace(r, child=child))  # type: ignore[arg-type]
    return tuple(out)


def _primitives(res: Iterable[si.Resource]) -> dict[str, si.Primitive]:
    out: dict[str, si.Primitive] = {}
    for r in res:
        if isinstance(r, si.Primitive):
            out[r.id] = r
        elif isinstance(r, si.Group):
            out.update(_primitives(r.members))
        else:
            out.update(_primitives([r.child]))
    return out


def _clone_int(meta: Mapping[str, str], names: tuple[str, ...], default: int) -> int:
    for n in names:
        if n in meta:
            try:
                return max(0, int(meta[n]))
            except ValueError:
                return default
    return default


def _clone_metas(inp: si.SchedulerInput) -> dict[str, dict[str, str]]:
    """Per primitive inside a clone: the ``CRM_meta_*`` Pacemaker passes to every operation
    of its instances (without ``clone``, the instance number)."""
    out: dict[str, dict[str, str]] = {}
    nodes = len(inp.nodes)
    for r in inp.resources:
        if not isinstance(r, si.Clone):
            continue
        meta = {**inp.options.rsc_defaults, **r.meta}
        common = clone_meta(
            clone=0,
            clone_max=_clone_int(meta, ("clone-max",), nodes),
            clone_node_max=_clone_int(meta, ("clone-node-max",), 1),
            notify=str(meta.get("notify", "")).lower() in ("true", "yes", "on", "1"),
            promotable=r.promotable,
            promoted_max=_clone_int(meta, ("promoted-max", "master-max"), 1),
            promoted_node_max=_clone_int(meta, ("promoted-node-max", "master-node-max"), 1),
            globally_unique=str(meta.get("globally-unique", "")).lower()
            in ("true", "yes", "on", "1"),
        )
        del common["clone"]
        for pid in _primitives([r.child]):
            out[pid] = common
    return out


def _meta(a: Any, clone_metas: Mapping[str, Mapping[str, str]], instance: str) -> dict[str, str]:
    """What the agent gets as ``OCF_RESKEY_CRM_meta_*`` for this action: the clone's
    meta for an instance (``name:N``), and the notification variables (a ``notify``
    action's type, operation and lists; the lists alone on the instances' start/stop)."""
    base, _, number = instance.rpartition(":")
    common = clone_metas.get(base) if number.isdigit() else None
    if common is None:
        return {}
    out = {**common, "clone": number}
    out.update({k: v for k, v in a.notify.items() if not k.startswith("notify_key_")})
    return out


def _agent(p: si.Primitive) -> str:
    return f"{p.cls}:{p.provider}:{p.type}" if p.provider else f"{p.cls}:{p.type}"


def _timeout(p: si.Primitive, task: str, interval_ms: int) -> int:
    for o in p.operations:
        if o.name == task and o.interval_ms == interval_ms and o.timeout_ms:
            return o.timeout_ms
    return 20000


def _expected(p: si.Primitive, task: str, interval_ms: int) -> int:
    if task != "monitor":
        return 0
    if interval_ms == 0:
        return 7
    for o in p.operations:
        if (
            o.name == "monitor"
            and o.interval_ms == interval_ms
            and (o.role or "")
            in (
                "Promoted",
                "Master",
            )
        ):
            return 8
    return 0


def plan_full(
    state: ClusterState,
    configured: Iterable[str],
    now: float,
    *,
    coordinator_node: str | None,
    fence_agent: str,
    fence_params: dict[str, str],
) -> Planned:
    hs = healths(state, configured)
    status = observed_status(state, configured, now, dc=coordinator_node)
    mset, lifetime_ends = _manifests(state, now, stored=True)
    inp = from_model(mset, status)
    inp = replace(inp, resources=_with_digests(inp.resources))
    if fence_agent and not any(
        isinstance(r, si.Primitive) and r.cls == "stonith" for r in inp.resources
    ):
        # the node's configured fence agent stands in for a FencingDevice manifest
        default = si.Primitive(
            id="hactl-config-fencing",
            cls="stonith",
            type=fence_agent.removeprefix("stonith:"),
            params=dict(sorted(fence_params.items())),
        )
        inp = replace(inp, resources=(*inp.resources, default))
    p = schedule(inp, int(now))
    prims = _primitives(inp.resources)
    clone_metas = _clone_metas(inp)
    metas: dict[str, dict[str, str]] = {}
    devices: Mapping[str, tuple[str, Mapping[str, str]]] = fence_devices(state, hs)
    by_idx = {a.id: a for a in p.actions}
    required = {a.id for a in p.required_actions()}
    # Level-triggered execution: a recurring monitor the plan marks optional (its start
    # is done) but that the node's history does not show running must still be started.
    for a in p.actions:
        if (
            a.task == "monitor"
            and a.interval_ms > 0
            and a.optional
            and a.runnable
            and a.node is not None
            and a.resource is not None
        ):
            st, running, _ = observe(state.histories.get(a.node, {}).get(a.resource))
            if st == "active" and a.interval_ms not in running:
                required.add(a.id)
    keys: dict[int, str] = {}
    seen: set[str] = set()
    for idx in sorted(required):
        k = by_idx[idx].key
        if k in seen:
            k = f"{k}#{idx}"
        seen.add(k)
        keys[idx] = k
    inputs: dict[int, list[str]] = {i: [] for i in required}
    for first, then in p.edges:
        if first in required and then in required:
            inputs[then].append(keys[first])
    actions: list[PlannedAction] = []
    notes: list[str] = []
    for idx in sorted(required):
        a = by_idx[idx]
        ins = tuple(sorted(set(inputs[idx])))
        if a.resource is None and a.task.startswith("stonith-") and a.node:
            fencer = choose_fencer(a.node, hs, coordinator_node)
            if fencer is None:
                notes.append(f"node {a.node} must be fenced but no node can run the fence action")
                continue
            agent, params = devices.get(a.node, (fence_agent, fence_params))
            actions.append(
                PlannedAction(
                    Step(keys[idx], None, fencer, "off", inputs=ins),
                    agent=agent,
                    params=dict(params),
                    timeout_ms=60000,
                    target=a.node,
                )
            )
            continue
        prim = prims.get(_INSTANCE.sub("", a.resource or ""))
        orphan = state.histories.get(a.node or "", {}).get(a.resource or "")
        if prim is None and a.task == "stop" and orphan is not None and orphan.agent:
            # no longer desired: stopped with the agent its history names (the node
            # agent supplies the parameters it was started with)
            actions.append(
                PlannedAction(
                    Step(keys[idx], a.resource, a.node, "stop", inputs=ins), agent=orphan.agent
                )
            )
            continue
        if (
            a.pseudo
            or prim is None
            or prim.cls == "stonith"  # devices are not run as resources; fencing uses them
            or a.task not in DISPATCHED
            or a.node is None
        ):
            actions.append(PlannedAction(Step(keys[idx], a.resource, a.node, a.task, True, ins)))
            continue
        actions.append(
            PlannedAction(
                Step(keys[idx], a.resource, a.node, a.task, inputs=ins),
                agent=_agent(prim),
                params=dict(prim.params),
                interval_ms=a.interval_ms,
                timeout_ms=_timeout(prim, a.task, a.interval_ms),
                expected_rc=_expected(prim, a.task, a.interval_ms),
            )
        )
        meta = _meta(a, clone_metas, a.resource or "")
        if meta:
            metas[keys[idx]] = meta
    fencing_targets = {a.target for a in actions if a.target}
    for n in sorted(state.node_attributes):
        if "fence-requested" not in state.node_attributes[n] or n in fencing_targets:
            continue
        fencer = choose_fencer(n, hs, coordinator_node)  # `hactl fence NODE`
        if fencer is not None:
            agent, params = devices.get(n, (fence_agent, fence_params))
            actions.append(
                PlannedAction(
                    Step(f"fence_{n}@{fencer}", None, fencer, "off"),
                    agent=agent,
                    params=dict(params),
                    timeout_ms=60000,
                    target=n,
                )
            )
    placement: dict[str, str | None] = {k: v.node for k, v in sorted(p.placements.items())}
    for f in p.fencing:
        notes.append(f"fencing {f.node}: {f.reason}")
    recheck = next_recheck(
        [float(p.recheck_at) if p.recheck_at is not None else None, *lifetime_ends], now
    )
    return Planned(SimplePlan(tuple(actions), placement, tuple(notes)), hs, recheck, {}, metas)


def early_probes(
    events: Iterable[Event], state: ClusterState, busy: Iterable[str]
) -> list[PlannedAction]:
    """Probes for Resources just created, to run while the pass that plans them is busy.

    A new primitive (not in a group or clone, not in maintenance) is probed on every live
    node without a history of it: the same steps (ids, agent, parameters, expected rc 7)
    the plan will order before its start, so the start still waits for every one of
    them. ``state`` is the last planned state; ``busy``: step ids in flight."""
    docs: list[dict[str, Any]] = []
    prefix = keys.desired_kind("Resource")
    for e in events:
        if e.key.startswith(keys.DESIRED) and e.key[len(keys.DESIRED) :].split("/")[0] in (
            "group",
            "clone",
            "cluster",
            "node",
        ):
            return []  # membership or maintenance may change with this batch: plan first
        if e.kind != "put" or not e.key.startswith(prefix):
            continue
        with contextlib.suppress(ValueError):
            doc = json.loads(e.value)
            if isinstance(doc, dict):
                docs.append(doc)
    if not docs or planning.cluster_spec(state).get("maintenanceMode") is True:
        return []
    members: set[str] = set()
    for g in state.objects("group"):
        members.update(str(m) for m in (g.get("spec") or {}).get("resources") or [])
    members.update(str((c.get("spec") or {}).get("resource")) for c in state.objects("clone"))
    in_flight = set(busy)
    out: list[PlannedAction] = []
    for doc in docs:
        try:
            res = KINDS["Resource"].model_validate(doc)
        except ValueError:
            continue
        spec = doc.get("spec") or {}
        if res.name in members or spec.get("maintenance") is True:
            continue
        prim = primitive(res)  # type: ignore[arg-type]
        if prim.cls == "stonith":
            continue
        for node in sorted(state.live):
            if state.live[node].get("held") or node not in state.live:
                continue
            if (state.node_attributes.get(node, {}).get("maintenance", "") in planning.TRUE) or (
                res.name in state.histories.get(node, {})
            ):
                continue
            sid = f"{res.name}_monitor_0@{node}"
            if sid in in_flight:
                continue
            out.append(
                PlannedAction(
                    Step(sid, res.name, node, "monitor"),
                    agent=_agent(prim),
                    params=dict(prim.params),
                    timeout_ms=_timeout(prim, "monitor", 0),
                    expected_rc=7,
                )
            )
    return out


def describe(plan: Any) -> str:  # pragma: no cover - debugging aid
    return "\n".join(a.step.id for a in plan.actions)


def transition_summary(state: ClusterState, now: float) -> str:
    """Pacemaker's Transition Summary lines for planning ``state`` (``hactl diff``)."""
    from reconciler.scheduler.summary import render

    nodes = sorted(set(state.live) | set(state.histories))
    status = observed_status(state, nodes, now)
    mset, _ = _manifests(state, now)
    inp = from_model(mset, status)
    inp = replace(inp, resources=_with_digests(inp.resources))
    return render(schedule(inp, int(now)))
