"""On-fail policies, multiple-active policies, probes, monitors and fencing order."""

from __future__ import annotations

from build import cluster, op, prim, running

from reconciler.scheduler.input import (
    Clone,
    ClusterOptions,
    Operation,
    Primitive,
)
from reconciler.scheduler.plan import plan
from reconciler.scheduler.summary import render


def lines(inp: object) -> list[str]:
    return sorted(" ".join(x.split()) for x in render(plan(inp, 0)).splitlines())  # type: ignore[arg-type]


def with_ops(rid: str, *ops: Operation, **meta: str) -> Primitive:
    return Primitive(rid, "ocf", "Dummy", "pacemaker", meta=meta, operations=ops)


def failed_monitor(rsc: str, node: str = "node1") -> tuple:  # type: ignore[type-arg]
    return (running(rsc, node, op("start"), op("monitor", 1, 2, 10_000)),)


def test_on_fail_stop_stops_everywhere() -> None:
    r = with_ops("a", Operation("monitor", 10_000, on_fail="stop"))
    assert lines(cluster((r,), history=failed_monitor("a"))) == [
        "* Stop a ( node1 ) due to node availability"
    ]


def test_on_fail_block_leaves_it_alone_and_ignore_keeps_it() -> None:
    blocked = with_ops("a", Operation("monitor", 10_000, on_fail="block"))
    assert lines(cluster((blocked,), history=failed_monitor("a"))) == []
    ignored = with_ops("a", Operation("monitor", 10_000, on_fail="ignore"))
    assert lines(cluster((ignored,), history=failed_monitor("a"))) == []


def test_on_fail_standby_moves_everything_off_the_node() -> None:
    r = with_ops("a", Operation("monitor", 10_000, on_fail="standby"))
    hist = (*failed_monitor("a"), running("b", "node1"))
    assert lines(cluster((r, prim("b")), history=hist)) == [
        "* Move b ( node1 -> node2 )",
        "* Recover a ( node1 -> node2 )",
    ]


def test_on_fail_demote_only_demotes() -> None:
    child = with_ops("s", Operation("monitor", 10_000, role="Promoted", on_fail="demote"))
    clone = Clone("c", child, promotable=True)
    hist = (
        running("s", "node1", op("start"), op("promote", 0, 2), op("monitor", 9, 3, 10_000)),
        running("s", "node2", op("start")),
    )
    got = lines(cluster((clone,), history=hist, node_attrs={"node1": {"master-s": "10"}}))
    assert "* Demote s:0 ( Promoted -> Unpromoted node1 )" in got
    assert not any("Recover" in x for x in got)


def test_multiple_active_policies() -> None:
    hist = (running("a", "node1"), running("a", "node2"))
    assert lines(cluster((prim("a"),), history=hist)) == ["* Restart a ( node1 )"]
    stop_only = prim("a", multiple_active="stop_only")
    got = lines(cluster((stop_only,), history=hist))
    assert got == [
        "* Stop a ( node1 ) due to node availability",
        "* Stop a ( node2 ) due to node availability",
    ]
    assert lines(cluster((prim("a", multiple_active="block"),), history=hist)) == []


def test_probes_and_recurring_monitors_in_the_graph() -> None:
    r = with_ops("a", Operation("monitor", 10_000))
    p = plan(cluster((r,)), 0)
    probes = [a for a in p.actions if a.task == "monitor" and a.interval_ms == 0]
    assert sorted(a.node for a in probes) == ["node1", "node2"]
    start = next(a for a in p.actions if a.task == "start")
    mon = next(a for a in p.actions if a.task == "monitor" and a.interval_ms == 10_000)
    assert mon.node == start.node and not mon.optional
    assert all((pr.id, start.id) in p.edges for pr in probes)
    assert (start.id, mon.id) in p.edges


