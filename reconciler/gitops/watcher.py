"""The watcher loop: file events and timers in, reconcile passes out.

:func:`run_watcher` is what ``hactl sync`` runs in the foreground and what ``hacd``
starts on the coordinator (and stops, through ``stop_event``, when leadership is
lost). All waiting is for real (asyncio), but every decision about *when* reads
the injected clock: the debounce (quiet period + maximum wait), the drift
interval, the backoff, the control-key polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.base.clock import Clock
from reconciler.base.errors import StaleToken, StoreError
from reconciler.gitops import keys
from reconciler.gitops.applier import FenceGuard, StoreApplier
from reconciler.gitops.config import WatcherConfig
from reconciler.gitops.debounce import Debounce
from reconciler.gitops.fswatch import watch_directory
from reconciler.gitops.port import GitopsStore
from reconciler.gitops.reconcile import (
    ClusterCheck,
    Loader,
    Outcome,
    Reconciler,
    Result,
    Trigger,
)

log = logging.getLogger(__name__)

OutcomeHook = Callable[[Trigger, Outcome], None]


@dataclass(slots=True)
class Inbox:
    """What woke the loop. Set from the file watcher, signal handlers or the caller."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    changed: bool = False
    request: bool = False

    def change(self) -> None:
        self.changed = True
        self.wake.set()

    def reconcile_now(self) -> None:
        self.request = True
        self.wake.set()


@dataclass(frozen=True, slots=True)
class Control:
    suspended: bool
    reconcile_request: int


async def read_control(store: GitopsStore, watcher: str) -> Control:
    suspend = await store.get(keys.suspend_key(watcher))
    request = await store.get(keys.reconcile_key(watcher))
    return Control(suspend is not None, request.mod_revision if request else 0)


def default_loader() -> tuple[Loader, ClusterCheck]:
    from reconciler.gitops.loader import SnapshotLoader

    loader = SnapshotLoader()
    return loader, loader.cluster_problems


async def run_watcher(
    config: WatcherConfig,
    store: GitopsStore,
    clock: Clock,
    stop_event: asyncio.Event,
    *,
    loader: Loader | None = None,
    inbox: Inbox | None = None,
    on_outcome: OutcomeHook | None = None,
) -> Outcome | None:
    """Keep the store's desired objects equal to ``config.directory`` until ``stop_event``.

    With ``config.once``: one reconcile, returns its :class:`Outcome`. Raises
    :class:`~reconciler.base.errors.StaleToken` when the fencing guard shows that this
    node no longer leads (hacd then stops leader-only work).
    """
    guard = None
    if config.fence_key is not None and config.fence_revision is not None:
        guard = FenceGuard(config.fence_key, config.fence_revision)
    applier = StoreApplier(store, config.name, event_retention=config.event_retention, guard=guard)
    check: ClusterCheck | None
    if loader is None:
        loader, check = default_loader()
    else:
        check = getattr(loader, "cluster_problems", None)
    rec = Reconciler(config, applier, loader, clock, check)
    if config.once:
        outcome = await rec.reconcile(Trigger.REQUEST)
        if on_outcome is not None:
            on_outcome(Trigger.REQUEST, outcome)
        return outcome
    box = inbox or Inbox()
    fs_stop = asyncio.Event()
    fs_task = asyncio.create_task(watch_directory(config.directory, box.change, fs_stop))
    try:
        await _loop(config, store, clock, stop_event, rec, box, on_outcome)
    finally:
        fs_stop.set()
        fs_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await fs_task
    return None


async def _loop(  # noqa: PLR0917
    config: WatcherConfig,
    store: GitopsStore,
    clock: Clock,
    stop_event: asyncio.Event,
    rec: Reconciler,
    box: Inbox,
    on_outcome: OutcomeHook | None,
) -> None:
    debounce = Debounce(config.quiet, config.max_wait)
    now = clock.monotonic()
    next_drift = now + config.interval
    next_control = now
    retry_at: float | None = None
    control: Control | None = None

    async def run(trigger: Trigger) -> None:
        nonlocal retry_at, debounce
        outcome = await rec.reconcile(trigger)
        log.debug("sync %s: %s -> %s", config.name, trigger, outcome.result)
        if on_outcome is not None:
            on_outcome(trigger, outcome)
        t = clock.monotonic()
        retry_at = t + outcome.retry_after if outcome.retry_after is not None else None
        if outcome.result is Result.UNSTABLE:
            debounce = debounce.changed(t)

    stopper = asyncio.create_task(stop_event.wait())
    try:
        await run(Trigger.STARTUP)
        while not stop_event.is_set():
            now = clock.monotonic()
            deadlines = [next_drift, next_control]
            if (d := debounce.deadline()) is not None:
                deadlines.append(d)
            if retry_at is not None:
                deadlines.append(retry_at)
            timeout = max(0.0, min(deadlines) - now)
            if not box.wake.is_set():
                waker = asyncio.create_task(box.wake.wait())
                await asyncio.wait(
                    {waker, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                waker.cancel()
            if stop_event.is_set():
                break
            box.wake.clear()
            now = clock.monotonic()
            if box.changed:
                box.changed = False
                debounce = debounce.changed(now)
            if box.request:
                box.request = False
                await run(Trigger.REQUEST)
                continue
            if now >= next_control:
                next_control = now + config.control_poll
                try:
                    fresh = await read_control(store, config.name)
                except StoreError as exc:
                    log.debug("sync %s: control keys unreadable: %s", config.name, exc)
                else:
                    if control is not None and fresh != control:
                        control = fresh
                        await run(Trigger.REQUEST)
                        continue
                    control = fresh
            if debounce.due(now):
                debounce = debounce.fired()
                await run(Trigger.CHANGE)
            elif now >= next_drift:
                next_drift = now + config.interval
                await run(Trigger.DRIFT)
            elif retry_at is not None and now >= retry_at:
                retry_at = None
                await run(Trigger.DRIFT)
    except StaleToken as exc:
        log.warning("sync %s: no longer leading (%s); stopping", config.name, exc)
        raise
    finally:
        stopper.cancel()


async def run_watchers(
    configs: list[WatcherConfig],
    store: GitopsStore,
    clock: Clock,
    stop_event: asyncio.Event,
) -> None:
    """Run several watchers until ``stop_event`` (hacd's leader-only task).

    If one raises (e.g. :class:`~reconciler.base.errors.StaleToken`: leadership lost),
    the others are stopped and the error propagates.
    """
    inner = asyncio.Event()
    tasks = [asyncio.create_task(run_watcher(c, store, clock, inner)) for c in configs]
    stopper = asyncio.create_task(stop_event.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        inner.set()
        for t in done:
            if t is not stopper:
                t.result()
    finally:
        inner.set()
        stopper.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
