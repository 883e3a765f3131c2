"""Time is an argument. Pure code takes ``now``; everything else takes a ``Clock``.

The system clock lives in ``reconciler.system.clock`` (an adapter); tests use
:class:`ManualClock`.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for timeouts and intervals)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (for timestamps shown to people and lifetimes)."""
        ...


class ManualClock:
    """A clock that moves only when told to. Deterministic tests use it."""

    def __init__(self, start: float = 0.0, wall_offset: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_offset

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._now += seconds
