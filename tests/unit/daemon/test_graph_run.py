"""The coordinator's running transition graph: what an expected result unblocks, and when
a plan is stale (read before a result came back)."""

from __future__ import annotations

from reconciler.controller.decide import decide
from reconciler.controller.simple_plan import PlannedAction, SimplePlan
from reconciler.controller.steps import InFlight, Step
from reconciler.daemon import keys
from reconciler.daemon.graph_run import RunningGraph
from reconciler.daemon.planning import Planned
from reconciler.daemon.state import ClusterState

NODES = ("n1", "n2", "n3")
PROBES = tuple(f"a_monitor_0@{n}" for n in NODES)
STATE = ClusterState(
    revision=1, live={n: {"address": f"127.0.0.1:{i}"} for i, n in enumerate(NODES)}
)


def planned(*steps: Step) -> tuple[Planned, dict[str, PlannedAction]]:
    actions = tuple(PlannedAction(s, agent="ocf:pacemaker:Dummy") for s in steps)
    return Planned(SimplePlan(actions, {}, ()), {}, None, {}), {a.step.id: a for a in actions}


def fresh_resource() -> tuple[Planned, dict[str, PlannedAction]]:
    return planned(
        *(Step(p, "a", p.split("@")[1], "monitor") for p in PROBES),
        Step("a_start_0@n1", "a", "n1", "start", inputs=PROBES),
        Step("a_monitor_10000@n1", "a", "n1", "monitor", inputs=("a_start_0@n1",)),
    )


def ready(g: RunningGraph, in_flight: dict[str, InFlight]) -> tuple[str, ...]:
    steps = g.remaining()
    assert steps is not None
    return decide(steps, in_flight, 0.0).dispatch


def test_the_start_goes_only_once_every_probe_said_not_running() -> None:
    g = RunningGraph()
    g.passes = 1
    p, by_id = fresh_resource()
    steps = g.install(p, by_id, STATE)
    assert steps is not None
    assert decide(steps, {}, 0.0).dispatch == PROBES
    flight = {s: InFlight(s, "a", s.split("@")[1], 0.0) for s in PROBES}
    for done in PROBES[:2]:
        del flight[done]
        g.completed(done)
        assert ready(g, flight) == ()  # a probe is still out
    del flight[PROBES[2]]
    g.completed(PROBES[2])
    assert ready(g, flight) == ("a_start_0@n1",)
    g.completed("a_start_0@n1")
    assert ready(g, {}) == ("a_monitor_10000@n1",)


def test_an_unexpected_result_stops_the_graph_and_plans_read_before_it() -> None:
    g = RunningGraph()
    g.passes = 1
    p, by_id = fresh_resource()
    assert g.install(p, by_id, STATE) is not None
    g.completed(PROBES[0])
    g.completed(PROBES[1])
    g.unexpected(by_id[PROBES[2]])  # "running here": the start must not go
    assert g.remaining() is None
    assert g.install(p, by_id, STATE) is None  # this pass read the store before that result
    g.passes = 2
    assert g.install(p, by_id, STATE) is not None  # the next one plans from the result


def test_a_plan_without_an_action_that_completed_meanwhile_is_stale() -> None:
    g = RunningGraph()
    g.passes = 1
    p, by_id = fresh_resource()
    g.install(p, by_id, STATE)
    for probe in PROBES:
        g.completed(probe)
    g.completed("a_start_0@n1")
    # a pass that read before the start's result: the same graph, the done steps removed
    steps = g.install(p, by_id, STATE)
    assert steps is not None and [s.id for s in steps] == ["a_monitor_10000@n1"]
    # a pass that read before, planning something else (the start on n2): stale
    other, other_ids = planned(Step("a_start_0@n2", "a", "n2", "start"))
    assert g.install(other, other_ids, STATE) is None
    # a pass that read after the results plans from them
    g.passes = 2
    assert g.install(other, other_ids, STATE) is not None


def test_own_records_wake_no_pass_once_each() -> None:
    g = RunningGraph()
    _, by_id = fresh_resource()
    g.expect_record(by_id[PROBES[0]])
    key = keys.history("n1", "a")
    assert g.own_record(key)
    assert not g.own_record(key)  # a second change of that history is news
    assert not g.own_record(keys.history("n2", "a"))
    g.expect_record(by_id[PROBES[1]])
    g.unexpected(by_id[PROBES[1]])  # refused or failed: no record to hide
    assert not g.own_record(keys.history("n2", "a"))


def test_notify_actions_expect_no_record() -> None:
    g = RunningGraph()
    _, by_id = planned(Step("c:0_post_notify_start_0@n1", "c:0", "n1", "notify"))
    g.expect_record(by_id["c:0_post_notify_start_0@n1"])
    assert not g.own_record(keys.history("n1", "c:0"))


def test_another_change_stops_the_graph_until_the_next_pass() -> None:
    g = RunningGraph()
    g.passes = 1
    p, by_id = fresh_resource()
    assert g.install(p, by_id, STATE) is not None
    g.completed(PROBES[0])
    g.abort()
    assert g.remaining() is None
    g.passes = 2
    steps = g.install(p, by_id, STATE)
    assert steps is not None and PROBES[0] in {s.id for s in steps}  # read after: as planned


def test_an_action_in_flight_while_the_graph_was_planned_without_it_stops_the_graph() -> None:
    # the whole-cluster restart: node2 alone is up, "a" starts there; node1 joins and a
    # pass (reading the store before the start's result) plans the start on node1
    # instead. When the node2 start then succeeds, the graph must not go on to start
    # "a" on node1 too: it never knew about node2's start.
    g = RunningGraph()
    g.passes = 1
    first, first_ids = planned(Step("a_start_0@n2", "a", "n2", "start"))
    assert g.install(first, first_ids, STATE) is not None
    flight = {"a_start_0@n2": InFlight("a_start_0@n2", "a", "n2", 0.0)}
    g.passes = 2
    second, second_ids = planned(
        Step("a_monitor_0@n1", "a", "n1", "monitor"),
        Step("a_start_0@n1", "a", "n1", "start", inputs=("a_monitor_0@n1",)),
    )
    steps = g.install(second, second_ids, STATE)
    assert steps is not None
    assert decide(steps, flight, 0.0).aborted  # the start on n2 is still out
    del flight["a_start_0@n2"]
    g.completed("a_start_0@n2")
    assert g.remaining() is None  # re-plan: "a" now runs on n2
