"""The coordinator: level-triggered reconcile loop, run only while this node holds the election.

Each pass reads the whole state at one revision, plans, asks the controller
which actions may go now and dispatches them to the node agents with the
fencing token. Results are recorded by the agents; the store change wakes the
loop, which plans again. Fencing results are recorded here, guarded by the
election key (a deposed coordinator's write fails). A recheck is scheduled at
the next failure-timeout or lifetime expiry. Cancelling the task stops all
coordinator work at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from reconciler.base.errors import StoreError
from reconciler.controller.decide import decide
from reconciler.controller.dispatch import Action, Outcome
from reconciler.controller.retry import RetryBook
from reconciler.controller.simple_plan import PlannedAction
from reconciler.controller.steps import InFlight
from reconciler.daemon import keys, planning
from reconciler.daemon.events import EventLog
from reconciler.daemon.kvport import Cmp, Delete, Kv, Put
from reconciler.daemon.state import ClusterState, live_addresses, read
from reconciler.transport.agent_api import AgentClient

log = logging.getLogger("hacd.coordinator")

IDLE_RECHECK_S = 15.0


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
    ) -> None:
        self.planner = planner
        self.kv = kv
        self.node = node
        self.token = token
        self.configured = configured
        self.fence_agent = fence_agent
        self.fence_params = fence_params
        self.events = events
        self.agents = AgentClient()
        self.wake = asyncio.Event()
        self.progress = Progress()
        self.deposed = False
        self._tasks: set[asyncio.Task[None]] = set()

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
                    state = await read(self.kv)
                    timeout = await self.reconcile(state)
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
                    relevant = [e for e in evs if e.key != keys.COORDINATOR]
                    start = evs[-1].mod_revision + 1
                    if relevant:
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
        planned = self._plan(state, now)
        by_id = {a.step.id: a for a in planned.plan.actions}
        return await self._act(state, planned, by_id, now)

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
        d = decide(planned.plan.steps(), self.progress.in_flight, now, self.progress.retries)
        addresses = live_addresses(state)
        for sid in d.dispatch:
            pa = by_id[sid]
            node = pa.step.node or ""
            address = addresses.get(node)
            if not address:
                continue
            self.progress.retries = self.progress.retries.record(sid, now)
            self.progress.in_flight[sid] = InFlight(sid, pa.step.resource, pa.step.node, now)
            t = asyncio.create_task(self._dispatch(pa, address))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
        await self._report(state, planned, d.converged, d.aborted)
        timeout = IDLE_RECHECK_S
        for deadline in (planned.recheck_at, d.retry_at):
            if deadline is not None:
                timeout = min(timeout, max(0.05, deadline - now))
        return timeout

    async def _dispatch(self, pa: PlannedAction, address: str) -> None:
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
            expected_rc=pa.expected_rc,
            target=pa.target,
            coordinator=self.node,
        )
        log.info("dispatch %s to %s", step.id, address)
        try:
            outcome = await self.agents.execute(address, action, pa.timeout_ms / 1000 + 10)
            if outcome.refused and "stale fencing token" in outcome.reason:
                log.error("deposed: %s", outcome.reason)
                self.deposed = True
            elif pa.target:
                await self._record_fencing(pa, outcome)
            elif step.operation in ("start", "stop") or outcome.rc != pa.expected_rc:
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
            self.progress.in_flight.pop(step.id, None)
            self.wake.set()

    async def _record_fencing(self, pa: PlannedAction, o: Outcome) -> None:
        ok = o.rc == 0 and o.op_status == 0 and not o.refused
        record = {
            "at": time.time(),
            "by": pa.step.node,
            "device": pa.agent,
            "rc": o.rc,
            "ok": ok,
            "reason": o.reason or o.output[-300:],
        }
        ops: list[Put | Delete] = [
            Put(
                keys.fencing_history(pa.target, int(time.time() * 1000)),
                json.dumps(record).encode(),
            )
        ]
        if ok:
            ops += [
                Put(keys.fencing(pa.target), json.dumps(record).encode()),
                Delete(keys.observed_node(pa.target), prefix=True),
                Delete(keys.live(pa.target)),
                Delete(keys.node_attribute(pa.target, "fence-requested")),
            ]
        done, _ = await self.kv.txn([Cmp(keys.ELECTION, "create", "==", self.token)], ops)
        if not done:
            self.deposed = True
            return
        msg = (
            f"fenced {pa.target} via {pa.step.node}"
            if ok
            else f"fencing {pa.target} failed: {record['reason']}"
        )
        await self.events.emit("Normal" if ok else "Warning", pa.target, msg)

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
            "notes": list(planned.plan.explanations),
            "placement": dict(sorted(planned.plan.placement.items())),
            "health": {n: str(h) for n, h in sorted(planned.healths.items())},
            "revision": state.revision,
        }
        text = json.dumps(report, sort_keys=True)
        if text == self.progress.last_report:
            return
        self.progress.last_report = text
        with contextlib.suppress(StoreError):
            await self.kv.txn(
                [Cmp(keys.ELECTION, "create", "==", self.token)],
                [Put(keys.COORDINATOR, text.encode())],
            )
