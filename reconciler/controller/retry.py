"""Back-off for an action the plan keeps asking for (a hot loop guard).

If the same step id is dispatched again within ``window`` seconds of its last
dispatch, the next dispatch waits ``base * 2**(n-1)`` seconds (capped). A step
that ended as asked (a start that started, a fencing that succeeded) is
``forget``-ed, so the next need for it (the resource failing over back to this
node, the same node lost again seconds after it rejoined) does not wait: the
guard is for steps that keep failing or keep being asked for without an answer.
An immutable value: ``record`` and ``forget`` return a new book.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class _Entry:
    last: float
    repeats: int


@dataclass(frozen=True, slots=True)
class RetryBook:
    base: float = 0.2
    cap: float = 10.0
    window: float = 30.0
    entries: tuple[tuple[str, _Entry], ...] = field(default=())

    def _get(self, step_id: str) -> _Entry | None:
        for k, v in self.entries:
            if k == step_id:
                return v
        return None

    def not_before(self, step_id: str) -> float | None:
        e = self._get(step_id)
        if e is None or e.repeats == 0:
            return None
        delay: float = min(self.cap, self.base * 2.0 ** (e.repeats - 1))
        return e.last + delay

    def record(self, step_id: str, now: float) -> RetryBook:
        e = self._get(step_id)
        repeats = 0 if e is None or now - e.last > self.window else e.repeats + 1
        kept = tuple(
            (k, v) for k, v in self.entries if k != step_id and now - v.last <= self.window
        )
        return RetryBook(
            self.base,
            self.cap,
            self.window,
            tuple(sorted((*kept, (step_id, _Entry(now, repeats))), key=lambda kv: kv[0])),
        )

    def forget(self, step_id: str) -> RetryBook:
        kept = tuple((k, v) for k, v in self.entries if k != step_id)
        return RetryBook(self.base, self.cap, self.window, kept)
