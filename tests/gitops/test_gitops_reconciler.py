"""One reconcile pass at a time, with a ManualClock: prune delay and backoff to the tick.

The store here is an in-memory double with etcd's compare/txn meaning (a test double
so that time can be stepped by hand); the same behaviours run against real etcd in
test_gitops_watch.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from gitops_harness import resource

from reconciler.base.clock import ManualClock
from reconciler.gitops.applier import StoreApplier
from reconciler.gitops.config import WatcherConfig
from reconciler.gitops.loader import load_snapshot
from reconciler.gitops.port import Compare, Delete, KeyValue, Op, Put
from reconciler.gitops.reconcile import Reconciler, Result, Trigger


class MemoryStore:
    def __init__(self) -> None:
        self.data: dict[str, KeyValue] = {}
        self.revision = 1

    async def get(self, key: str) -> KeyValue | None:
        return self.data.get(key)

    async def range_prefix(self, prefix: str) -> Sequence[KeyValue]:
        return [self.data[k] for k in sorted(self.data) if k.startswith(prefix)]

    async def txn(self, compares: Sequence[Compare], ops: Sequence[Op]) -> bool:
        for c in compares:
            kv = self.data.get(c.key)
            seen = (
                0 if kv is None else (kv.mod_revision if c.target == "mod" else kv.create_revision)
            )
            if seen != c.expected:
                return False
        self.revision += 1
        for op in ops:
            if isinstance(op, Put):
                old = self.data.get(op.key)
                created = old.create_revision if old else self.revision
                self.data[op.key] = KeyValue(op.key, op.value, self.revision, created)
            elif isinstance(op, Delete):
                self.data.pop(op.key, None)
        return True


def _setup(tmp_path: Path, **cfg: object) -> tuple[Reconciler, MemoryStore, ManualClock]:
    store = MemoryStore()
    clock = ManualClock()
    config = WatcherConfig(name="t", directory=str(tmp_path), **cfg)  # type: ignore[arg-type]
    rec = Reconciler(config, StoreApplier(store, "t"), load_snapshot, clock)
    return rec, store, clock


def test_prune_waits_for_the_prune_delay(tmp_path: Path) -> None:
    async def main() -> None:
        (tmp_path / "a.yaml").write_text(resource("a"))
        (tmp_path / "b.yaml").write_text(resource("b"))
        rec, store, clock = _setup(tmp_path, prune=True, prune_delay=1.0)
        assert (await rec.reconcile(Trigger.STARTUP)).result is Result.APPLIED
        (tmp_path / "b.yaml").unlink()
        out = await rec.reconcile(Trigger.CHANGE)
        assert out.result is Result.APPLIED and out.retry_after == pytest.approx(1.0)
        assert "/hactl/desired/resource/b" in store.data
        clock.advance(0.6)
        out = await rec.reconcile(Trigger.DRIFT)
        assert out.result is Result.NOTHING and out.retry_after == pytest.approx(0.4)
        assert "/hactl/desired/resource/b" in store.data
        clock.advance(0.4)
        out = await rec.reconcile(Trigger.DRIFT)
        assert out.result is Result.APPLIED and out.retry_after is None
        assert "/hactl/desired/resource/b" not in store.data
        # a file that comes back inside the delay restarts nothing and loses nothing
        (tmp_path / "a.yaml").unlink()
        await rec.reconcile(Trigger.CHANGE)
        clock.advance(0.9)
        (tmp_path / "a.yaml").write_text(resource("a"))
        await rec.reconcile(Trigger.CHANGE)
        clock.advance(5)
        await rec.reconcile(Trigger.DRIFT)
        assert "/hactl/desired/resource/a" in store.data

    asyncio.run(main())


def test_a_bad_revision_is_retried_with_exponential_backoff(tmp_path: Path) -> None:
    async def main() -> None:
        (tmp_path / "a.yaml").write_text("kind: Resource\n")
        rec, store, clock = _setup(tmp_path, backoff_initial=1.0, backoff_cap=4.0)
        out = await rec.reconcile(Trigger.STARTUP)
        assert out.result is Result.INVALID and out.retry_after == pytest.approx(1.0)
        assert out.details and out.details[0].startswith("a.yaml:1:")
        writes = store.revision
        # the same revision again: nothing until the backoff expires
        assert (await rec.reconcile(Trigger.CHANGE)).result is Result.NOTHING
        clock.advance(0.5)
        out = await rec.reconcile(Trigger.DRIFT)
        assert out.result is Result.BACKOFF and out.retry_after == pytest.approx(0.5)
        assert store.revision == writes  # not a single write while backing off
        waits = []
        for _ in range(4):
            clock.advance(out.retry_after or 0)
            out = await rec.reconcile(Trigger.DRIFT)
            assert out.result is Result.INVALID
            waits.append(out.retry_after)
        assert waits == [2.0, 4.0, 4.0, 4.0]
        # a fix is tried at once, whatever the backoff
        (tmp_path / "a.yaml").write_text(resource("a"))
        assert (await rec.reconcile(Trigger.CHANGE)).result is Result.APPLIED

    asyncio.run(main())


def test_an_unchanged_revision_writes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        (tmp_path / "a.yaml").write_text(resource("a"))
        rec, store, clock = _setup(tmp_path)
        assert (await rec.reconcile(Trigger.STARTUP)).result is Result.APPLIED
        rev = store.revision
        for trigger in (Trigger.CHANGE, Trigger.DRIFT, Trigger.STARTUP, Trigger.REQUEST):
            clock.advance(1)
            assert (await rec.reconcile(trigger)).result is Result.NOTHING
        assert store.revision == rev

    asyncio.run(main())
