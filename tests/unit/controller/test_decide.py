"""The reconcile decision: readiness through pseudo steps, abort, one op per resource."""

from __future__ import annotations

import pytest

from reconciler.controller.decide import decide
from reconciler.controller.retry import RetryBook
from reconciler.controller.steps import InFlight, Step


def move_plan() -> list[Step]:
    return [
        Step("web_stop_0@n1", "web", "n1", "stop"),
        Step("web_start_0@n2", "web", "n2", "start", inputs=("web_stop_0@n1",)),
        Step("web_monitor_10000@n2", "web", "n2", "monitor", inputs=("web_start_0@n2",)),
    ]


def test_only_steps_without_pending_inputs_go() -> None:
    d = decide(move_plan(), {}, now=0.0)
    assert d.dispatch == ("web_stop_0@n1",)
    assert not d.aborted and not d.converged


def test_completed_inputs_vanish_and_dependents_become_ready() -> None:
    d = decide(move_plan()[1:], {}, now=0.0)
    assert d.dispatch == ("web_start_0@n2",)


def test_pseudo_steps_are_transparent() -> None:
    steps = [
        Step("a_start@n1", "a", "n1", "start"),
        Step("g_running", pseudo=True, inputs=("a_start@n1",)),
        Step("b_start@n1", "b", "n1", "start", inputs=("g_running",)),
        Step("g_start", pseudo=True),
        Step("c_start@n1", "c", "n1", "start", inputs=("g_start",)),
    ]
    d = decide(steps, {}, now=0.0)
    assert d.dispatch == ("a_start@n1", "c_start@n1")
    d2 = decide([s for s in steps if s.id != "a_start@n1"], {}, now=0.0)
    assert "b_start@n1" in d2.dispatch


def test_in_flight_step_is_not_dispatched_twice() -> None:
    f = {"web_stop_0@n1": InFlight("web_stop_0@n1", "web", "n1", 0.0)}
    d = decide(move_plan(), f, now=1.0)
    assert d.dispatch == ()
    assert d.waiting == ("web_stop_0@n1",)


def test_plan_changed_under_in_flight_action_aborts() -> None:
    f = {"old_start@n3": InFlight("old_start@n3", "web", "n3", 0.0)}
    d = decide(move_plan(), f, now=1.0)
    assert d.aborted and d.dispatch == ()


def test_one_operation_per_resource_and_node() -> None:
    steps = [Step("x_stop@n1", "x", "n1", "stop"), Step("x_monitor@n1", "x", "n1", "monitor")]
    d = decide(steps, {}, now=0.0)
    assert d.dispatch == ("x_monitor@n1",)  # sorted first wins; the other waits


def test_batch_limit_bounds_dispatch() -> None:
    steps = [Step(f"r{i}_start@n1", f"r{i}", "n1", "start") for i in range(10)]
    assert len(decide(steps, {}, now=0.0, batch_limit=3).dispatch) == 3


def test_converged_when_nothing_planned_or_running() -> None:
    assert decide([], {}, now=0.0).converged
    assert decide([Step("p", pseudo=True)], {}, now=0.0).converged


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        decide([Step("a"), Step("a")], {}, now=0.0)


def test_repeated_dispatch_backs_off() -> None:
    book = RetryBook(base=1.0, cap=8.0, window=30.0)
    book = book.record("a", 0.0)
    assert book.not_before("a") is None
    book = book.record("a", 0.5)
    assert book.not_before("a") == 1.5
    d = decide([Step("a", "r", "n1", "start")], {}, now=1.0, retries=book)
    assert d.dispatch == () and d.retry_at == 1.5
    book = book.record("a", 2.0)
    assert book.not_before("a") == 4.0
    assert book.record("a", 100.0).not_before("a") is None  # outside the window: fresh


def test_a_forgotten_step_goes_at_once() -> None:
    # a fencing that succeeded: the same node lost again seconds later is fenced at once
    book = RetryBook(base=1.0, cap=8.0, window=30.0).record("f", 0.0).record("f", 5.0)
    assert book.not_before("f") == 6.0
    book = book.forget("f")
    assert book.not_before("f") is None
    assert book.record("f", 10.0).not_before("f") is None
    d = decide([Step("f", "", "n1", "fence")], {}, now=10.0, retries=book.record("f", 10.0))
    assert d.dispatch == ("f",)


def test_failed_stop_escalates_to_fencing_before_recovery() -> None:
    from reconciler.controller.fencing import Health
    from reconciler.controller.simple_plan import (
        NodeView,
        Rsc,
        RscOnNode,
        SimpleInput,
        Unit,
        plan_simple,
    )

    r = Rsc("web", "ocf:heartbeat:Dummy")
    inp = SimpleInput(
        units=(Unit("web", (r,)),),
        nodes=(NodeView("n1", Health.ONLINE), NodeView("n2", Health.ONLINE)),
        observed={("web", "n1"): RscOnNode("stop_failed"), ("web", "n2"): RscOnNode("stopped")},
        fence_agent="stonith:fence_x",
    )
    p = plan_simple(inp)
    ids = {a.step.id: a for a in p.actions}
    assert "fence_n1@n2" in ids and ids["fence_n1@n2"].target == "n1"
    assert ids["web_start_0@n2"].step.inputs == ("fence_n1@n2",)
    d = decide(p.steps(), {}, now=0.0)
    assert d.dispatch == ("fence_n1@n2",)
