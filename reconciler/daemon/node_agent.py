"""The node agent inside hacd: liveness, fencing-token checks, running actions, recording results.

Only this node's agent writes this node's observed state (operation history,
failcounts, transient attributes), always by compare-and-swap so a concurrent
``hactl cleanup`` is never undone. Every action carries the coordinator's
fencing token; a token older than the highest seen is refused and nothing runs.
On start the agent forgets what it knew (a fresh process knows nothing about
what runs here): it clears its observed state so the coordinator probes
everything before acting, exactly as Pacemaker reprobes a node that joins.

No-quorum policy (the self-fencing guarantee): the store starts a lease's
countdown when it handles a renewal, which is after the agent sent it. So the
lease cannot expire before ``sent + nodeTimeout`` on the agent's monotonic
clock, where ``sent`` is the send time of the last renewal that succeeded. If
no renewal has succeeded by ``sent + nodeTimeout - leaseMargin`` the agent stops
taking work and applies the Cluster's ``noQuorumPolicy`` to what it knows runs
here (its own record, not the store, which it cannot reach): ``stop`` stops
every resource, ``demote`` demotes promoted ones and stops the rest, ``fence``
stops everything and exits the process, ``freeze`` and ``ignore`` leave them
running. Then it rejoins with a fresh lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, Protocol

from reconciler.base.errors import StoreError
from reconciler.controller.dispatch import Action, Outcome
from reconciler.controller.failures import INFINITY_FAILS, failcount_after
from reconciler.controller.simple_plan import params_digest
from reconciler.daemon import history, keys
from reconciler.model.status import Failcount, OperationRecord, ResourceHistory
from reconciler.statestore.etcd import Cmp, Delete, Kv, Put

log = logging.getLogger("hacd.agent")

NO_QUORUM_POLICIES = ("stop", "freeze", "ignore", "demote", "fence")
FENCE_EXIT_CODE = 75  # hacd exits with this after noQuorumPolicy fence stopped everything


class Runner(Protocol):
    """Runs agents on this node (the agents package's executor behind an adapter)."""

    async def run(self, action: Action) -> Outcome: ...

    async def start_recurring(
        self, action: Action, on_result: Callable[[Outcome], Coroutine[Any, Any, None]]
    ) -> None: ...

    async def cancel_recurring(self, resource: str) -> None: ...

    async def close(self) -> None: ...


class NodeAgent:
    def __init__(
        self,
        kv: Kv,
        *,
        node: str,
        address: str,
        runner: Runner,
        node_timeout: float,
        heartbeat: float,
        on_lease_lost: Callable[[], None] | None = None,
        lease_margin: float = 0.25,
        exit_process: Callable[[int], None] = os._exit,
    ) -> None:
        self.kv = kv
        self.node = node
        self.address = address
        self.runner = runner
        self.node_timeout = node_timeout
        self.heartbeat = heartbeat
        self.lease = 0
        self.highest_token = 0
        self._call_id = int(time.time() * 1000) % 1_000_000_000
        self._locks: dict[str, asyncio.Lock] = {}
        self._shutting_down = False
        self._monitors: dict[tuple[str, int], int] = {}  # (rsc, interval) -> last rc
        self._on_lease_lost = on_lease_lost
        self.lease_ok = asyncio.Event()
        self._params: dict[str, dict[str, str]] = {}
        # history key -> (mod revision, history) as this agent last wrote it
        self._histories: dict[str, tuple[int, ResourceHistory]] = {}
        # what this process knows runs here (for noQuorumPolicy without the store):
        # resource -> (agent, params), in start order; and the promoted ones
        self._active: dict[str, tuple[str, dict[str, str]]] = {}
        self._record_attempts = 20  # 1 once the store is known gone at shutdown
        self._promoted: set[str] = set()
        self.lease_margin = min(lease_margin, node_timeout / 2)
        self.no_quorum_policy = "stop"
        self._renewed_at = time.monotonic()  # send time of the last successful renewal
        self._exit_process = exit_process
        self.policy_applied: list[tuple[float, str]] = []  # (monotonic, policy) for tests/logs

    # ------------------------------------------------------------------ life cycle
    async def join(self) -> None:
        """Clear this node's observed state and fencing record, then announce liveness."""
        floor = await self.kv.get(keys.ELECTION)
        if floor is not None:
            self.highest_token = floor.create_revision
        await self._read_policy()
        old = self.lease
        if old:  # a previous lease may still hold the election key: let it go now
            with contextlib.suppress(StoreError, TimeoutError):
                await asyncio.wait_for(self.kv.revoke(old), 1.0)
        self._histories.clear()
        sent = time.monotonic()
        self.lease = await self.kv.grant(self.node_timeout)
        self._renewed_at = sent
        value = json.dumps(
            {"address": self.address, "pid": os.getpid(), "since": time.time()}
        ).encode()
        await self.kv.txn(
            [],
            [
                Delete(keys.observed_node(self.node), prefix=True),
                Delete(keys.fencing(self.node)),
                Put(keys.live(self.node), value, lease=self.lease),
            ],
        )
        self.lease_ok.set()
        log.info("node %s joined (lease %x)", self.node, self.lease)

    async def keep_alive(self) -> None:
        """Renew the liveness lease every heartbeat; apply noQuorumPolicy before it can expire.

        ``act_at`` = send time of the last successful renewal + nodeTimeout - leaseMargin:
        the store's countdown started no earlier than that send, so at ``act_at`` the
        lease is still alive on every side for at least ``leaseMargin``.
        """
        renewals = 0
        while True:
            act_at = self._renewed_at + self.node_timeout - self.lease_margin
            now = time.monotonic()
            if now >= act_at:
                log.error(
                    "liveness lease not renewed for %.2f s (node timeout %.2f s): "
                    "no quorum, applying noQuorumPolicy %s",
                    now - self._renewed_at,
                    self.node_timeout,
                    self.no_quorum_policy,
                )
                await self._lease_gone()
                return
            sent = time.monotonic()
            try:
                ttl = await asyncio.wait_for(
                    self.kv.keepalive(self.lease),
                    max(0.01, min(self.heartbeat * 2, act_at - sent)),
                )
            except (StoreError, TimeoutError) as e:
                log.warning("lease renewal failed: %s", e or "timed out")
                ttl = -1
            if ttl == 0:
                log.error("liveness lease expired in the store: applying noQuorumPolicy")
                await self._lease_gone()
                return
            if ttl > 0:
                self._renewed_at = max(self._renewed_at, sent)
                renewals += 1
                if renewals % 10 == 0:
                    await self._read_policy()
                await asyncio.sleep(max(0.0, self.heartbeat - (time.monotonic() - sent)))
            else:  # failed: retry soon, never past act_at
                pause = min(self.heartbeat / 4, act_at - time.monotonic())
                await asyncio.sleep(max(0.0, pause))

    async def _lease_gone(self) -> None:
        self.lease_ok.clear()
        await self.apply_no_quorum_policy()
        if self._on_lease_lost is not None:
            self._on_lease_lost()

    async def _read_policy(self) -> None:
        """Cache the Cluster's noQuorumPolicy (it must be known once the store is gone)."""
        try:
            entries, _ = await asyncio.wait_for(
                self.kv.range(keys.desired_kind("Cluster")), self.heartbeat * 2
            )
        except (StoreError, TimeoutError):
            return
        for e in sorted(entries, key=lambda e: e.key):
            try:
                spec = json.loads(e.value).get("spec") or {}
            except (ValueError, AttributeError):
                continue
            policy = str(spec.get("noQuorumPolicy", "stop"))
            if policy in NO_QUORUM_POLICIES:
                self.no_quorum_policy = policy
            return
        self.no_quorum_policy = "stop"

    async def apply_no_quorum_policy(self) -> None:
        """Act on what this process knows runs here, without the store."""
        policy = self.no_quorum_policy
        self.policy_applied.append((time.monotonic(), policy))
        if policy in ("freeze", "ignore"):
            log.warning(
                "noQuorumPolicy %s: leaving %d resource(s) running", policy, len(self._active)
            )
            return
        if policy == "demote":  # promoted ones demoted (and left running), others stopped
            order = list(reversed(self._active))
            promoted = [r for r in order if r in self._promoted]
            for rsc in promoted:
                await self._local_op(rsc, "demote")
            for rsc in [r for r in order if r not in promoted]:
                await self._local_op(rsc, "stop")
            return
        for rsc in list(reversed(self._active)):
            if rsc in self._promoted:
                await self._local_op(rsc, "demote")
            await self._local_op(rsc, "stop")
        if policy == "fence":
            log.critical("noQuorumPolicy fence: everything stopped; exiting")
            logging.shutdown()
            self._exit_process(FENCE_EXIT_CODE)

    async def _local_op(self, rsc: str, operation: str) -> None:
        """Run a stop/demote here without the store (nothing recorded: the store is gone,
        and the node's observed state is cleared when it rejoins)."""
        agent, params = self._active.get(rsc, ("", {}))
        if not agent:
            return
        await self.runner.cancel_recurring(rsc)
        self._forget_monitors(rsc)
        action = Action(
            token=self.highest_token,
            action_id=f"{rsc}_{operation}_0@{self.node}",
            resource=rsc,
            operation=operation,
            agent=agent,
            params=dict(params),
        )
        try:
            outcome = await self.runner.run(action)
        except Exception as e:  # keep stopping the others
            log.error("noQuorumPolicy: %s %s failed: %s", operation, rsc, e)
            return
        log.warning("noQuorumPolicy: %s %s: rc %d", operation, rsc, outcome.rc)
        self._note(action, outcome)

    async def follow_elections(self) -> None:
        """Learn every new fencing token from the store as soon as it exists.

        A coordinator that was paused past its lease and resumes must be refused even by
        agents the new coordinator has not dispatched to yet.
        """
        while True:
            try:
                cur = await self.kv.get(keys.ELECTION)
                start = 1
                if cur is not None:
                    self.highest_token = max(self.highest_token, cur.create_revision)
                    start = cur.mod_revision + 1
                async for events in self.kv.watch(keys.ELECTION, start):
                    for ev in events:
                        if ev.kind == "put":
                            latest = await self.kv.get(keys.ELECTION)
                            if latest is not None:
                                self.highest_token = max(self.highest_token, latest.create_revision)
            except StoreError as e:
                log.debug("election watch: %s; restarting", e)
                await asyncio.sleep(0.5)

    async def leave(self, stop_resources: bool = True) -> None:
        """Clean shutdown: refuse new work, stop what runs here, drop liveness."""
        self._shutting_down = True
        with contextlib.suppress(StoreError):
            await self.kv.put(keys.attribute(self.node, "shutdown"), b"1", lease=self.lease)
        if stop_resources:
            await self.stop_everything()
        with contextlib.suppress(StoreError):
            await self.kv.revoke(self.lease)

    async def stop_everything(self) -> None:
        """Stop everything active here: what this process ran (newest first), then whatever
        else the store's history of this node says is active.

        At a whole-cluster shutdown the store can lose quorum while the nodes are still
        stopping their resources; then this process's own record is all there is, and each
        stop is recorded with a single attempt instead of retrying into a store that is gone.
        """
        todo: dict[str, tuple[str, dict[str, str]]] = {
            rsc: (agent, dict(params)) for rsc, (agent, params) in reversed(self._active.items())
        }
        try:
            entries, _ = await self.kv.range(keys.observed_node(self.node) + "rsc/")
        except StoreError as err:
            log.warning(
                "shutdown: the store cannot answer (%s): stopping the %d resource(s) this "
                "process knows to be active here; results may go unrecorded",
                err,
                len(todo),
            )
            entries = []
            self._record_attempts = 1
        from reconciler.daemon.state import is_active

        for e in entries:
            try:
                h = ResourceHistory.model_validate_json(e.value)
            except ValueError:
                continue
            if is_active(h) and h.agent and h.name not in todo:
                todo[h.name] = (h.agent, self.params_of(h))
        for rsc, (agent, params) in todo.items():
            await self._execute(
                Action(
                    token=self.highest_token,
                    action_id=f"{rsc}_stop_0@{self.node}",
                    resource=rsc,
                    operation="stop",
                    agent=agent,
                    params=params,
                ),
                check_token=False,
            )

    def params_of(self, h: ResourceHistory) -> dict[str, str]:
        return dict(self._params.get(h.name, {}))

    # ------------------------------------------------------------------ actions
    async def execute(self, action: Action) -> Outcome:
        return await self._execute(action, check_token=True)

    async def _execute(self, action: Action, check_token: bool) -> Outcome:
        if check_token:
            if self._shutting_down:
                return Outcome(rc=1, refused=True, reason=f"{self.node} is shutting down")
            if not self.lease_ok.is_set():
                return Outcome(rc=1, refused=True, reason=f"{self.node} is not a member")
            if action.token < self.highest_token:
                log.warning(
                    "refused %s: stale token %d < %d",
                    action.action_id,
                    action.token,
                    self.highest_token,
                )
                return Outcome(
                    rc=1,
                    refused=True,
                    reason=f"stale fencing token {action.token} "
                    f"(highest seen {self.highest_token})",
                )
            self.highest_token = action.token
        lock = self._locks.setdefault(action.resource, asyncio.Lock())
        async with lock:
            if action.operation in ("stop", "demote"):
                await self.runner.cancel_recurring(action.resource)
                self._forget_monitors(action.resource)
            if action.operation == "start":
                self._params[action.resource] = dict(action.params)
            if action.operation == "stop" and not action.params and action.resource in self._params:
                action = replace(action, params=self._params[action.resource])
            if action.operation == "monitor" and action.interval_ms > 0:
                return await self._start_monitor(action)
            t0 = time.perf_counter()
            outcome = await self.runner.run(action)
            if action.target:  # fencing: recorded by the coordinator
                return outcome
            if action.operation == "notify":  # no record, as Pacemaker keeps none
                log.info("%s: rc %d", action.action_id, outcome.rc)
                return outcome
            self._note(action, outcome)
            t1 = time.perf_counter()
            await self.record(action, outcome)
            log.debug(
                "%s: rc %d, run %.1f ms, recorded in %.1f ms",
                action.action_id,
                outcome.rc,
                (t1 - t0) * 1000,
                (time.perf_counter() - t1) * 1000,
            )
            return outcome

    async def _start_monitor(self, action: Action) -> Outcome:
        key = (action.resource, action.interval_ms)
        first: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()

        async def on_result(outcome: Outcome) -> None:
            previous = self._monitors.get(key)
            if key not in self._monitors and not first.done():
                self._monitors[key] = outcome.rc
                await self.record(action, outcome)
                first.set_result(outcome)
                return
            if key not in self._monitors:
                return  # cancelled meanwhile
            self._monitors[key] = outcome.rc
            if outcome.rc != action.expected_rc or previous != outcome.rc:
                await self.record(action, outcome)

        self._monitors.pop(key, None)
        await self.runner.start_recurring(action, on_result)
        try:
            return await asyncio.wait_for(first, action.timeout_ms / 1000 + 5)
        except TimeoutError:
            return Outcome(rc=1, op_status=2, reason="first monitor result did not arrive")

    def _note(self, action: Action, outcome: Outcome) -> None:
        """Keep this process's own record of what runs here (rc 0/8 active, 7 stopped)."""
        rsc, op, rc = action.resource, action.operation, outcome.rc
        active = {0: True, 8: True, 7: False}.get(rc)
        if (op == "start" and rc == 0) or (op == "monitor" and active):
            if rsc not in self._active:
                params = action.params or self._params.get(rsc, {})
                self._active[rsc] = (action.agent, dict(params))
            if op == "monitor" and rc == 8:
                self._promoted.add(rsc)
        if op == "promote" and rc == 0:
            self._promoted.add(rsc)
        if op == "demote" and rc == 0:
            self._promoted.discard(rsc)
        if (op == "stop" and rc == 0) or (op == "monitor" and active is False):
            self._active.pop(rsc, None)
            self._promoted.discard(rsc)

    def _forget_monitors(self, resource: str) -> None:
        for k in [k for k in self._monitors if k[0] == resource]:
            del self._monitors[k]

    # ------------------------------------------------------------------ recording
    def _next_call_id(self) -> int:
        self._call_id += 1
        return self._call_id

    async def record(self, action: Action, outcome: Outcome) -> None:
        """Write the result into this node's history (and failcount) by compare-and-swap."""
        now = time.time()
        expected = action.expected_rc
        if action.operation == "monitor" and action.interval_ms == 0:
            expected = 7
        op = OperationRecord(
            operation=action.operation,
            interval_ms=action.interval_ms,
            call_id=self._next_call_id(),
            rc=max(0, min(255, outcome.rc)),
            expected_rc=expected,
            op_status=outcome.op_status,
            last_run=int(now),
            last_rc_change=int(now),
            exec_time_ms=int(outcome.duration_s * 1000),
            exit_reason=(outcome.reason or outcome.output[-500:]) or None,
            digest=params_digest(action.params) if action.operation == "start" else None,
        )
        hkey = keys.history(self.node, action.resource)
        known = self._histories.pop(hkey, None)  # what this agent wrote last (saves a read)
        for _ in range(self._record_attempts):
            try:
                h: ResourceHistory | None
                if known is not None:
                    rev, h = known
                    known = None
                else:
                    cur = await self.kv.get(hkey)
                    rev = cur.mod_revision if cur is not None else 0
                    h = ResourceHistory.model_validate_json(cur.value) if cur is not None else None
                fc_new = failcount_after(action.operation, action.interval_ms, op.rc, expected, 0)
                failed = fc_new is not None or op.op_status != 0
                updated = history.record(h, action.resource, action.agent, op, failed)
                ops: list[Put | Delete] = [
                    Put(hkey, updated.model_dump_json(by_alias=True, exclude_none=True).encode())
                ]
                compares = [Cmp(hkey, "mod", "==", rev)]
                if failed:
                    fkey = keys.failcount(
                        self.node, action.resource, action.operation, action.interval_ms
                    )
                    fcur = await self.kv.get(fkey)
                    prior = 0
                    if fcur is not None:
                        with contextlib.suppress(ValueError):
                            prior = Failcount.model_validate_json(fcur.value).count
                    count = failcount_after(
                        action.operation, action.interval_ms, op.rc, expected, prior
                    )
                    if count is None:
                        count = min(INFINITY_FAILS, prior + 1)
                    fc = Failcount(
                        resource=action.resource,
                        operation=action.operation,
                        interval_ms=action.interval_ms,
                        count=count,
                        last_failure=int(now),
                    )
                    ops.append(Put(fkey, fc.model_dump_json(by_alias=True).encode()))
                    compares.append(Cmp(fkey, "mod", "==", fcur.mod_revision if fcur else 0))
                ok, revision = await self.kv.txn(compares, ops)
                if ok:
                    self._histories[hkey] = (revision, updated)
                    return
            except StoreError as e:
                if self._record_attempts == 1:
                    log.warning("recording %s failed: %s", action.action_id, e)
                    return
                log.warning("recording %s failed: %s; retrying", action.action_id, e)
                await asyncio.sleep(0.2)
        log.error("could not record %s after retries", action.action_id)
