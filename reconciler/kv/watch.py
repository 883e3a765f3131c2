"""Watch bookkeeping: which events a watcher sees, grouped by revision as etcd sends them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import groupby

from reconciler.kv.types import Event, EventType

FILTER_NOPUT = 0
FILTER_NODELETE = 1


@dataclass(frozen=True, slots=True)
class WatchSpec:
    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False
    filters: frozenset[int] = frozenset()

    def matches(self, ev: Event) -> bool:
        key = ev.kv.key
        if not self.range_end:
            hit = key == self.key
        elif self.range_end == b"\x00":
            hit = key >= self.key
        else:
            hit = self.key <= key < self.range_end
        if not hit:
            return False
        if ev.type == EventType.PUT and FILTER_NOPUT in self.filters:
            return False
        return not (ev.type == EventType.DELETE and FILTER_NODELETE in self.filters)

    def select(self, events: list[Event] | tuple[Event, ...]) -> list[Event]:
        out = [e for e in events if self.matches(e)]
        if not self.prev_kv:
            out = [replace(e, prev_kv=None) if e.prev_kv is not None else e for e in out]
        return out


def by_revision(events: list[Event]) -> list[tuple[int, list[Event]]]:
    """Split events into one batch per revision, in order (one WatchResponse each)."""
    return [(rev, list(group)) for rev, group in groupby(events, key=lambda e: e.kv.mod_revision)]
