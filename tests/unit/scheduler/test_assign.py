"""Placement (stage 2): scores, stickiness, colocation, tie-breaks, strategies."""

from __future__ import annotations

from build import cluster, prim, running

from reconciler.base.score import INFINITY, MINUS_INFINITY
from reconciler.scheduler.input import ClusterOptions, Colocation, Group, Location
from reconciler.scheduler.plan import plan


def where(inp: object, rsc: str) -> str | None:
    return plan(inp, 0).placements[rsc].node  # type: ignore[arg-type]


def test_tie_break_spreads_then_orders_by_name() -> None:
    p = plan(cluster((prim("a"), prim("b"), prim("c"))), 0)
    assert [p.placements[r].node for r in "abc"] == ["node1", "node2", "node1"]


def test_location_preference_and_ban() -> None:
    locs = (Location("l1", rsc="a", node="node2", score=50),)
    assert where(cluster((prim("a"),), locations=locs), "a") == "node2"
    bans = (
        Location("b1", rsc="a", node="node1", score=MINUS_INFINITY),
        Location("b2", rsc="a", node="node2", score=MINUS_INFINITY),
    )
    p = plan(cluster((prim("a"),), locations=bans), 0)
    assert p.placements["a"].node is None and p.placements["a"].reason == "node availability"


def test_asymmetric_cluster_needs_opt_in() -> None:
    opts = ClusterOptions(symmetric_cluster=False, stonith_enabled=False)
    assert where(cluster((prim("a"),), options=opts), "a") is None
    locs = (Location("l", rsc="a", node="node2", score=0),)
    assert where(cluster((prim("a"),), options=opts, locations=locs), "a") == "node2"


def test_stickiness_keeps_a_running_resource_against_a_weaker_preference() -> None:
    locs = (Location("l", rsc="a", node="node1", score=50),)
    hist = (running("a", "node2"),)
    assert (
        where(cluster((prim("a", resource_stickiness="100"),), locations=locs, history=hist), "a")
        == "node2"
    )
    assert (
        where(cluster((prim("a", resource_stickiness="10"),), locations=locs, history=hist), "a")
        == "node1"
    )


def test_mandatory_colocation_and_anti_colocation() -> None:
    locs = (Location("l", rsc="b", node="node2", score=10),)
    with_b = (Colocation("c", score=INFINITY, rsc="a", with_rsc="b"),)
    p = plan(cluster((prim("a"), prim("b")), locations=locs, colocations=with_b), 0)
    assert p.placements["a"].node == p.placements["b"].node == "node2"
    apart = (Colocation("c", score=MINUS_INFINITY, rsc="a", with_rsc="b"),)
    p = plan(cluster((prim("a"), prim("b")), locations=locs, colocations=apart), 0)
    assert p.placements["a"].node == "node1" and p.placements["b"].node == "node2"


def test_dependent_preferences_pull_the_primary() -> None:
    # b prefers node2 strongly and must run with a: a is placed with b's wishes in mind
    locs = (
        Location("l", rsc="b", node="node2", score=500),
        Location("m", rsc="a", node="node1", score=100),
    )
    cols = (Colocation("c", score=INFINITY, rsc="b", with_rsc="a"),)
    p = plan(cluster((prim("a"), prim("b")), locations=locs, colocations=cols), 0)
    assert p.placements["a"].node == "node2" == p.placements["b"].node


def test_group_members_follow_the_first_and_stop_after_a_failure_to_place() -> None:
    g = Group("g", (prim("m1"), prim("m2"), prim("m3")))
    locs = (
        Location("l", rsc="g", node="node2", score=10),
        Location("ban", rsc="m2", node="node2", score=MINUS_INFINITY),
        Location("ban1", rsc="m2", node="node1", score=MINUS_INFINITY),
    )
    p = plan(cluster((g,), locations=locs), 0)
    assert p.placements["m1"].node == "node2"
    assert p.placements["m2"].node is None and p.placements["m3"].node is None


def test_utilization_strategy_respects_capacity() -> None:
    from reconciler.scheduler.input import Node, Primitive

    inp = cluster(
        (
            Primitive("a", "ocf", "Dummy", "pacemaker", utilization={"cpu": 2}),
            Primitive("b", "ocf", "Dummy", "pacemaker", utilization={"cpu": 2}),
        ),
        options=ClusterOptions(stonith_enabled=False, placement_strategy="utilization"),
    )
    from dataclasses import replace

    inp = replace(
        inp,
        nodes=(
            Node("node1", "1", utilization={"cpu": 3}),
            Node("node2", "2", utilization={"cpu": 1}),
        ),
    )
    p = plan(inp, 0)
    assert p.placements["a"].node == "node1" and p.placements["b"].node is None


def test_explanation_lists_contributions() -> None:
    locs = (Location("prefer-2", rsc="a", node="node2", score=50),)
    pl = plan(cluster((prim("a"),), locations=locs), 0).placements["a"]
    assert pl.scores["node2"] == 50
    assert any(c.source == "prefer-2" and c.node == "node2" for c in pl.contributions)
