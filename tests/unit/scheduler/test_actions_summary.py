"""Actions, ordering propagation, the DAG and the Transition Summary lines."""

from __future__ import annotations

import random

from build import cluster, op, prim, running

from reconciler.base.score import MINUS_INFINITY
from reconciler.scheduler.input import (
    Clone,
    ClusterOptions,
    Group,
    Location,
    Order,
)
from reconciler.scheduler.plan import Plan, plan
from reconciler.scheduler.summary import render


def lines(p: Plan) -> list[str]:
    return [" ".join(x.split()) for x in render(p).splitlines()]


def test_start_move_stop_lines() -> None:
    locs = (
        Location("l", rsc="b", node="node2", score=100),
        Location("c", rsc="c", node="node1", score=MINUS_INFINITY),
        Location("c2", rsc="c", node="node2", score=MINUS_INFINITY),
    )
    hist = (running("b", "node1"), running("c", "node1"))
    p = plan(cluster((prim("a"), prim("b"), prim("c")), locations=locs, history=hist), 0)
    assert sorted(lines(p)) == sorted(
        [
            "* Start a ( node1 )",
            "* Move b ( node1 -> node2 )",
            "* Stop c ( node1 ) due to node availability",
        ]
    )


def test_exact_pacemaker_layout() -> None:
    p = plan(cluster((prim("rsc1"),)), 0)
    assert render(p) == "  * Start      rsc1    ( node1 )"


def test_recover_in_place_after_monitor_failure() -> None:
    hist = (running("a", "node1", op("start"), op("monitor", 1, 2, 10_000)),)
    assert lines(plan(cluster((prim("a"),), history=hist), 0)) == ["* Recover a ( node1 )"]


def test_mandatory_order_restarts_then_and_blocks_on_unrunnable_first() -> None:
    orders = (Order("o1", first="a", then="b"), Order("o2", first="c", then="d"))
    locs = (
        Location("l1", rsc="c", node="node1", score=MINUS_INFINITY),
        Location("l2", rsc="c", node="node2", score=MINUS_INFINITY),
    )
    hist = (running("b", "node1"), running("d", "node1"))
    inp = cluster(
        (prim("a"), prim("b"), prim("c"), prim("d")),
        nodes=("node1",),
        orders=orders,
        locations=locs,
        history=hist,
    )
    assert sorted(lines(plan(inp, 0))) == sorted(
        [
            "* Start a ( node1 )",
            "* Restart b ( node1 ) due to required a start",
            "* Stop d ( node1 ) due to unrunnable c start",
        ]
    )


def test_optional_order_does_not_restart() -> None:
    orders = (Order("o1", first="a", then="b", kind="Optional"),)
    inp = cluster(
        (prim("a"), prim("b")), nodes=("node1",), orders=orders, history=(running("b", "node1"),)
    )
    assert lines(plan(inp, 0)) == ["* Start a ( node1 )"]


def test_unclean_node_is_fenced_before_recovery() -> None:
    opts = ClusterOptions(stonith_enabled=True, no_quorum_policy="ignore")
    stonith = prim("fence")
    stonith = type(stonith)("fence", "stonith", "fence_dummy")
    inp = cluster(
        (stonith, prim("a")), options=opts, unclean=("node1",), history=(running("a", "node1"),)
    )
    p = plan(inp, 0)
    assert [f.node for f in p.fencing] == ["node1"]
    assert "* Move a ( node1 -> node2 )" in lines(p)


def test_no_quorum_stop_policy() -> None:
    opts = ClusterOptions(stonith_enabled=False, no_quorum_policy="stop")
    inp = cluster(
        (prim("a"), prim("b")), options=opts, quorum=False, history=(running("a", "node1"),)
    )
    assert sorted(lines(plan(inp, 0))) == sorted(
        [
            "* Stop a ( node1 ) due to no quorum",
            "* Start b ( node2 ) due to no quorum (blocked)",
        ]
    )


def test_promotable_clone_promotes_highest_score() -> None:
    clone = Clone("c", prim("s"), promotable=True)
    inp = cluster((clone,), node_attrs={"node2": {"master-s": "10"}, "node1": {"master-s": "5"}})
    got = lines(plan(inp, 0))
    assert "* Promote s:0 ( Stopped -> Promoted node2 )" in got
    assert "* Start s:1 ( node1 )" in got


def _acyclic(p: Plan) -> bool:
    succ: dict[int, list[int]] = {}
    for a, b in p.edges:
        succ.setdefault(a, []).append(b)
    state: dict[int, int] = {}

    def visit(n: int) -> bool:
        state[n] = 1
        for m in succ.get(n, []):
            if state.get(m) == 1 or (state.get(m) is None and not visit(m)):
                return False
        state[n] = 2
        return True

    return all(state.get(n) == 2 or visit(n) for n in list(succ))


def test_graph_is_a_dag_and_plan_is_deterministic() -> None:
    seed = 7
    rng = random.Random(seed)
    groups = tuple(Group(f"g{i}", (prim(f"g{i}a"), prim(f"g{i}b"))) for i in range(4))
    clone = Clone("cl", prim("x"))
    orders = tuple(Order(f"o{i}", first=f"g{i}", then=f"g{i + 1}") for i in range(3))
    orders += (Order("oc", first="cl", then="g0"),)
    hist = tuple(running(f"g{i}a", rng.choice(["node1", "node2"])) for i in range(4))
    inp = cluster((*groups, clone), orders=orders, history=hist)
    p1, p2 = plan(inp, 0), plan(inp, 0)
    assert _acyclic(p1), f"cycle in graph (seed {seed})"
    assert render(p1) == render(p2) and p1.actions == p2.actions


def test_plan_freezes_every_action_field() -> None:
    import dataclasses

    from reconciler.scheduler.plan import ACTION_FIELDS, Action

    assert tuple(f.name for f in dataclasses.fields(Action)) == ACTION_FIELDS
    p = plan(cluster((prim("a"),)), 0)
    for a in p.actions:
        rebuilt = Action(**{name: getattr(a, name) for name in ACTION_FIELDS})
        assert rebuilt == a