def test_fencing_is_serialised_unless_concurrent() -> None:
    fence = Primitive("f", "stonith", "fence_dummy")
    nodes = ("node1", "node2", "node3")
    opts = ClusterOptions(stonith_enabled=True, no_quorum_policy="ignore")
    inp = cluster((fence,), nodes=nodes, unclean=("node2", "node3"), options=opts)
    p = plan(inp, 0)
    fences = [a for a in p.actions if a.resource is None and a.task.startswith("stonith")]
    assert len(fences) == 2 and (fences[0].id, fences[1].id) in p.edges
    opts = ClusterOptions(stonith_enabled=True, no_quorum_policy="ignore", concurrent_fencing=True)
    p = plan(cluster((fence,), nodes=nodes, unclean=("node2", "node3"), options=opts), 0)
    fences = [a for a in p.actions if a.resource is None and a.task.startswith("stonith")]
    assert not any((x.id, y.id) in p.edges for x in fences for y in fences)


def test_unmanaged_and_maintenance_produce_no_actions() -> None:
    hist = (running("a", "node1", op("start"), op("monitor", 1, 2, 10_000)),)
    assert lines(cluster((prim("a", is_managed="false"),), history=hist)) == []
    opts = ClusterOptions(stonith_enabled=False, maintenance_mode=True)
    assert lines(cluster((prim("a"), prim("b")), history=hist, options=opts)) == []


def test_multiple_active_stop_unexpected_keeps_the_chosen_instance() -> None:
    hist = (running("a", "node1"), running("a", "node2"))
    p = plan(cluster((prim("a", multiple_active="stop_unexpected"),), history=hist), 0)
    todo = sorted((a.task, a.node) for a in p.required_actions() if a.interval_ms == 0)
    assert todo == [("stop", "node2")]


def test_allow_migrate_moves_by_live_migration() -> None:
    from reconciler.base.score import MINUS_INFINITY
    from reconciler.scheduler.input import Location

    ban = (Location("away", rsc="vm", node="node1", score=MINUS_INFINITY),)
    hist = (running("vm", "node1"),)
    inp = cluster((prim("vm", allow_migrate="true"),), locations=ban, history=hist)
    assert lines(inp) == ["* Migrate vm ( node1 -> node2 )"]
    p = plan(inp, 0)
    tasks = {a.task for a in p.required_actions()}
    assert {"migrate_to", "migrate_from", "stop"} <= tasks
    # without allow-migrate it is a plain move
    inp = cluster((prim("vm"),), locations=ban, history=hist)
    assert lines(inp) == ["* Move vm ( node1 -> node2 )"]


def test_ordered_clone_starts_instances_in_sequence() -> None:
    clone = Clone("c", prim("x"), meta={"ordered": "true", "clone-max": "2"})
    p = plan(cluster((clone,)), 0)
    s0 = next(a for a in p.actions if a.resource == "x:0" and a.task == "start")
    s1 = next(a for a in p.actions if a.resource == "x:1" and a.task == "start")
    assert (s0.id, s1.id) in p.edges


def test_changed_parameters_restart_the_resource() -> None:
    from dataclasses import replace

    r = replace(prim("a"), params_digest="new")
    hist = (running("a", "node1", op("start", op_digest="old")),)
    assert lines(cluster((r,), history=hist)) == [
        "* Restart a ( node1 ) due to resource definition change"
    ]
    same = (running("a", "node1", op("start", op_digest="new")),)
    assert lines(cluster((r,), history=same)) == []
    assert lines(cluster((prim("a"),), history=hist)) == []  # no digest: no check


