"""Exponential backoff for a reconcile that keeps failing. Pure: time is an argument.

A failure of revision R blocks further attempts of R until ``not_before``; each
consecutive failure of the same revision doubles the delay up to ``cap``. A new
revision starts afresh (a user's next save is tried promptly, after debounce).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 1.0
    cap: float = 300.0
    revision: str | None = None
    failures: int = 0
    not_before: float = 0.0

    def failed(self, revision: str, now: float) -> Backoff:
        failures = self.failures + 1 if revision == self.revision else 1
        delay = min(self.cap, self.initial * (2 ** (failures - 1)))
        return replace(self, revision=revision, failures=failures, not_before=now + delay)

    def succeeded(self) -> Backoff:
        return replace(self, revision=None, failures=0, not_before=0.0)

    def allows(self, revision: str, now: float) -> bool:
        """May ``revision`` be attempted at ``now``?"""
        return revision != self.revision or now >= self.not_before

    def wait_for(self, revision: str, now: float) -> float:
        return 0.0 if self.allows(revision, now) else self.not_before - now
