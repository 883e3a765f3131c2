"""The coordinator: level-triggered reconcile loop, run only while this node holds the election.

Each pass reads the whole state at one revision, plans, asks the controller
which actions may go now and dispatches them to the node agents with the
fencing token. Results are recorded by the agents; the store change wakes the
loop, which plans again. Fencing runs the FencingDevices (topology levels in
order, see :mod:`reconciler.controller.fence_plan`) through a healthy node's
agent; every attempt is recorded here, guarded by the election key (a deposed
coordinator's write fails). With fencing disabled a lost node's resources are
recovered only once its lease has provably expired (:mod:`.fencing_wait`). A recheck is scheduled at
the next failure-timeout or lifetime expiry. Cancelling the task stops all
coordinator work at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.base.errors import StoreError
from reconciler.controller import fence_plan
from reconciler.controller.decide import decide
from reconciler.controller.dispatch import Action
from reconciler.controller.fencing import Health
from reconciler.controller.retry import RetryBook
from reconciler.controller.simple_plan import PlannedAction
from reconciler.controller.steps import InFlight
from reconciler.daemon import keys, planning
from reconciler.daemon.config import NodeConfig
from reconciler.daemon.events import EventLog
from reconciler.daemon.fencing_run import HistorySeq, run_plan
from reconciler.daemon.fencing_wait import EarlyLoss, LeaseWatch
from reconciler.daemon.graph_run import RunningGraph
from reconciler.daemon.startup_wait import DEFAULT_WAIT_S, MARKER, StartupGate
from reconciler.daemon.state import ClusterState, active_nodes, healths, read
from reconciler.statestore.etcd import Cmp, Event, Kv, Put
from reconciler.transport.agent_api import AgentClient

log = logging.getLogger("hacd.coordinator")

IDLE_RECHECK_S = 15.0
IN_FLIGHT_REPORT_S = 0.25
DEFAULT_LEASE_TTL = float(NodeConfig.model_fields["node_timeout"].default)


@dataclass(slots=True)
class Progress:
    in_flight: dict[str, InFlight] = field(default_factory=dict)
    retries: RetryBook = field(default_factory=RetryBook)
    last_report: str = ""


class Coordinator:
    def __init__(
        self,
        kv: Kv,
        *,
        node: str,
        token: int,
        configured: list[str],
        fence_agent: str,
        fence_params: dict[str, str],
        events: EventLog,
        planner: str = "simple",
        lease_ttl: float | None = None,
        lease_margin: float | None = None,
        rng: random.Random | None = None,
        agents: AgentClient | None = None,
    ) -> None:
        self.planner = planner
        self.kv = kv
        self.node = node
        self.token = token
        self.configured = configured
        self.fence_agent = fence_agent
        self.fence_params = fence_params
        self.events = events.guarded_by(token)  # a deposed coordinator writes no event
        self.agents = agents if agents is not None else AgentClient()
        self.wake = asyncio.Event()
        self.progress = Progress()
        self.deposed = False
        self._tasks: set[asyncio.Task[None]] = set()
        ttl = DEFAULT_LEASE_TTL if lease_ttl is None else lease_ttl
        margin = max(1.0, ttl / 2) if lease_margin is None else lease_margin
        self.leases = LeaseWatch(ttl, margin)
        self.rng = rng if rng is not None else random.Random(token)  # delays: seeded
        self.fence_seq = HistorySeq()
        self.fence_notes: dict[str, str] = {}  # node -> why it is still not fenced
        self.held_notes: list[str] = []
        self.early = EarlyLoss(self.agents, self.wake.set, node)  # refused agent port: fence now
        self.graph = RunningGraph()  # the transition being executed (see .graph_run)
        self.startup = StartupGate(configured, node)  # whole-cluster start: wait for the nodes

    async def run(self) -> None:
        log.info("coordinator on %s with token %d", self.node, self.token)
        await self.events.emit(
            "Coordinator", self.node, f"{self.node} coordinates (token {self.token})"
        )
        state = await read(self.kv)
        watcher = asyncio.create_task(self._watch(state.revision + 1))
        try:
            while not self.deposed:
                self.wake.clear()
                try:
                    self.graph.passes += 1
                    t0 = time.perf_counter()
                    state = await read(self.kv)
                    t1 = time.perf_counter()
                    timeout = await self.reconcile(state)
                    log.debug(
                        "pass %d at revision %d: read %.1f ms, plan and act %.1f ms",
                        self.graph.passes,
                        state.revision,
                        (t1 - t0) * 1000,
                        (time.perf_counter() - t1) * 1000,
                    )
                except StoreError as e:
                    log.warning("reconcile: store: %s", e)
                    timeout = 0.5
                if self.deposed:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout)
        finally:
            watcher.cancel()
            for t in list(self._tasks):
                t.cancel()
            with contextlib.suppress(Exception):
                await self.agents.close()

    async def _watch(self, start: int) -> None:
        while True:
            try:
                async for evs in self.kv.watch(keys.ROOT, start):
                    relevant = [
                        e
                        for e in evs
                        if e.key not in (keys.COORDINATOR, MARKER)
                        and not self.graph.own_record(e.key)
                    ]
                    start = evs[-1].mod_revision + 1
                    if relevant:  # the graph stops here (Pacemaker's abort); plan again
                        self.graph.abort()
                        self._probe_early(relevant)
                        self.wake.set()
            except StoreError as e:
                log.debug("watch: %s; restarting", e)
                self.wake.set()
                await asyncio.sleep(0.2)
                with contextlib.suppress(StoreError):
                    _, start = await self.kv.range(keys.ELECTION)

    async def reconcile(self, state: ClusterState) -> float:
        """One pass; returns how long to sleep at most before the next one."""
        if state.election is None or state.election.create_revision != self.token:
            log.warning("election key lost: stepping down")
            self.deposed = True
            return 0
        now = time.time()
        news = self._observe_startup(state, now)
        fresh = state
        stale = self.startup.stale_nodes(state.live)  # keys left from before a cluster start
        if stale:  # their nodes are down, whatever the keys say
            fresh = replace(state, live={n: v for n, v in state.live.items() if n not in stale})
        planning_state, held = self._hold_lost_nodes(self.early.apply(fresh))
        planned = self._plan(planning_state, now)
        by_id = {a.step.id: a for a in planned.plan.actions}
        self.startup.hold(planned.plan.actions, lambda rsc: active_nodes(state, rsc))
        timeout = await self._act(state, planned, by_id, now)
        await self._publish_startup(state, news)  # after the dispatch: it delays nothing
        waits = [timeout, *(max(0.05, left) for left in held.values())]
        if self.startup.wait is not None:  # plan again when the startup wait ends
            waits.append(max(0.05, self.startup.wait.until - now))
        return min(waits)

    def _observe_startup(self, state: ClusterState, now: float) -> list[tuple[str, str, str]]:
        """Whole-cluster start (.startup_wait): update the wait; the events to emit."""
        wait_s = planning.seconds(planning.cluster_spec(state).get("startupWait"), DEFAULT_WAIT_S)
        cluster = [d["metadata"]["name"] for d in state.objects("cluster")] or ["cluster"]
        witnesses = [
            d["metadata"]["name"]
            for d in state.objects("node")
            if (d.get("spec") or {}).get("role") == "witness"
        ]
        return self.startup.observe(
            state.startup,
            state.live,
            state.fencing,
            wait_s or 0.0,
            now,
            about=cluster[0],
            witnesses=witnesses,
            stale_ttl=2 * self.leases.lease_ttl + 2.0,
        )

    async def _publish_startup(
        self, state: ClusterState, events: list[tuple[str, str, str]]
    ) -> None:
        """Whole-cluster start (.startup_wait): the wait's events, and its marker."""
        for kind, obj, message in events:
            log.log(logging.WARNING if kind == "Warning" else logging.INFO, "%s", message)
            await self.events.emit(kind, obj, message)
        doc = self.startup.marker(state.startup, state.live, self.token)
        if doc is not None:
            with contextlib.suppress(StoreError):
                await self.kv.txn(
                    [Cmp(keys.ELECTION, "create", "==", self.token)],
                    [Put(MARKER, json.dumps(doc, sort_keys=True).encode())],
                )

    def _hold_lost_nodes(self, state: ClusterState) -> tuple[ClusterState, dict[str, float]]:
        """With fencing disabled: lost nodes inside their lease wait count as present."""
        hs = healths(state, self.configured)
        self.leases.observe(state.live, hs)
        for n in [n for n in self.fence_notes if hs.get(n) is not Health.UNCLEAN]:
            del self.fence_notes[n]
        self.held_notes = []
        if planning.cluster_spec(state).get("fencingEnabled", True) is not False:
            return state, {}
        lost = [n for n, h in hs.items() if h is Health.UNCLEAN]
        held = dict(self.leases.waiting(lost))
        self.held_notes = [
            f"node {n} is lost and fencing is disabled: its resources are recovered once "
            f"its lease has expired ({left:.1f}s)"
            for n, left in sorted(held.items())
        ]
        if not lost:
            return state, held
        live = dict(state.live)
        fencing = dict(state.fencing)
        histories = dict(state.histories)
        for n in lost:
            if n in held:  # still inside the wait: as if present, nothing moves
                live[n] = {"address": "", "held": True}
            else:  # its lease provably expired and its agent stopped everything: clean
                fencing[n] = {"ok": True, "at": time.time(), "by": "lease-expiry"}
                histories.pop(n, None)
        return replace(state, live=live, fencing=fencing, histories=histories), held

    def _plan(self, state: ClusterState, now: float) -> planning.Planned:
        if self.planner == "scheduler":
            from reconciler.daemon.scheduling import plan_full

            try:
                return plan_full(
                    state,
                    self.configured,
                    now,
                    coordinator_node=self.node,
                    fence_agent=self.fence_agent,
                    fence_params=self.fence_params,
                )
            except Exception:
                log.exception(
                    "the scheduler failed on this state; planning with the simple planner"
                )
        return planning.plan(
            state,
            self.configured,
            now,
            coordinator_node=self.node,
            fence_agent=self.fence_agent,
            fence_params=self.fence_params,
        )

    async def _act(
        self,
        state: ClusterState,
        planned: planning.Planned,
        by_id: dict[str, PlannedAction],
        now: float,
    ) -> float:
        steps = self.graph.install(planned, by_id, state)
        if steps is None:  # planned from a state read before a result came back
            self.wake.set()
            return 0.05
        d = decide(steps, self.progress.in_flight, now, self.progress.retries)
        self._launch(state, [by_id[sid] for sid in d.dispatch], now)
        await self._report(state, planned, d.converged, d.aborted)
        timeout = IDLE_RECHECK_S
        for deadline in (planned.recheck_at, d.retry_at):
            if deadline is not None:
                timeout = min(timeout, max(0.05, deadline - now))
        return timeout

    def _launch(self, state: ClusterState, actions: Iterable[PlannedAction], now: float) -> None:
        """Dispatch these steps of the running graph (each to its node's agent), but not
        those the startup wait holds back."""
        for pa in actions:
            sid = pa.step.id
            if sid in self.startup.held:
                continue
            node = pa.step.node or ""
            address = self.graph.addresses.get(node)
            if not address:
                continue
            self.progress.retries = self.progress.retries.record(sid, now)
            self.progress.in_flight[sid] = InFlight(sid, pa.step.resource, pa.step.node, now)
            if pa.target:
                t = asyncio.create_task(self._fence(state, pa, node, address))
            else:
                self.graph.expect_record(pa)
                meta = self.graph.meta.get(sid, {})
                t = asyncio.create_task(self._dispatch(state, pa, address, meta))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    def _continue(self, state: ClusterState) -> None:
        """An action ended as expected: run what the graph has ready now, without a re-plan
        (Pacemaker's controller runs the whole transition graph the same way). A plan from
        the next pass replaces the graph; any unexpected result wakes that pass instead."""
        now = time.time()
        steps = None if self.deposed else self.graph.remaining()
        if steps is None:
            self.wake.set()
            return
        d = decide(steps, self.progress.in_flight, now, self.progress.retries)
        if d.aborted:
            self.wake.set()
            return
        graph_state = self.graph.state or state
        self._launch(graph_state, [self.graph.by_id[sid] for sid in d.dispatch], now)
        if not self.progress.in_flight:  # the graph is done: plan again to confirm
            self.wake.set()
        elif d.dispatch:  # `hactl status` shows what is in flight
            t = asyncio.create_task(self._report_in_flight())
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _report_in_flight(self) -> None:
        """The last pass's report with the actions in flight now, if some still run after
        IN_FLIGHT_REPORT_S (a short graph ends first, and the pass that follows reports)."""
        await asyncio.sleep(IN_FLIGHT_REPORT_S)
        if not self.progress.last_report or not self.progress.in_flight:
            return
        report = json.loads(self.progress.last_report)
        report["inFlight"] = sorted(self.progress.in_flight)
        report["converged"] = bool(report.get("converged")) and not self.progress.in_flight
        await self._write_report(report)

    def _probe_early(self, events: list[Event]) -> None:
        """New Resources are probed while the pass that plans them runs (the plan has the
        same probe steps, the start waits for all of them; see scheduling.early_probes)."""
        if self.planner != "scheduler" or self.graph.state is None:
            return
        from reconciler.daemon.scheduling import early_probes

        try:
            probes = early_probes(events, self.graph.state, self.progress.in_flight)
        except Exception:
            log.exception("early probes")
            return
        self._launch(self.graph.state, probes, time.time())

    async def _dispatch(
        self,
        state: ClusterState,
        pa: PlannedAction,
        address: str,
        meta: Mapping[str, str],
    ) -> None:
        step = pa.step
        action = Action(
            token=self.token,
            action_id=step.id,
            resource=step.resource or "",
            operation=step.operation,
            agent=pa.agent,
            interval_ms=pa.interval_ms,
            timeout_ms=pa.timeout_ms,
            params=pa.params,
            meta=meta,
            expected_rc=pa.expected_rc,
            target=pa.target,
            coordinator=self.node,
        )
        log.info("dispatch %s to %s", step.id, address)
        try:
            outcome = await self.agents.execute(address, action, pa.timeout_ms / 1000 + 10)
            self.progress.in_flight.pop(step.id, None)
            expected = outcome.op_status == 0 and outcome.rc == pa.expected_rc
            if not outcome.refused and (expected or step.operation == "notify"):
                # a failed notification is reported, not retried (Pacemaker records none)
                self.graph.completed(step.id)
                if expected:  # done as asked: a later need for it is new, no back-off
                    self.progress.retries = self.progress.retries.forget(step.id)
                self._continue(state)
            else:
                self.graph.unexpected(pa)
                self.wake.set()
            if outcome.refused and "stale fencing token" in outcome.reason:
                log.error("deposed: %s", outcome.reason)
                self.deposed = True
            elif step.operation in ("start", "stop") or not expected:
                what = f"{step.operation} {step.resource} on {step.node}"
                if outcome.refused:
                    await self.events.emit(
                        "Warning", step.resource or "", f"{what}: {outcome.reason}"
                    )
                elif outcome.rc == pa.expected_rc and outcome.op_status == 0:
                    await self.events.emit("Normal", step.resource or "", f"{what}: ok")
                else:
                    await self.events.emit(
                        "Warning",
                        step.resource or "",
                        f"{what}: rc={outcome.rc} {outcome.reason}".strip(),
                    )
        finally:
            if self.progress.in_flight.pop(step.id, None) is not None:  # failed to dispatch
                self.graph.unexpected(pa)
                self.wake.set()

    def fence_plan(self, state: ClusterState, target: str) -> fence_plan.FencePlan:
        """The devices that can fence ``target``, level by level, from the desired objects.

        Without any FencingDevice the node configuration's agent stands in as the
        one device (the local cluster's fence_hactl_local)."""
        devices = [fence_plan.device_from_doc(d) for d in state.objects("fencingdevice")]
        if not devices and self.fence_agent:
            devices = [fence_plan.config_device(self.fence_agent, self.fence_params)]
        topologies = [fence_plan.topology_from_doc(d) for d in state.objects("fencingtopology")]
        attrs = dict(state.node_attributes.get(target, {}))
        attrs.update(state.attributes.get(target, {}))
        cspec = planning.cluster_spec(state)
        timeout = planning.seconds(cspec.get("fencingTimeout"), 60.0) or 60.0
        return fence_plan.plan_fencing(
            target,
            devices,
            topologies,
            attrs,
            rng=self.rng,
            default_timeout_ms=int(timeout * 1000),
            cluster_action=cspec.get("fencingAction"),  # off | reboot (stonith-action)
        )

    async def _fence(
        self, state: ClusterState, pa: PlannedAction, executor: str, address: str
    ) -> None:
        target = pa.target
        try:
            plan = self.fence_plan(state, target)
            res = await run_plan(
                self.kv,
                self.agents.execute,
                plan,
                executor=executor,
                address=address,
                token=self.token,
                coordinator=self.node,
                seq=self.fence_seq,
                cause=self.early.cause(target),
            )
            if res.deposed:
                log.error("deposed while fencing %s", target)
                self.deposed = True
                return
            if res.ok:
                self.fence_notes.pop(target, None)
                # the next loss of this node is a new story: no back-off from this one
                self.progress.retries = self.progress.retries.forget(pa.step.id)
                cause = f": {self.early.cause(target)}" if self.early.cause(target) else ""
                await self.events.emit(
                    "Normal", target, f"fenced {target} via {executor} ({res.device}){cause}"
                )
                return
            why = (
                f"fencing failed with {', '.join(res.failed)}"
                if res.failed
                else "no FencingDevice can fence it"
            )
            self.fence_notes[target] = (
                f"node {target} is not fenced: {why}; its resources stay blocked until a device "
                f"succeeds or `hactl fence confirm {target}` declares it off"
            )
            await self.events.emit("Warning", target, f"fencing {target}: {why}")
        except StoreError as e:
            log.warning("fencing %s: store: %s", target, e)
        finally:
            self.progress.in_flight.pop(pa.step.id, None)
            self.wake.set()

    async def _report(
        self, state: ClusterState, planned: planning.Planned, converged: bool, aborted: bool
    ) -> None:
        report: dict[str, Any] = {
            "node": self.node,
            "token": self.token,
            "converged": converged and not self.progress.in_flight,
            "aborted": aborted,
            "pending": sorted(a.step.id for a in planned.plan.actions),
            "inFlight": sorted(self.progress.in_flight),
            "notes": [
                *planned.plan.explanations,
                *self.held_notes,
                *(self.fence_notes[n] for n in sorted(self.fence_notes)),
            ],
            "placement": dict(sorted(planned.plan.placement.items())),
            "startupWait": self.startup.report(),
            "health": {n: str(h) for n, h in sorted(planned.healths.items())},
            "revision": state.revision,
        }
        await self._write_report(report)

    async def _write_report(self, report: dict[str, Any]) -> None:
        text = json.dumps(report, sort_keys=True)
        if text == self.progress.last_report:
            return
        self.progress.last_report = text
        with contextlib.suppress(StoreError):
            await self.kv.txn(
                [Cmp(keys.ELECTION, "create", "==", self.token)],
                [Put(keys.COORDINATOR, text.encode())],
            )
