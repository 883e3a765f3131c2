"""Failure accounting: failcounts, migrationThreshold, failureTimeout, recheck times.

A node agent records, per resource on its node, how many operations failed and
when the last failure was (wall-clock seconds). As in Pacemaker, the whole
failcount expires once ``failureTimeout`` has passed since the *last* failure;
the coordinator must then re-plan at that moment even if nothing else changes,
so :func:`next_recheck` says when.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

INFINITY_FAILS = 1_000_000


@dataclass(frozen=True, slots=True)
class FailureRecord:
    resource: str
    node: str
    count: int
    last_failure: float  # wall seconds


def effective_count(rec: FailureRecord, failure_timeout: float | None, now: float) -> int:
    """The failcount that counts at ``now`` (0 once expired)."""
    if rec.count <= 0:
        return 0
    if failure_timeout is not None and 0 < failure_timeout <= now - rec.last_failure:
        return 0
    return min(rec.count, INFINITY_FAILS)


def expires_at(rec: FailureRecord, failure_timeout: float | None) -> float | None:
    if rec.count <= 0 or failure_timeout is None or failure_timeout <= 0:
        return None
    return rec.last_failure + failure_timeout


def banned(count: int, migration_threshold: int | None) -> bool:
    """Pacemaker: a resource may not run on a node once failcount >= migration-threshold.

    A threshold of 0 (or None) disables the ban, as Pacemaker's default of
    INFINITY effectively does.
    """
    if migration_threshold is None or migration_threshold <= 0:
        return False
    return count >= migration_threshold


def next_recheck(deadlines: Iterable[float | None], now: float) -> float | None:
    """The earliest future deadline (failcount expiry, constraint lifetime end), if any."""
    future = sorted(d for d in deadlines if d is not None and d > now)
    return future[0] if future else None


def failcount_after(
    operation: str,
    interval_ms: int,
    rc: int,
    expected_rc: int,
    prior: int,
    *,
    start_failure_is_fatal: bool = True,
) -> int | None:
    """The new failcount after one result, or None if the result is no failure.

    A probe finding the resource stopped (7) or running (0, 8) is information,
    not a failure. A failed start counts as INFINITY when start-failure-is-fatal
    (Pacemaker's default), so the resource leaves the node at once.
    """
    if rc == expected_rc:
        return None
    if operation == "monitor" and interval_ms == 0 and rc in (0, 7, 8):
        return None
    if operation == "start" and start_failure_is_fatal:
        return INFINITY_FAILS
    return min(INFINITY_FAILS, prior + 1)
