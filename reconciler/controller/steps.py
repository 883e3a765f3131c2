"""The controller's view of a transition graph: steps with inputs.

The daemon translates the scheduler's plan into these (one step per action,
pseudo-actions included) so the decision below does not depend on how the
scheduler spells its actions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Step:
    """One action of the transition graph.

    ``id`` is stable across re-plans of the same state (e.g. ``web_start_0@node1``),
    so an action already in flight is recognised in the next plan.
    ``inputs`` are the ids of the actions that must complete before this one.
    A pseudo step (group/clone bookkeeping) runs nowhere: it completes as soon
    as its inputs have.
    """

    id: str
    resource: str | None = None
    node: str | None = None
    operation: str = ""
    pseudo: bool = False
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InFlight:
    """An action dispatched to an agent whose result has not come back yet."""

    id: str
    resource: str | None
    node: str | None
    since: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What the coordinator does now.

    ``dispatch``: step ids to send to agents now (sorted, deterministic).
    ``aborted``: the plan changed under an in-flight action that is no longer
    planned; nothing new is dispatched until those finish (as Pacemaker aborts
    a transition and waits for the actions in flight).
    ``waiting``: in-flight ids the decision waits for.
    ``converged``: nothing planned, nothing in flight.
    ``retry_at``: the earliest time a held-back step may go (None: none held).
    ``reasons``: one line per step held back, for logs and ``hactl status``.
    """

    dispatch: tuple[str, ...]
    aborted: bool
    waiting: tuple[str, ...]
    converged: bool
    retry_at: float | None
    reasons: tuple[str, ...]