def test_anonymous_clone_probed_once_per_node_unique_clone_per_instance() -> None:
    nodes = ("n1", "n2", "n3")
    anonymous = Clone("c", prim("d"), meta={"clone-max": "2"})
    p = plan(cluster((anonymous,), nodes=nodes), 0)
    probes = sorted(
        (a.resource, a.node) for a in p.actions if a.task == "monitor" and not a.interval_ms
    )
    # the instance assigned to a node is probed there; elsewhere the first instance
    assert probes == [("d:0", "n1"), ("d:0", "n3"), ("d:1", "n2")]
    unique = Clone("u", prim("e"), meta={"clone-max": "2", "globally-unique": "true"})
    p = plan(cluster((unique,), nodes=nodes), 0)
    probes = sorted(
        (a.resource, a.node) for a in p.actions if a.task == "monitor" and not a.interval_ms
    )
    assert len(probes) == 6
    # a node where an instance has history needs no probe of any instance
    known = plan(
        cluster((anonymous,), nodes=nodes, history=(running("d", "n2", op("monitor", 7)),)), 0
    )
    assert not [
        a for a in known.actions if a.task == "monitor" and a.node == "n2" and not a.interval_ms
    ]


def test_contradictory_orderings_are_dropped_and_the_graph_stays_a_dag() -> None:
    from reconciler.scheduler.input import Order

    orders = (
        Order("a-then-b", first="a", then="b", kind="Mandatory"),
        Order("b-then-a", first="b", then="a", kind="Mandatory"),
    )
    p = plan(cluster((prim("a"), prim("b")), orders=orders), 0)
    assert p.dropped_edges
    succ: dict[int, list[int]] = {}
    indeg = dict.fromkeys((a.id for a in p.actions), 0)
    for first, then in p.edges:
        succ.setdefault(first, []).append(then)
        indeg[then] += 1
    ready = [i for i, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        i = ready.pop()
        seen += 1
        for j in succ.get(i, []):
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    assert seen == len(p.actions)  # every action reachable in a topological order


def test_recurring_monitor_required_until_it_is_recorded() -> None:
    r = with_ops("a", Operation("monitor", 10_000))
    started_only = plan(
        cluster((r,), nodes=("node1",), history=(running("a", "node1", op("start")),)), 0
    )
    required = {(a.task, a.node, a.interval_ms) for a in started_only.required_actions()}
    assert ("monitor", "node1", 10_000) in required  # running, but its monitor is not
    monitored = running("a", "node1", op("start"), op("monitor", 0, 2, 10_000))
    settled = plan(cluster((r,), nodes=("node1",), history=(monitored,)), 0)
    assert not settled.required_actions()
    # a stop after the monitor: the next start needs a new monitor again
    stopped = running("a", "node1", op("start"), op("monitor", 0, 2, 10_000), op("stop", 0, 3))
    again = plan(cluster((r,), nodes=("node1",), history=(stopped,)), 0)
    assert ("monitor", "node1", 10_000) in {
        (a.task, a.node, a.interval_ms) for a in again.required_actions()
    }


def test_monitors_sharing_an_interval_are_ignored_as_pacemaker_does() -> None:
    r = with_ops(
        "a",
        Operation("monitor", 5_000, role="Promoted"),
        Operation("monitor", 5_000, role="Unpromoted"),
    )
    p = plan(cluster((r,)), 0)
    assert not [a for a in p.actions if a.task == "monitor" and a.interval_ms]


def test_ordering_before_a_group_restarts_its_members_in_chain() -> None:
    from reconciler.scheduler.input import Group, Order

    g2 = Group("g2", (prim("a2"), prim("b2")))
    g3 = Group("g3", (prim("a3"), prim("b3")))
    history = (
        running("a2", "node1", op("start"), op("monitor", 1, 2, 10_000)),  # failed
        running("b2", "node1"),
        running("a3", "node1"),
        running("b3", "node1"),
    )
    orders = (Order("g2-then-g3", first="g2", then="g3", kind="Mandatory"),)
    out = lines(cluster((g2, g3), nodes=("node1",), history=history, orders=orders))
    assert "* Restart a3 ( node1 ) due to required g2 running" in out
    assert "* Restart b3 ( node1 ) due to required a3 start" in out
