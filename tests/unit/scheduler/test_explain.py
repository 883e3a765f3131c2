from __future__ import annotations

from build import cluster, prim, running

from reconciler.base.score import INFINITY
from reconciler.scheduler.explain import explain, render_table
from reconciler.scheduler.input import Colocation, FailCount, Location
from reconciler.scheduler.plan import plan


def test_explain_names_the_constraints_and_the_bans() -> None:
    from dataclasses import replace

    inp = cluster(
        (prim("web-ip"), prim("web-server", migration_threshold="3")),
        locations=(Location("ip-prefers-2", rsc="web-ip", node="node2", score=100),),
        colocations=(
            Colocation("server-with-ip", score=INFINITY, rsc="web-server", with_rsc="web-ip"),
        ),
        history=(running("web-server", "node1"),),
    )
    inp = replace(
        inp, observed=replace(inp.observed, failcounts=(FailCount("web-server", "node1", 3),))
    )
    text = explain(plan(inp, 0), "web-server")
    assert text.splitlines()[0].startswith("web-server runs on node2")
    assert "failed 3 times (migration-threshold)" in text
    assert "node1: -INFINITY" in text
    assert "colocation server-with-ip with web-ip (required)" in text


def test_table_lists_every_instance_with_its_change() -> None:
    table = render_table(plan(cluster((prim("a"), prim("b")), history=(running("b", "node2"),)), 0))
    rows = table.splitlines()
    assert rows[0].split() == ["RESOURCE", "NOW", "NEXT", "CHANGE"]
    assert rows[1].split() == ["a", "-", "node1", "Start"]
    assert rows[2].split() == ["b", "node2", "node2", "-"]


def test_explain_says_why_a_node_cannot_be_used() -> None:
    inp = cluster(
        (prim("a"),),
        nodes=("node1", "node2", "node3"),
        offline=("node3",),
        node_attrs={"node1": {"standby": "on"}},
    )
    text = explain(plan(inp, 0), "a")
    assert "node1: 0: node is standby" in text and "node3: 0: node is offline" in text
