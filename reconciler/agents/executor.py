"""The node agent's executor: runs operations for one node, and its recurring monitors.

The daemon's contract (everything here is called from one asyncio event loop)::

    ex = Executor(NodeName("n1"), Path("/var/lib/hactl/n1"), SystemClock(), max_concurrency=4)
    await ex.start()                          # dirs, crm_attribute shims, attribute socket
    results = await ex.probe_all(requests)    # a probe per configured resource, at start
    r = await ex.run(OpRequest("web", AgentRef.parse("ocf:hactl:webserver"), "start",
                               params={"port": "24001", "root": "/srv"}))
    ex.start_monitor(OpRequest("web", ref, "monitor", params=..., interval_s=10))
    async for event in ex.events():           # MonitorEvent | AttributeUpdate
        ...
    await ex.close()

Guarantees:

* every operation runs in its own process group with a timeout (request → agent meta-data
  default for the action → 20 s); on timeout SIGTERM, then SIGKILL after ``grace_s``; the
  result says "timed out". :meth:`run` never raises for an agent's behaviour: missing,
  not executable, crashing, garbage output — all are :class:`OpResult` values.
* at most one operation per resource at a time, in arrival order; at most
  ``max_concurrency`` operations on the node at once.
* a recurring monitor runs at once and then every interval; only changes are reported,
  plus a confirmation every ``confirm_every`` unchanged results. ``stop`` cancels all of
  the resource's monitors, ``demote`` its promoted-role monitors (expected rc 8).
* a node attribute set by an agent (crm_attribute --promotion, attrd_updater ...) arrives
  as an :class:`AttributeUpdate` event (and through ``on_event``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.agents.attrd import AttributeServer, AttributeUpdate
from reconciler.agents.catalog import AgentCatalog, default_catalog
from reconciler.agents.environment import NodeEnvironment
from reconciler.agents.fence import run_fence
from reconciler.agents.outcome import OpContext, not_run
from reconciler.agents.request import OpRequest
from reconciler.agents.results import ExecStatus, OcfRc, OpResult
from reconciler.agents.scripts import run_lsb, run_ocf
from reconciler.agents.systemd import SystemdManager, run_systemd
from reconciler.base.clock import Clock
from reconciler.base.errors import AgentError
from reconciler.base.limits import DEFAULT_OP_TIMEOUT_S

log = logging.getLogger(__name__)

MAX_PENDING_PER_RESOURCE = 64
MAX_EVENTS_QUEUED = 10_000
METADATA_OP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """A recurring monitor's news: ``changed`` (first result or a different outcome),
    ``confirmed`` (periodic, unchanged) or ``cancelled`` (stopped by stop/demote/
    stop_monitor; ``result`` is then the last result, or None)."""

    kind: str
    resource: str
    interval_s: float
    result: OpResult | None


ExecutorEvent = MonitorEvent | AttributeUpdate


class Executor:
    """Runs agents for one node. See the module docstring for the contract."""

    def __init__(
        self,
        node: str,
        state_dir: Path,
        clock: Clock,
        *,
        max_concurrency: int = 4,
        node_uuid: str = "",
        command_prefix: tuple[str, ...] = (),
        catalog: AgentCatalog | None = None,
        systemd: SystemdManager | None = None,
        grace_s: float = 5.0,
        confirm_every: int = 10,
        rng: random.Random | None = None,
        on_event: Callable[[ExecutorEvent], None] | None = None,
        listen_attributes: bool = True,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.node = node
        self.env = NodeEnvironment(
            node=node,
            state_dir=Path(state_dir),
            node_uuid=node_uuid,
            command_prefix=tuple(command_prefix),
        )
        self.clock = clock
        self.catalog = catalog or default_catalog()
        # systemd as PID 1: drive the system manager unless told otherwise
        self._own_systemd = systemd is None and Path("/run/systemd/system").is_dir()
        if self._own_systemd:
            systemd = SystemdManager.system()
        self.systemd = systemd
        self.grace_s = grace_s
        self.confirm_every = max(1, confirm_every)
        self.rng = rng or random.Random(0)
        self._on_event = on_event
        self._slots = asyncio.Semaphore(max_concurrency)
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, int] = {}
        self._monitors: dict[tuple[str, str, float], asyncio.Task[None]] = {}
        self._monitor_reqs: dict[tuple[str, str, float], OpRequest] = {}
        self._events: asyncio.Queue[ExecutorEvent] = asyncio.Queue(MAX_EVENTS_QUEUED)
        self._call_id = 0
        self._closed = False
        self.attributes = AttributeServer(self.env.attrd_socket, self._attribute)
        self._listen = listen_attributes

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Create the node's directories and shims; listen for attribute updates."""
        await asyncio.to_thread(self.env.prepare)
        if self._listen:
            await self.attributes.start()

    async def close(self) -> None:
        """Cancel every monitor and stop listening. Running operations finish or are killed."""
        self._closed = True
        for key in sorted(self._monitors):
            self._cancel_monitor(key)
        tasks = list(self._monitors.values())
        self._monitors.clear()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._listen:
            await self.attributes.close()
        if self._own_systemd and self.systemd is not None:
            await self.systemd.close()

    # ----------------------------------------------------------- operations
    async def run(self, req: OpRequest) -> OpResult:
        """Run one operation (queued behind others on the same resource)."""
        if req.action == "stop":
            self.stop_monitor(req.resource)
        elif req.action == "demote":
            for key, mreq in sorted(self._monitor_reqs.items()):
                if key[0] == req.resource and (
                    mreq.expected_rc == OcfRc.RUNNING_PROMOTED
                    or (mreq.role or "").lower() in ("promoted", "master")
                ):
                    self._cancel_monitor(key)
        return await self._queued(req)

    async def probe_all(self, requests: Iterable[OpRequest]) -> list[OpResult]:
        """Probe (monitor, interval 0) every configured resource; results sorted by resource."""
        probes = [replace(r, action="monitor", interval_s=0.0, expected_rc=None) for r in requests]
        results = await asyncio.gather(*(self._queued(p) for p in probes))
        return sorted(results, key=lambda r: r.resource)

    async def _queued(self, req: OpRequest) -> OpResult:
        pending = self._pending.get(req.resource, 0)
        if pending >= MAX_PENDING_PER_RESOURCE:
            raise AgentError(
                f"{req.resource}: more than {MAX_PENDING_PER_RESOURCE} operations queued"
            )
        self._pending[req.resource] = pending + 1
        lock = self._locks.setdefault(req.resource, asyncio.Lock())
        try:
            async with lock, self._slots:
                return await self._execute(req)
        finally:
            self._pending[req.resource] -= 1
            if self._pending[req.resource] == 0:
                del self._pending[req.resource]
                if not lock.locked():
                    self._locks.pop(req.resource, None)

    async def _timeout_for(self, req: OpRequest) -> float:
        if req.timeout_s is not None:
            return req.timeout_s
        if req.action in ("meta-data", "metadata"):
            return METADATA_OP_TIMEOUT_S
        if req.agent.is_fence:
            own = req.params.get(f"pcmk_{req.action}_timeout")
            if own:
                from reconciler.agents.metadata import parse_duration

                with contextlib.suppress(ValueError):
                    return parse_duration(own)
        try:
            md = await asyncio.to_thread(self.catalog.metadata, req.agent)
        except AgentError:
            return DEFAULT_OP_TIMEOUT_S
        found = md.default_timeout(req.action, req.interval_s)
        return found if found else DEFAULT_OP_TIMEOUT_S

    async def _execute(self, req: OpRequest) -> OpResult:
        self._call_id += 1
        call_id = self._call_id
        started_at, t0 = self.clock.wall(), self.clock.monotonic()
        timeout_s = await self._timeout_for(req)
        pidfile = self.env.pids_dir / f"op-{call_id}"

        def record(pid: int) -> None:
            # "PID STARTTIME": what fence_hactl_local kills when it powers this node off
            with contextlib.suppress(OSError):
                pidfile.write_text(f"{pid} {_starttime(pid)}\n".replace(" None", ""))

        def ctx() -> OpContext:
            return OpContext(self.node, call_id, started_at, self.clock.monotonic() - t0)

        try:
            cls = req.agent.cls
            if cls == "service":
                cls = "lsb" if self.catalog.locate(req.agent) is not None else "systemd"
            if cls == "ocf":
                result, _ = await run_ocf(
                    self.env,
                    self.catalog,
                    req,
                    ctx=ctx(),
                    timeout_s=timeout_s,
                    grace_s=self.grace_s,
                    on_spawn=record,
                )
            elif cls == "lsb":
                result = await run_lsb(
                    self.env,
                    self.catalog,
                    req,
                    ctx=ctx(),
                    timeout_s=timeout_s,
                    grace_s=self.grace_s,
                    on_spawn=record,
                )
            elif cls == "stonith":
                result = await run_fence(
                    self.env,
                    self.catalog,
                    req,
                    ctx=ctx(),
                    timeout_s=timeout_s,
                    grace_s=self.grace_s,
                    rng=self.rng,
                    on_spawn=record,
                )
            elif cls == "systemd":
                result = await run_systemd(self.systemd, req, ctx(), timeout_s)
            else:
                result = not_run(
                    req, ctx(), ExecStatus.ERROR, OcfRc.ERR_ARGS, f"unknown agent class {cls!r}"
                )
        except AgentError as exc:
            result = not_run(req, ctx(), ExecStatus.ERROR, OcfRc.ERR_GENERIC, str(exc))
        finally:
            with contextlib.suppress(OSError):
                pidfile.unlink()
        return replace(
            result,
            started_at=started_at,
            duration_s=self.clock.monotonic() - t0,
            call_id=call_id,
            node=self.node,
        )

    # ------------------------------------------------------------- monitors
    def start_monitor(self, req: OpRequest) -> None:
        """Run ``req`` (interval > 0) now and then every ``req.interval_s``; replaces a
        monitor with the same (resource, action, interval)."""
        if req.interval_s <= 0:
            raise AgentError(f"{req.resource}: a recurring monitor needs an interval > 0")
        if self._closed:
            raise AgentError("the executor is closed")
        key = req.key()
        if key in self._monitors:
            self._cancel_monitor(key)
        self._monitor_reqs[key] = req
        self._monitors[key] = asyncio.create_task(self._monitor_loop(req), name=f"monitor {key}")

    def stop_monitor(self, resource: str, interval_s: float | None = None) -> None:
        """Cancel the resource's monitors (all of them, or the one with this interval)."""
        for key in sorted(self._monitors):
            if key[0] == resource and (interval_s is None or key[2] == interval_s):
                self._cancel_monitor(key)

    def monitors(self) -> list[OpRequest]:
        """The recurring monitors currently scheduled, sorted."""
        return [self._monitor_reqs[k] for k in sorted(self._monitor_reqs)]

    def _cancel_monitor(self, key: tuple[str, str, float]) -> None:
        task = self._monitors.pop(key, None)
        self._monitor_reqs.pop(key, None)
        if task is not None:
            task.cancel()

    async def _monitor_loop(self, req: OpRequest) -> None:
        last: OpResult | None = None
        unchanged = 0
        try:
            while True:
                result = await self._queued(req)
                if last is None or _outcome(result) != _outcome(last):
                    self._emit(MonitorEvent("changed", req.resource, req.interval_s, result))
                    unchanged = 0
                else:
                    unchanged += 1
                    if unchanged >= self.confirm_every:
                        self._emit(MonitorEvent("confirmed", req.resource, req.interval_s, result))
                        unchanged = 0
                last = result
                await asyncio.sleep(req.interval_s)
        except asyncio.CancelledError:
            self._emit(MonitorEvent("cancelled", req.resource, req.interval_s, last))
            raise

    # --------------------------------------------------------------- events
    def _attribute(self, update: AttributeUpdate) -> None:
        self._emit(update)

    def _emit(self, event: ExecutorEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("executor event callback failed")
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:  # nobody reads events(): keep the newest
            with contextlib.suppress(asyncio.QueueEmpty):
                self._events.get_nowait()
            self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[ExecutorEvent]:
        """Monitor changes/confirmations/cancellations and attribute updates, in order."""
        while True:
            yield await self._events.get()

    async def next_event(self, timeout_s: float) -> ExecutorEvent | None:
        """The next event, or None after ``timeout_s`` (handy for tests and polling)."""
        try:
            return await asyncio.wait_for(self._events.get(), timeout_s)
        except TimeoutError:
            return None


def _starttime(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), to tell a recycled pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _outcome(r: OpResult) -> tuple[object, ...]:
    return (r.status, r.rc, r.ok, r.observed)
