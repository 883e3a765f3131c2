"""The store side against a real etcd: one transaction, resourceVersion checks, the fencing
guard, event retention, and etcd's limit on operations per transaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitops_harness import World, resource, run

from reconciler.base.errors import Conflict, StaleToken
from reconciler.gitops import status
from reconciler.gitops.applier import StoreApplier
from reconciler.gitops.keys import ObjectKey
from reconciler.gitops.objects import DesiredObject
from reconciler.gitops.plan import make_plan
from reconciler.gitops.reconcile import Result
from reconciler.gitops.status import SyncEvent, SyncStatus

pytestmark = pytest.mark.etcd


def _obj(name: str, state: str) -> DesiredObject:
    body = {
        "apiVersion": "hactl.io/v1",
        "kind": "Resource",
        "metadata": {"name": name},
        "spec": {"agent": "ocf:pacemaker:Dummy", "params": {"state": state}},
    }
    return DesiredObject(ObjectKey("Resource", name), body)


def _event(seq: int) -> SyncEvent:
    return SyncEvent(
        seq=seq, time=1.7e9, type="Normal", reason="Applied", revision="r", message="m"
    )


def test_a_concurrent_change_fails_the_whole_transaction(backend, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        applier = StoreApplier(w.store, "t")
        state = await applier.read()
        first = make_plan(
            [_obj("a", "1"), _obj("b", "1")], state.objects, [], prune=False, allow_empty=False
        )
        await applier.apply(first, state, "r1", SyncStatus(name="t", event_seq=1), _event(1))
        state = await applier.read()
        assert set(state.inventory.objects) == {
            ObjectKey("Resource", "a"),
            ObjectKey("Resource", "b"),
        }
        plan = make_plan(
            [_obj("a", "2"), _obj("b", "2"), _obj("c", "2")],
            state.objects,
            state.inventory.objects,
            prune=False,
            allow_empty=False,
        )
        await w.kv.put("/hactl/desired/resource/b", json.dumps(_obj("b", "someone").body).encode())
        before = await w.entries()
        with pytest.raises(Conflict):
            await applier.apply(plan, state, "r2", SyncStatus(name="t", event_seq=2), _event(2))
        assert await w.entries() == before  # a, c untouched: nothing partial
        assert (await applier.read()).inventory.revision == "r1"
        # someone created an object we meant to create: also a conflict
        state = await applier.read()
        plan = make_plan([_obj("d", "1")], {}, [], prune=False, allow_empty=False)
        await w.kv.put("/hactl/desired/resource/d", b"{}")
        with pytest.raises(Conflict):
            await applier.apply(plan, state, "r3", SyncStatus(name="t"), _event(3))

    _scenario(backend, tmp_path, body)


def _scenario(store, tmp_path: Path, body) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        w = World(store.endpoint, tmp_path)
        await w.clear()
        try:
            await body(w)
        finally:
            await w.close()

    run(main())


def test_a_deposed_coordinator_cannot_write(backend, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        await w.kv.put("/hactl/election/lock", b"node1")
        lock = await w.kv.get("/hactl/election/lock")
        assert lock is not None
        (w.dir / "a.yaml").write_text(resource("a"))
        w.start(fence_key="/hactl/election/lock", fence_revision=lock.create_revision)
        await w.wait(lambda: w.phase_is(status.IN_SYNC), "InSync under leadership")
        # leadership passes to another node: the election key is created anew
        await w.kv.delete("/hactl/election/lock")
        await w.kv.put("/hactl/election/lock", b"node2")
        before = await w.entries()
        (w.dir / "a.yaml").write_text(resource("a", state="late"))
        task = w._task
        assert task is not None

        async def stopped() -> bool:
            return task.done()

        await w.wait_until_done(stopped)
        with pytest.raises(StaleToken):
            task.result()
        w._task = None
        assert await w.entries() == before

    _scenario(backend, tmp_path, body)


def test_events_have_bounded_retention(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        (w.dir / "a.yaml").write_text(resource("a"))
        w.start(event_retention=3)
        await w.wait(lambda: w.phase_is(status.IN_SYNC), "InSync")
        for i in range(5):
            (w.dir / "a.yaml").write_text(resource("a", state=str(i)))

            async def applied(i: int = i) -> bool:
                objs = await w.objects()
                return "resource/a" in objs and w.state_of(objs, "a") == str(i)

            await w.wait(applied, f"state {i}")
        events = await w.events()
        assert [e.seq for e in events] == [4, 5, 6]
        s = await w.status()
        assert s is not None and s.event_seq == 6

    _scenario(etcd, tmp_path, body)


def test_more_objects_than_etcd_allows_in_one_transaction_is_a_clear_error(
    etcd, tmp_path: Path
) -> None:
    async def body(w: World) -> None:
        # etcd's default --max-txn-ops is 128: the set is never split, so it is refused whole
        (w.dir / "many.yaml").write_text("---\n".join(resource(f"r{i:03d}") for i in range(140)))
        w.start(backoff_initial=5.0)
        await w.wait(lambda: w.phase_is(status.ERROR), "Error")
        s = await w.status()
        assert s is not None and "max-txn-ops" in s.message
        assert await w.names() == set()
        assert w.count(Result.ERROR) == 1

    _scenario(etcd, tmp_path, body)


def test_hacd_runs_several_watchers_and_stops_them_together(etcd, tmp_path: Path) -> None:
    import asyncio
    import dataclasses

    from reconciler.gitops.config import from_mapping
    from reconciler.gitops.watcher import run_watchers
    from reconciler.system.clock import SystemClock

    async def body(w: World) -> None:
        (tmp_path / "one").mkdir()
        (tmp_path / "two").mkdir()
        (tmp_path / "one" / "a.yaml").write_text(resource("a"))
        (tmp_path / "two" / "b.yaml").write_text(resource("b"))
        # what hacd's coordinator does: the node config's entries, guarded by its token
        await w.kv.put("/hactl/election/lock", b"node1")
        lock = await w.kv.get("/hactl/election/lock")
        assert lock is not None
        configs = [
            dataclasses.replace(
                from_mapping({"directory": str(tmp_path / n), "quiet": "100ms"}, node="node1"),
                fence_key="/hactl/election/lock",
                fence_revision=lock.create_revision,
            )
            for n in ("one", "two")
        ]
        stop = asyncio.Event()
        task = asyncio.create_task(run_watchers(configs, w.store, SystemClock(), stop))

        async def both() -> bool:
            return await w.names() == {"resource/a", "resource/b"}

        await w.wait(both, "both directories applied")
        stop.set()
        await asyncio.wait_for(task, 10)

    _scenario(etcd, tmp_path, body)


def test_list_managed_and_delete_touch_only_inventory_objects(backend, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        applier = StoreApplier(w.store, "t")
        state = await applier.read()
        plan = make_plan(
            [_obj("a", "1"), _obj("b", "1")], state.objects, [], prune=False, allow_empty=False
        )
        await applier.apply(plan, state, "r1", SyncStatus(name="t", event_seq=1), _event(1))
        await w.kv.put(
            "/hactl/desired/resource/foreign", json.dumps(_obj("foreign", "x").body).encode()
        )
        managed = await applier.list_managed()
        assert [o.key.name for o in managed] == ["a", "b"]
        foreign = (await applier.read()).objects[ObjectKey("Resource", "foreign")]
        deleted = await applier.delete([managed[0], foreign])
        assert deleted == (ObjectKey("Resource", "a"),)
        assert await w.names() == {"resource/b", "resource/foreign"}
        assert (await applier.read()).inventory.objects == (ObjectKey("Resource", "b"),)

    _scenario(backend, tmp_path, body)
