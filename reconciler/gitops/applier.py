"""The :class:`Applier` port and its implementation over the store.

A reconcile writes in ONE transaction: every created/configured/pruned object
(each guarded by its resourceVersion = mod revision, a create by "absent"), the
watcher's inventory (guarded by its own mod revision), the status record and one
event (and drops the event that fell out of retention). Either all of it lands or
none does; a failed compare raises :class:`~reconciler.base.errors.Conflict` and the
caller re-reads and re-plans.

When the watcher runs inside ``hacd`` under coordinator leadership, a fencing
guard (the election key and its create revision) joins every transaction, so a
deposed coordinator's watcher cannot write (it raises
:class:`~reconciler.base.errors.StaleToken`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from reconciler.base.errors import Conflict, StaleToken, StoreError
from reconciler.gitops import keys
from reconciler.gitops.keys import ObjectKey
from reconciler.gitops.objects import LiveObject, stamped
from reconciler.gitops.plan import SyncPlan
from reconciler.gitops.port import Compare, Delete, GitopsStore, KeyValue, Op, Put
from reconciler.gitops.status import SyncEvent, SyncStatus


@dataclass(frozen=True, slots=True)
class Inventory:
    """What one watcher applied (and may therefore prune)."""

    objects: tuple[ObjectKey, ...] = ()
    revision: str | None = None  # directory revision last applied
    mod_revision: int = 0  # of the inventory key; 0 = absent

    def to_json(self) -> bytes:
        body = {
            "revision": self.revision,
            "objects": [{"kind": k.kind, "name": k.name} for k in sorted(self.objects)],
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @staticmethod
    def from_kv(kv: KeyValue | None) -> Inventory:
        if kv is None:
            return Inventory()
        try:
            data = json.loads(kv.value)
            objs = tuple(sorted(ObjectKey(str(o["kind"]), str(o["name"])) for o in data["objects"]))
            revision = data.get("revision")
        except (ValueError, TypeError, KeyError, AttributeError):
            # never guess what we own: a corrupt inventory stops this sync (with backoff)
            raise StoreError(f"{kv.key}: corrupt inventory; fix or delete the key") from None
        return Inventory(objs, revision if isinstance(revision, str) else None, kv.mod_revision)


@dataclass(frozen=True, slots=True)
class LiveState:
    """Everything one reconcile reads from the store."""

    objects: Mapping[ObjectKey, LiveObject]
    inventory: Inventory
    status: SyncStatus | None
    suspended: bool
    reconcile_request: int  # mod revision of the reconcile-now key (0 = never asked)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    created: tuple[ObjectKey, ...]
    configured: tuple[ObjectKey, ...]
    unchanged: tuple[ObjectKey, ...]
    pruned: tuple[ObjectKey, ...]


@dataclass(frozen=True, slots=True)
class FenceGuard:
    """A key whose create revision must still be ``create_revision`` (leadership token)."""

    key: str
    create_revision: int


class Applier(Protocol):
    async def read(self) -> LiveState: ...

    async def apply(
        self,
        plan: SyncPlan,
        state: LiveState,
        revision: str,
        status: SyncStatus,
        event: SyncEvent,
    ) -> ApplyResult:
        """Write the plan, the inventory, ``status`` and ``event`` in one transaction
        (the event's time stamps created objects)."""
        ...

    async def record(self, status: SyncStatus, event: SyncEvent | None) -> None:
        """Write the status (and an event) without touching any object."""
        ...

    async def list_managed(self) -> tuple[LiveObject, ...]: ...

    async def delete(self, objects: Sequence[LiveObject]) -> tuple[ObjectKey, ...]: ...


def decode_object(kv: KeyValue) -> LiveObject | None:
    """A desired-object key and value -> LiveObject (None for a key of another layout)."""
    rest = kv.key[len(keys.DESIRED_PREFIX) :]
    if "/" not in rest:
        return None
    try:
        body = json.loads(kv.value)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    kind = body.get("kind")
    meta = body.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    key = ObjectKey(kind, name)
    if key.store_key() != kv.key:
        return None
    return LiveObject(key, body, kv.mod_revision)


class StoreApplier:
    """:class:`Applier` over a :class:`~reconciler.gitops.port.GitopsStore`."""

    def __init__(
        self,
        store: GitopsStore,
        watcher: str,
        *,
        event_retention: int = 100,
        guard: FenceGuard | None = None,
    ) -> None:
        self._store = store
        self._watcher = watcher
        self._retention = max(1, event_retention)
        self._guard = guard

    async def read(self) -> LiveState:
        objects: dict[ObjectKey, LiveObject] = {}
        for kv in await self._store.range_prefix(keys.DESIRED_PREFIX):
            live = decode_object(kv)
            if live is not None:
                objects[live.key] = live
        own = {
            kv.key: kv for kv in await self._store.range_prefix(keys.watcher_prefix(self._watcher))
        }
        status_kv = own.get(keys.status_key(self._watcher))
        reconcile_kv = own.get(keys.reconcile_key(self._watcher))
        status = None
        if status_kv is not None:
            try:
                status = SyncStatus.from_json(status_kv.value)
            except (ValueError, TypeError):
                status = None  # rewritten by this pass
        return LiveState(
            objects=objects,
            inventory=Inventory.from_kv(own.get(keys.inventory_key(self._watcher))),
            status=status,
            suspended=keys.suspend_key(self._watcher) in own,
            reconcile_request=reconcile_kv.mod_revision if reconcile_kv else 0,
        )

    def _record_ops(self, status: SyncStatus, event: SyncEvent | None) -> list[Op]:
        ops: list[Op] = [Put(keys.status_key(self._watcher), status.to_json())]
        if event is not None:
            ops.append(Put(keys.event_key(self._watcher, event.seq), event.to_json()))
            old = event.seq - self._retention
            if old > 0:
                ops.append(Delete(keys.event_key(self._watcher, old)))
        return ops

    def _guards(self) -> list[Compare]:
        if self._guard is None:
            return []
        return [Compare(self._guard.key, "create", self._guard.create_revision)]

    async def _commit(self, compares: list[Compare], ops: list[Op]) -> None:
        if await self._store.txn(compares, ops):
            return
        if self._guard is not None:
            kv = await self._store.get(self._guard.key)
            seen = kv.create_revision if kv else 0
            if seen != self._guard.create_revision:
                raise StaleToken(self._guard.create_revision, seen)
        raise Conflict("an object changed while this sync applied; re-reading")

    async def apply(
        self, plan: SyncPlan, state: LiveState, revision: str, status: SyncStatus, event: SyncEvent
    ) -> ApplyResult:
        if plan.refused is not None:
            raise StoreError(f"a refused plan cannot be applied: {plan.refused}")
        compares = self._guards()
        ops: list[Op] = []
        now_iso = datetime.fromtimestamp(event.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for d in plan.create:
            compares.append(Compare(d.key.store_key(), "create", 0))
            ops.append(Put(d.key.store_key(), stamped(d.body, None, now_iso, str(uuid.uuid4()))))
        for d, live in plan.configure:
            compares.append(Compare(d.key.store_key(), "mod", live.mod_revision))
            value = stamped(d.body, live, now_iso, str(uuid.uuid4()))
            ops.append(Put(d.key.store_key(), value))
        for live in plan.prune:
            compares.append(Compare(live.key.store_key(), "mod", live.mod_revision))
            ops.append(Delete(live.key.store_key()))
        inv_key = keys.inventory_key(self._watcher)
        compares.append(Compare(inv_key, "mod", state.inventory.mod_revision))
        ops.append(Put(inv_key, Inventory(plan.inventory, revision).to_json()))
        ops.extend(self._record_ops(status, event))
        await self._commit(compares, ops)
        return ApplyResult(
            created=tuple(d.key for d in plan.create),
            configured=tuple(d.key for d, _ in plan.configure),
            unchanged=plan.unchanged,
            pruned=tuple(o.key for o in plan.prune),
        )

    async def record(self, status: SyncStatus, event: SyncEvent | None) -> None:
        await self._commit(self._guards(), self._record_ops(status, event))

    async def list_managed(self) -> tuple[LiveObject, ...]:
        state = await self.read()
        return tuple(state.objects[k] for k in state.inventory.objects if k in state.objects)

    async def delete(self, objects: Sequence[LiveObject]) -> tuple[ObjectKey, ...]:
        """Delete inventory objects (guarded by resourceVersion); drop them from the inventory."""
        state = await self.read()
        inventory = set(state.inventory.objects)
        doomed = [o for o in objects if o.key in inventory]
        compares = self._guards()
        ops: list[Op] = []
        for o in doomed:
            compares.append(Compare(o.key.store_key(), "mod", o.mod_revision))
            ops.append(Delete(o.key.store_key()))
        inv_key = keys.inventory_key(self._watcher)
        compares.append(Compare(inv_key, "mod", state.inventory.mod_revision))
        left = tuple(sorted(inventory - {o.key for o in doomed}))
        ops.append(Put(inv_key, Inventory(left, state.inventory.revision).to_json()))
        await self._commit(compares, ops)
        return tuple(o.key for o in doomed)


def object_bodies(objects: Iterable[LiveObject]) -> list[dict[str, Any]]:
    return [dict(o.body) for o in sorted(objects, key=lambda o: o.key)]
