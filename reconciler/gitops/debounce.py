"""Debounce with a quiet period and a maximum wait. Pure: time is an argument.

A burst of changes ends in one reconcile: the first change opens a window; each
further change pushes the deadline to ``last change + quiet``, but never past
``first change + max_wait``, so a directory that never stops changing is still
reconciled at a bounded rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Debounce:
    quiet: float
    max_wait: float
    first_change: float | None = None
    last_change: float | None = None

    def __post_init__(self) -> None:
        if self.quiet < 0 or self.max_wait < self.quiet:
            raise ValueError("debounce needs 0 <= quiet <= max_wait")

    @property
    def pending(self) -> bool:
        return self.first_change is not None

    def changed(self, now: float) -> Debounce:
        """Record a change seen at ``now``."""
        first = self.first_change if self.first_change is not None else now
        return replace(self, first_change=first, last_change=now)

    def deadline(self) -> float | None:
        """When the pending changes are due, or None when nothing is pending."""
        if self.first_change is None or self.last_change is None:
            return None
        return min(self.last_change + self.quiet, self.first_change + self.max_wait)

    def due(self, now: float) -> bool:
        deadline = self.deadline()
        return deadline is not None and now >= deadline

    def fired(self) -> Debounce:
        """The pending window was handled; start afresh."""
        return replace(self, first_change=None, last_change=None)
