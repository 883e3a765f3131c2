"""Adapter: the agents package's :class:`Executor` as the node agent's :class:`Runner`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from reconciler.agents.attrd import AttributeUpdate
from reconciler.agents.executor import Executor, ExecutorEvent, MonitorEvent
from reconciler.agents.request import AgentRef, OpRequest
from reconciler.agents.results import ExecStatus, OpResult
from reconciler.base.errors import AgentError
from reconciler.controller.dispatch import Action, Outcome
from reconciler.system.clock import SystemClock

log = logging.getLogger("hacd.runner")

MonitorCallback = Callable[[Outcome], Coroutine[Any, Any, None]]

_STATUS = {
    ExecStatus.DONE: 0,
    ExecStatus.CANCELLED: 1,
    ExecStatus.TIMED_OUT: 2,
    ExecStatus.ERROR: 4,
    ExecStatus.NOT_INSTALLED: 5,
    ExecStatus.NOT_EXECUTABLE: 4,
}


def outcome_of(r: OpResult) -> Outcome:
    out = "\n".join(x for x in (r.stderr_tail, r.stdout_tail) if x)
    return Outcome(
        rc=r.rc,
        op_status=_STATUS.get(r.status, 4),
        output=out[-2000:],
        duration_s=r.duration_s,
        reason=r.reason,
    )


def request_of(a: Action) -> OpRequest:
    return OpRequest(
        resource=a.resource,
        agent=AgentRef.parse(a.agent),
        action=a.operation,
        params=dict(a.params),
        interval_s=a.interval_ms / 1000.0,
        timeout_s=a.timeout_ms / 1000.0 if a.timeout_ms else None,
        meta=dict(a.meta),
        expected_rc=a.expected_rc if a.interval_ms > 0 else None,
        target=a.target or None,
    )


class ExecutorRunner:
    def __init__(
        self,
        node: str,
        node_dir: Path,
        on_attribute: Callable[[AttributeUpdate], None] | None = None,
    ) -> None:
        self._callbacks: dict[
            tuple[str, float], Callable[[Outcome], Coroutine[Any, Any, None]]
        ] = {}
        self._on_attribute = on_attribute
        self._tasks: set[asyncio.Task[None]] = set()
        self.executor = Executor(
            node, node_dir, SystemClock(), max_concurrency=8, on_event=self._event
        )

    async def start(self) -> None:
        await self.executor.start()

    def _event(self, ev: ExecutorEvent) -> None:
        if isinstance(ev, AttributeUpdate):
            if self._on_attribute is not None:
                self._on_attribute(ev)
            return
        if not isinstance(ev, MonitorEvent) or ev.kind != "changed" or ev.result is None:
            return
        cb = self._callbacks.get((ev.resource, ev.interval_s))
        if cb is None:
            return
        task = asyncio.get_running_loop().create_task(cb(outcome_of(ev.result)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, action: Action) -> Outcome:
        try:
            req = request_of(action)
        except AgentError as e:
            return Outcome(rc=2, op_status=7, reason=str(e))
        return outcome_of(await self.executor.run(req))

    async def start_recurring(
        self, action: Action, on_result: Callable[[Outcome], Coroutine[Any, Any, None]]
    ) -> None:
        req = request_of(action)
        self._callbacks[(action.resource, req.interval_s)] = on_result
        self.executor.start_monitor(req)

    async def cancel_recurring(self, resource: str) -> None:
        for k in [k for k in self._callbacks if k[0] == resource]:
            del self._callbacks[k]
        self.executor.stop_monitor(resource)

    async def close(self) -> None:
        self._callbacks.clear()
        await self.executor.close()
