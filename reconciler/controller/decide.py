"""Which actions of the planned transition go now.

Level-triggered: the coordinator re-plans from the whole state after every
change (a result recorded, a manifest applied, a node lost). Completed actions
therefore vanish from the next plan, and a step is ready when none of its
inputs still has to run. Pseudo steps are transparent: they are satisfied when
their own inputs are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.controller.retry import RetryBook
from reconciler.controller.steps import Decision, InFlight, Step

DEFAULT_BATCH_LIMIT = 64


def _satisfied_fn(by_id: Mapping[str, Step]) -> dict[str, bool]:
    """For every step: would everything it waits on be done? (pseudo steps only can be)."""
    memo: dict[str, bool] = {}

    def sat(step_id: str, trail: frozenset[str]) -> bool:
        if step_id in memo:
            return memo[step_id]
        step = by_id.get(step_id)
        if step is None:
            return True  # not planned any more: done
        if not step.pseudo or step_id in trail:
            memo[step_id] = False
            return False
        result = all(sat(i, trail | {step_id}) for i in sorted(step.inputs))
        memo[step_id] = result
        return result

    for sid in sorted(by_id):
        sat(sid, frozenset())
    return memo


def decide(
    steps: Sequence[Step],
    in_flight: Mapping[str, InFlight],
    now: float,
    retries: RetryBook | None = None,
    batch_limit: int = DEFAULT_BATCH_LIMIT,
) -> Decision:
    """Decide what to dispatch now. Pure and deterministic (output sorted by id)."""
    by_id: dict[str, Step] = {}
    for s in steps:
        if s.id in by_id:
            raise ValueError(f"duplicate step id {s.id!r} in the plan")
        by_id[s.id] = s
    stale = sorted(i for i in in_flight if i not in by_id)
    if stale:
        return Decision(
            dispatch=(),
            aborted=True,
            waiting=tuple(sorted(in_flight)),
            converged=False,
            retry_at=None,
            reasons=tuple(f"transition aborted: waiting for {i}" for i in stale),
        )
    memo = _satisfied_fn(by_id)
    busy = {(f.resource, f.node) for f in in_flight.values() if f.resource is not None}
    budget = max(0, batch_limit - len(in_flight))
    dispatch: list[str] = []
    reasons: list[str] = []
    retry_at: float | None = None
    for sid in sorted(by_id):
        step = by_id[sid]
        if step.pseudo or sid in in_flight:
            continue
        pending = sorted(i for i in step.inputs if not memo.get(i, i not in by_id))
        if pending:
            continue
        if step.resource is not None and (step.resource, step.node) in busy:
            reasons.append(f"{sid}: another operation on {step.resource} is running")
            continue
        if retries is not None:
            not_before = retries.not_before(sid)
            if not_before is not None and not_before > now:
                reasons.append(f"{sid}: backing off until {not_before:.3f}")
                retry_at = not_before if retry_at is None else min(retry_at, not_before)
                continue
        if budget <= 0:
            reasons.append(f"{sid}: batch limit {batch_limit} reached")
            continue
        budget -= 1
        dispatch.append(sid)
        if step.resource is not None:
            busy.add((step.resource, step.node))
    real = [s for s in by_id.values() if not s.pseudo]
    return Decision(
        dispatch=tuple(dispatch),
        aborted=False,
        waiting=tuple(sorted(in_flight)),
        converged=not real and not in_flight,
        retry_at=retry_at,
        reasons=tuple(reasons),
    )
