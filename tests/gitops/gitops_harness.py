"""A running watcher against real etcd and a real directory, with polling helpers."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from reconciler.cli.sync import gitops_store
from reconciler.gitops import keys, records
from reconciler.gitops.config import WatcherConfig
from reconciler.gitops.reconcile import Outcome, Result, Trigger
from reconciler.gitops.status import SyncEvent, SyncStatus
from reconciler.gitops.watcher import Inbox, run_watcher
from reconciler.statestore.etcd import EtcdKv
from reconciler.system.clock import SystemClock

DEADLINE_S = 10.0


def resource(name: str, state: str = "a", **extra: str) -> str:
    params = "".join(f"    {k}: {v!r}\n" for k, v in sorted({"state": state, **extra}.items()))
    return (
        "apiVersion: hactl.io/v1\n"
        "kind: Resource\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        "  agent: ocf:pacemaker:Dummy\n"
        "  params:\n"
        f"{params}"
    )


def location(name: str, rsc: str, node: str = "node1", score: int = 100) -> str:
    return (
        "apiVersion: hactl.io/v1\n"
        "kind: Location\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        f"  resource: {rsc}\n"
        f"  node: {node}\n"
        f"  score: {score}\n"
    )


def docs(*texts: str) -> str:
    return "---\n".join(texts)


def atomic_write(path: Path, text: str) -> None:
    """Save as editors do: write a hidden temp file beside it, fsync, rename over."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class World:
    def __init__(self, endpoint: str, root: Path) -> None:
        self.kv = EtcdKv([endpoint])
        self.store = gitops_store(self.kv)
        self.dir = root / "manifests"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.outcomes: list[tuple[float, Trigger, Outcome]] = []
        self.inbox = Inbox()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Outcome | None] | None = None
        self.name = "test"

    async def clear(self) -> None:
        await self.kv.delete("/hactl/", prefix=True)

    def config(self, **overrides: Any) -> WatcherConfig:
        base: dict[str, Any] = dict(
            name=self.name,
            directory=str(self.dir),
            quiet=0.3,
            max_wait=2.0,
            interval=30.0,
            control_poll=0.1,
            backoff_initial=0.2,
            backoff_cap=5.0,
            prune_delay=0.0,
        )
        base.update(overrides)
        return WatcherConfig(**base)

    def _hook(self, trigger: Trigger, outcome: Outcome) -> None:
        self.outcomes.append((time.monotonic(), trigger, outcome))

    def start(self, **overrides: Any) -> None:
        assert self._task is None
        self._stop = asyncio.Event()
        self.inbox = Inbox()
        self._task = asyncio.create_task(
            run_watcher(
                self.config(**overrides),
                self.store,
                SystemClock(),
                self._stop,
                inbox=self.inbox,
                on_outcome=self._hook,
            )
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        await asyncio.wait_for(self._task, DEADLINE_S)
        self._task = None

    async def close(self) -> None:
        await self.stop()
        await self.kv.close()

    async def wait(
        self, check: Callable[[], Awaitable[bool]], what: str, timeout: float = DEADLINE_S
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._task is not None and self._task.done():
                self._task.result()  # raise what killed the watcher
                raise AssertionError(f"watcher stopped while waiting for {what}")
            if await check():
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; "
                    f"status={await self.status()}; outcomes={self.results()}"
                )
            await asyncio.sleep(0.02)

    async def wait_until_done(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Poll ``check`` with a deadline, without failing when the watcher task ends."""
        deadline = time.monotonic() + DEADLINE_S
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; outcomes={self.results()}")
            await asyncio.sleep(0.02)

    async def wait_outcome(
        self, since: int, what: str, pred: Callable[[Trigger, Outcome], bool] | None = None
    ) -> Outcome:
        found: list[Outcome] = []

        async def seen() -> bool:
            for _, trig, out in self.outcomes[since:]:
                if pred is None or pred(trig, out):
                    found.append(out)
                    return True
            return False

        await self.wait(seen, what)
        return found[0]

    def results(self, since: int = 0) -> list[str]:
        return [f"{t.value}->{o.result.value}" for _, t, o in self.outcomes[since:]]

    def count(self, result: Result, since: int = 0) -> int:
        return sum(1 for _, _, o in self.outcomes[since:] if o.result is result)

    async def objects(self) -> dict[str, dict[str, Any]]:
        entries, _ = await self.kv.range(keys.DESIRED_PREFIX)
        return {e.key[len(keys.DESIRED_PREFIX) :]: json.loads(e.value) for e in entries}

    async def entries(self) -> dict[str, tuple[int, int]]:
        """key -> (create revision, mod revision) of every desired object."""
        entries, _ = await self.kv.range(keys.DESIRED_PREFIX)
        return {
            e.key[len(keys.DESIRED_PREFIX) :]: (e.create_revision, e.mod_revision) for e in entries
        }

    async def revision(self) -> int:
        _, rev = await self.kv.range("/hactl/")
        return rev

    async def status(self) -> SyncStatus | None:
        kv = await self.store.get(keys.status_key(self.name))
        return SyncStatus.from_json(kv.value) if kv else None

    async def events(self) -> list[SyncEvent]:
        return await records.read_events(self.store, self.name, limit=0)

    async def phase_is(self, phase: str) -> bool:
        s = await self.status()
        return s is not None and s.phase == phase

    async def names(self) -> set[str]:
        return set(await self.objects())

    def state_of(self, objs: dict[str, dict[str, Any]], name: str) -> str:
        return str(objs[f"resource/{name}"]["spec"].get("params", {}).get("state"))


def run(coro: Awaitable[None], timeout: float = 40.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro, timeout)

    asyncio.run(bounded())
