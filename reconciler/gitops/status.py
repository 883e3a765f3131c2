"""The status record and the events of one watcher, as stored (JSON) and as shown.

``hactl get syncs`` and ``hactl status`` read these through :func:`read_statuses`
(in :mod:`reconciler.gitops.records`); nothing else about a watcher needs to be known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# Phases, as shown in `hactl get syncs`.
IN_SYNC = "InSync"
OUT_OF_SYNC = "OutOfSync"  # drift found (report mode) or pending work
INVALID = "Invalid"  # the directory's manifests do not validate: nothing applied
REFUSED = "Refused"  # a safety rule refused the plan (e.g. empty prune)
MISSING = "DirectoryMissing"
ERROR = "Error"  # the store failed (retrying with backoff)
PENDING = "Pending"  # started, nothing reconciled yet

MAX_ERRORS_PER_FILE = 50
MAX_ERRORS_TOTAL = 300
MAX_LISTED = 200


@dataclass(frozen=True, slots=True)
class SyncStatus:
    name: str
    directory: str = ""
    node: str = ""
    phase: str = PENDING
    in_sync: bool = False
    suspended: bool = False
    prune: bool = False
    drift_mode: str = "reassert"
    last_applied_revision: str | None = None
    last_applied_at: float | None = None
    last_attempted_revision: str | None = None
    last_attempted_at: float | None = None
    message: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)  # file -> rendered problems
    pending_prunes: list[str] = field(default_factory=list)  # Kind/name
    drift: list[str] = field(default_factory=list)  # Kind/name differing from the directory
    objects: int = 0
    failures: int = 0
    next_retry_at: float | None = None
    event_seq: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @staticmethod
    def from_json(raw: bytes) -> SyncStatus:
        return SyncStatus.from_dict(json.loads(raw))

    @staticmethod
    def from_dict(data: object) -> SyncStatus:
        """From the JSON form (unknown fields ignored, so older readers keep working)."""
        if not isinstance(data, dict):
            raise ValueError("a sync status must be a JSON object")
        known = set(SyncStatus.__dataclass_fields__)
        return SyncStatus(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> SyncStatus:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class SyncEvent:
    seq: int
    time: float
    type: str  # Normal | Warning
    reason: str  # Applied, Unchanged, Invalid, Pruned, Refused, Drift, Reasserted, StoreError, ...
    revision: str | None
    message: str
    created: list[str] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)
    unchanged: int = 0
    pruned: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @staticmethod
    def from_json(raw: bytes) -> SyncEvent:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a sync event must be a JSON object")
        known = {f for f in SyncEvent.__dataclass_fields__}
        return SyncEvent(**{k: v for k, v in data.items() if k in known})


def errors_by_file(rendered: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Bound the error lists (per file and in all, files sorted) so a status record stays
    small (a store value has a size limit); what is cut is counted in a last line."""
    out: dict[str, list[str]] = {}
    left = MAX_ERRORS_TOTAL
    for f in sorted(rendered):
        lines = rendered[f]
        keep = lines[: max(0, min(MAX_ERRORS_PER_FILE, left))]
        if len(keep) < len(lines):
            keep = [*keep, f"{f}: {len(lines) - len(keep)} more problems not shown"]
        out[f] = keep
        left -= len(keep)
    return out


def short_revision(revision: str | None) -> str:
    if revision is None:
        return "-"
    if revision.startswith("sha256:"):
        return revision[len("sha256:") : len("sha256:") + 12]
    return revision
