"""Desired objects + live objects + inventory -> a sync plan. Pure.

Safety rules that live here, not in the I/O:

- only objects in this watcher's inventory are ever pruned;
- nothing is pruned unless pruning was asked for;
- pruning everything (an empty directory) is refused unless explicitly allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.gitops.keys import ObjectKey
from reconciler.gitops.objects import DesiredObject, LiveObject, same_object


@dataclass(frozen=True, slots=True)
class SyncPlan:
    create: tuple[DesiredObject, ...]
    configure: tuple[tuple[DesiredObject, LiveObject], ...]
    unchanged: tuple[ObjectKey, ...]
    prune: tuple[LiveObject, ...]  # to delete now (only with prune enabled)
    pending_prune: tuple[ObjectKey, ...]  # in the inventory, gone from the directory, kept
    inventory: tuple[ObjectKey, ...]  # the inventory after this plan is applied
    refused: str | None = None  # why nothing at all may be done

    @property
    def changes(self) -> int:
        return len(self.create) + len(self.configure) + len(self.prune)

    @property
    def in_sync(self) -> bool:
        return self.refused is None and self.changes == 0


def make_plan(
    desired: Iterable[DesiredObject],
    live: Mapping[ObjectKey, LiveObject],
    inventory: Iterable[ObjectKey],
    *,
    prune: bool,
    allow_empty: bool,
    prunable: frozenset[ObjectKey] | None = None,
) -> SyncPlan:
    """``prunable`` (None = all) limits which gone objects may be pruned now: the
    watcher passes those absent from the directory for longer than the prune delay."""
    wanted = {d.key: d for d in desired}
    inv = frozenset(inventory)
    create: list[DesiredObject] = []
    configure: list[tuple[DesiredObject, LiveObject]] = []
    unchanged: list[ObjectKey] = []
    for key in sorted(wanted):
        d = wanted[key]
        current = live.get(key)
        if current is None:
            create.append(d)
        elif same_object(d.body, current.body):
            unchanged.append(key)
        else:
            configure.append((d, current))
    gone = sorted(k for k in inv if k not in wanted and k in live)
    refused = None
    if prune and not wanted and gone and not allow_empty:
        refused = (
            f"refusing to prune all {len(gone)} objects this sync applied: the directory "
            "holds no manifests (pass --allow-empty to allow it)"
        )
    if prune and refused is None:
        ready = [k for k in gone if prunable is None or k in prunable]
        to_prune = tuple(live[k] for k in ready)
        pending: tuple[ObjectKey, ...] = tuple(k for k in gone if k not in ready)
        new_inventory = tuple(sorted(set(wanted) | set(pending)))
    else:
        to_prune = ()
        pending = tuple(gone)
        new_inventory = tuple(sorted(set(wanted) | set(gone)))
    return SyncPlan(
        create=tuple(create),
        configure=tuple(configure),
        unchanged=tuple(unchanged),
        prune=to_prune,
        pending_prune=pending,
        inventory=new_inventory,
        refused=refused,
    )
