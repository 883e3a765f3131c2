"""The transition graph the coordinator is executing, between two planning passes.

Pacemaker's controller runs a whole transition graph: when an action ends with
its expected result, the actions that were waiting on it go at once; only an
unexpected result (or a change of the configuration) makes it plan again. The
coordinator does the same: a pass installs the graph it planned, and each
expected result runs what is ready now (``remaining`` + the controller's
``decide``) without reading the store and planning again. The store's watch
event of that result (the agent records it before it answers) is then not a
reason for a pass either (``own_record``). Safety rests on the plan's ordering:
a start waits for the probes on every node, and only expected results (a probe
saying "not running", rc 7) complete a step.

Passes and results race (a pass reads the store while results come back), so
every result carries the number of the pass that was current when it arrived:

* a plan from a state read before an action completed as expected must still
  contain that action (it is then treated as done); a plan without it was made
  from a state that does not know the result: it is discarded and the next pass
  plans again (``install`` returns None);
* an unexpected result discards the graph and every plan read before it;
* any other change in the store stops the graph (``abort``, Pacemaker's transition
  abort) until the next pass installs a new one.

A leftover of an action that never recorded (the agent refused or failed to
record it) only costs a later wake-up: the tokens that hide our own records
from the watch expire ``RECORD_WAIT_S`` after the action's timeout.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from reconciler.controller.simple_plan import PlannedAction
from reconciler.controller.steps import Step
from reconciler.daemon import keys
from reconciler.daemon.planning import Planned
from reconciler.daemon.state import ClusterState, live_addresses

RECORD_WAIT_S = 10.0


class RunningGraph:
    def __init__(self) -> None:
        self.passes = 0  # number of the current (latest started) planning pass
        self.by_id: dict[str, PlannedAction] = {}
        self.addresses: Mapping[str, str] = {}
        self.meta: Mapping[str, Mapping[str, str]] = {}
        self.state: ClusterState | None = None  # the state the graph was planned from
        self._steps: tuple[Step, ...] | None = None
        self._installed_at = -1
        self._done: dict[str, int] = {}  # step id -> pass current when it completed
        self._failed_at = -1  # pass current at the latest unexpected result
        self._records: dict[str, list[float]] = {}  # history key -> expiry of own records

    def install(
        self, planned: Planned, by_id: dict[str, PlannedAction], state: ClusterState
    ) -> list[Step] | None:
        """Take the current pass's plan; the steps still to run, or None if it is stale."""
        seq = self.passes
        self._done = {sid: at for sid, at in self._done.items() if at >= seq}
        steps = planned.plan.steps()
        ids = {s.id for s in steps}
        if self._failed_at >= seq or any(sid not in ids for sid in self._done):
            self._steps = None
            return None
        self._steps = tuple(s for s in steps if s.id not in self._done)
        self._installed_at = seq
        self.by_id = by_id
        self.state = state
        self.addresses = live_addresses(state)
        self.meta = planned.meta
        return list(self._steps)

    def remaining(self) -> list[Step] | None:
        """The installed graph without the steps done since; None if it must be re-planned."""
        if self._steps is None or self._failed_at >= self._installed_at:
            return None
        return [s for s in self._steps if s.id not in self._done]

    def abort(self) -> None:
        """Something else changed: nothing more from this graph until the next pass."""
        self._steps = None

    def completed(self, step_id: str) -> None:
        self._done[step_id] = self.passes
        if self._steps is not None and step_id not in self.by_id:
            # it was in flight while this graph was planned without it (the plan read a
            # state that does not know its result, e.g. a start elsewhere): nothing more
            # from this graph; the next pass plans from the result
            self._steps = None

    def unexpected(self, pa: PlannedAction) -> None:
        self._failed_at = self.passes
        self._done.pop(pa.step.id, None)
        waiting = self._records.get(self._key(pa), [])
        if waiting:
            waiting.pop()

    def expect_record(self, pa: PlannedAction) -> None:
        """The agent will record this action's result: that watch event needs no pass."""
        key = self._key(pa)
        if key:
            expiry = time.monotonic() + pa.timeout_ms / 1000 + RECORD_WAIT_S
            self._records.setdefault(key, []).append(expiry)

    def own_record(self, key: str) -> bool:
        """Whether a watch event on ``key`` is the record of an action this graph ran."""
        waiting = self._records.get(key)
        if not waiting:
            return False
        now = time.monotonic()
        waiting[:] = [t for t in waiting if t > now]
        if not waiting:
            del self._records[key]
            return False
        waiting.pop(0)
        if not waiting:
            del self._records[key]
        return True

    @staticmethod
    def _key(pa: PlannedAction) -> str:
        if not pa.step.resource or not pa.step.node or pa.step.operation == "notify":
            return ""
        return keys.history(pa.step.node, pa.step.resource)
