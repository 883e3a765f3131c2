"""Read watchers' status records and events from the store (for `hactl get syncs`/`status`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from reconciler.gitops import keys
from reconciler.gitops.port import Delete, GitopsStore, Put
from reconciler.gitops.status import SyncEvent, SyncStatus
from reconciler.gitops.storeport import PortLike, PortStore


async def read_syncs(store: GitopsStore) -> list[SyncStatus]:
    """Every watcher's status record, sorted by name (unreadable records are skipped)."""
    out: list[SyncStatus] = []
    for kv in await store.range_prefix(keys.GITOPS_PREFIX):
        rest = kv.key[len(keys.GITOPS_PREFIX) :]
        name, _, leaf = rest.partition("/")
        if leaf != "status":
            continue
        try:
            out.append(SyncStatus.from_json(kv.value).with_(name=name))
        except (ValueError, TypeError):
            continue
    return sorted(out, key=lambda s: s.name)


async def read_events(store: GitopsStore, watcher: str, limit: int = 20) -> list[SyncEvent]:
    """The last ``limit`` events of ``watcher``, oldest first."""
    kvs = sorted(await store.range_prefix(keys.events_prefix(watcher)), key=lambda kv: kv.key)
    out: list[SyncEvent] = []
    for kv in kvs[-limit:] if limit > 0 else kvs:
        try:
            out.append(SyncEvent.from_json(kv.value))
        except (ValueError, TypeError):
            continue
    return out


async def set_suspended(store: GitopsStore, watcher: str, suspended: bool) -> None:
    """Suspend or resume ``watcher`` (seen by whichever node runs it within a poll)."""
    key = keys.suspend_key(watcher)
    op = Put(key, b"1") if suspended else Delete(key)
    await store.txn([], [op])


async def request_reconcile(store: GitopsStore, watcher: str) -> None:
    """Ask ``watcher`` to reconcile now (a new mod revision of its reconcile key)."""
    await store.txn([], [Put(keys.reconcile_key(watcher), b"now")])


async def syncs_view(port: PortLike) -> list[dict[str, Any]]:
    """Every watcher's status as JSON-able dicts, from the shared store port (read only).

    For the API server's ``view``/``get syncs``: ``port`` is anything with
    ``range(prefix)`` (e.g. ``reconciler.statestore.etcd.Kv``). The CLI turns the dicts
    back with ``SyncStatus.from_dict`` and renders them with
    ``reconciler.cli.sync.render_syncs`` / ``status_lines``.
    """
    return [asdict(s) for s in await read_syncs(PortStore(port))]
