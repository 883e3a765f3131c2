"""The coordinator's startup wait (Pacemaker's dc-deadtime), as pure decisions on a ManualClock:
cluster start or coordinator change, whom it waits for, when it ends, what it holds back."""

from __future__ import annotations

from typing import Any

from reconciler.base.clock import ManualClock
from reconciler.controller.simple_plan import PlannedAction
from reconciler.controller.steps import Step
from reconciler.daemon import planning, startup_wait
from reconciler.daemon.startup_wait import StartupGate, Wait, begin, check, held_steps
from reconciler.daemon.state import ClusterState, active_nodes
from reconciler.model.status import OperationRecord, ResourceHistory

NODES = ["node1", "node2", "node3"]


def live(**since: float) -> dict[str, dict[str, Any]]:
    return {n: {"address": f"127.0.0.1:{i}", "since": s} for i, (n, s) in enumerate(since.items())}


def test_a_cluster_start_waits_for_every_configured_node_until_they_joined() -> None:
    clock = ManualClock()
    gate = StartupGate(NODES, "node1")
    t0 = clock.wall()
    events = gate.observe(None, live(node1=t0, node2=t0), {}, 20.0, t0)
    assert gate.waiting and gate.waiting_for == ("node3",)
    assert [e[0] for e in events] == ["Normal"] and "node3" in events[0][2]
    doc = gate.marker(None, live(node1=t0, node2=t0), token=7)
    assert doc is not None and doc["complete"] is False and doc["until"] == t0 + 20.0
    assert doc["members"] == {"node1": t0, "node2": t0} and doc["token"] == 7
    assert gate.marker(doc, live(node1=t0, node2=t0), token=7) is None  # nothing new: no write
    clock.advance(3)
    t3 = clock.wall()
    events = gate.observe(doc, live(node1=t0, node2=t0, node3=t3), {}, 20.0, t3)
    assert not gate.waiting and gate.waiting_for == ()
    assert len(events) == 1 and "every node joined after 3.0 s" in events[0][2]
    done = gate.marker(doc, live(node1=t0, node2=t0, node3=t3), token=7)
    assert done is not None and done["complete"] is True and "until" not in done


def test_the_wait_expires_and_names_the_node_that_did_not_join() -> None:
    clock = ManualClock()
    gate = StartupGate(NODES, "node1")
    t0 = clock.wall()
    lv = live(node1=t0, node2=t0)
    gate.observe(None, lv, {}, 5.0, t0)
    clock.advance(4.9)
    assert gate.observe(None, lv, {}, 5.0, clock.wall()) == [] and gate.waiting
    clock.advance(0.1)
    events = gate.observe(None, lv, {}, 5.0, clock.wall())
    assert not gate.waiting
    assert events == [
        (
            "Warning",
            "node3",
            "cluster start: node3 did not join within startupWait (5 s); "
            "resources start without it",
        )
    ]


def test_a_coordinator_change_in_a_running_cluster_does_not_wait() -> None:
    clock = ManualClock()
    t0 = clock.wall()
    marker = {"complete": True, "members": {"node1": t0, "node2": t0, "node3": t0 + 1}}
    clock.advance(600)
    # node1 (the old coordinator) is gone; node2 and node3 run the same hacd as before
    later = clock.wall()
    assert begin(marker, live(node2=t0, node3=t0 + 1), NODES, 20.0, later, me="node2") is None
    # a rolling restart: node2 rejoined (the coordinator recorded it), node3 still the same
    marker = {"complete": True, "members": {"node2": t0 + 300, "node3": t0 + 1}}
    lv = live(node2=t0 + 300, node3=t0 + 1)
    assert begin(marker, lv, NODES, 20.0, later, me="node2") is None
    assert begin(marker, lv, NODES, 20.0, later, me="node3") is None
    gate = StartupGate(NODES, "node2")
    assert gate.observe(marker, live(node2=t0 + 300, node3=t0 + 1), {}, 20.0, clock.wall()) == []
    assert not gate.waiting


def test_every_hacd_restarted_is_a_cluster_start_even_with_a_complete_marker() -> None:
    clock = ManualClock()
    t0 = clock.wall()
    marker = {"complete": True, "members": {"node1": t0, "node2": t0, "node3": t0}}
    clock.advance(60)
    now = clock.wall()
    got = begin(marker, live(node1=now, node2=now), NODES, 20.0, now, me="node1")
    assert got == Wait(now, now + 20.0, stale={"node1": t0, "node2": t0, "node3": t0})


def test_a_new_coordinator_during_the_wait_goes_on_with_the_same_deadline() -> None:
    clock = ManualClock()
    t0 = clock.wall()
    marker = {
        "complete": False,
        "members": {"node1": t0, "node2": t0},
        "since": t0,
        "until": t0 + 20,
        "seen": ["node1", "node2"],
    }
    clock.advance(8)
    w = begin(marker, live(node2=t0), NODES, 20.0, clock.wall(), me="node2")
    assert w == Wait(t0, t0 + 20, frozenset({"node1", "node2"}))
    # node1 (the old coordinator) joined during the wait and is gone: not waited for
    w2, c = check(w, live(node2=t0), {}, NODES, clock.wall())
    assert c.waiting_for == ("node3",) and c.lost == ("node1",) and not c.expired
    assert w2.seen == w.seen


def test_a_fenced_node_is_known_lost_and_not_waited_for() -> None:
    clock = ManualClock()
    gate = StartupGate(NODES, "node1")
    t0 = clock.wall()
    fencing = {"node3": {"ok": True, "at": t0 - 100}}
    events = gate.observe(None, live(node1=t0, node2=t0), fencing, 20.0, t0)
    assert not gate.waiting and events == []
    gate = StartupGate(NODES, "node1")
    failed = {"node3": {"ok": False}}
    gate.observe(None, live(node1=t0, node2=t0), failed, 20.0, t0)
    assert gate.waiting_for == ("node3",)  # a failed fencing proves nothing


def test_no_wait_for_a_single_node_cluster_or_when_disabled() -> None:
    now = ManualClock().wall()
    assert begin(None, live(node1=now), ["node1"], 20.0, now, me="node1") is None
    assert begin(None, live(node1=now), NODES, 0.0, now, me="node1") is None
    gate = StartupGate(NODES, "node1")
    assert gate.observe(None, live(node1=now, node2=now, node3=now), {}, 20.0, now) == []
    assert not gate.waiting  # everyone is there at the first pass: nothing to say


def test_a_stand_in_for_a_lost_node_is_not_a_join() -> None:
    now = ManualClock().wall()
    lv = live(node1=now, node2=now) | {"node3": {"address": "", "held": True}}
    w, c = check(Wait(now, now + 20), lv, {}, NODES, now)
    assert c.waiting_for == ("node3",) and "node3" not in w.seen
    assert startup_wait.members(lv) == {"node1": now, "node2": now}


def pa(sid: str, op: str, rsc: str = "", node: str = "", target: str = "") -> PlannedAction:
    return PlannedAction(Step(sid, rsc or None, node or None, op), target=target)


def test_held_steps_are_starts_moves_and_fencing_of_awaited_nodes_not_probes_or_safety() -> None:
    actions = [
        pa("a_monitor_0@node1", "monitor", "a", "node1"),
        pa("a_start_0@node1", "start", "a", "node1"),
        pa("m_stop_0@node1", "stop", "m", "node1"),  # a move: m runs on node1 only
        pa("m_start_0@node2", "start", "m", "node2"),
        pa("twice_stop_0@node2", "stop", "twice", "node2"),  # active on two nodes
        pa("twice_start_0@node1", "start", "twice", "node1"),
        pa("r_stop_0@node1", "stop", "r", "node1"),  # a restart in place
        pa("r_start_0@node1", "start", "r", "node1"),
        pa("off_stop_0@node2", "stop", "off", "node2"),  # no longer wanted
        pa("p_promote_0@node1", "promote", "p", "node1"),
        pa("fence_node3", "off", target="node3"),
        pa("fence_node4", "off", target="node4"),
    ]
    where = {"m": ["node1"], "twice": ["node1", "node2"], "r": ["node1"], "off": ["node2"]}
    held = held_steps(actions, lambda r: where.get(r, []), ["node3"])
    assert sorted(held) == [
        "a_start_0@node1",
        "fence_node3",
        "m_start_0@node2",
        "m_stop_0@node1",
        "p_promote_0@node1",
        "r_start_0@node1",
        "twice_start_0@node1",
    ]


def test_the_planner_wants_to_start_on_the_first_nodes_up_and_the_gate_holds_it() -> None:
    """The real planner with node3 not joined yet: the start it plans elsewhere is held;
    once node3 joined, the plan starts the resource there and nothing is held."""
    clock = ManualClock()
    now = clock.wall()
    rsc = {
        "metadata": {"name": "db"},
        "spec": {"agent": "ocf:pacemaker:Dummy", "operations": []},
    }
    loc = {
        "metadata": {"name": "db-pref"},
        "spec": {"resource": "db", "node": "node3", "score": 100},
    }
    probed = ResourceHistory(
        name="db",
        agent="ocf:pacemaker:Dummy",
        operations=(OperationRecord(operation="monitor", rc=7, call_id=1, expected_rc=7),),
    )
    st = ClusterState(
        revision=5,
        desired={"resource": {"db": rsc}, "location": {"db-pref": loc}},
        live=live(node1=now, node2=now),
        histories={"node1": {"db": probed}, "node2": {"db": probed}},
    )
    gate = StartupGate(NODES, "node1")
    gate.observe(None, st.live, st.fencing, 20.0, now)
    planned = planning.plan(
        st, NODES, now, coordinator_node="node1", fence_agent="", fence_params={}
    )
    starts = [a.step.id for a in planned.plan.actions if a.step.operation == "start"]
    assert starts and all("@node3" not in s for s in starts)
    gate.hold(planned.plan.actions, lambda r: active_nodes(st, r))
    assert set(starts) <= gate.held
    report = gate.report()
    assert report is not None and report["waitingFor"] == ["node3"]
    clock.advance(2)
    st.live = live(node1=now, node2=now, node3=clock.wall())
    st.histories["node3"] = {"db": probed}
    gate.observe(None, st.live, st.fencing, 20.0, clock.wall())
    planned = planning.plan(
        st, NODES, now, coordinator_node="node1", fence_agent="", fence_params={}
    )
    gate.hold(planned.plan.actions, lambda r: active_nodes(st, r))
    starts = [a.step.id for a in planned.plan.actions if a.step.operation == "start"]
    assert starts == ["db_start_0@node3"] and gate.held == frozenset() and gate.report() is None


def test_a_witness_node_is_not_waited_for() -> None:
    now = ManualClock().wall()
    gate = StartupGate(NODES, "node1")
    events = gate.observe(None, live(node1=now, node2=now), {}, 20.0, now, witnesses=["node3"])
    assert not gate.waiting and events == []
    two = StartupGate(["node1", "node2", "witness"], "node1")
    two.observe(None, live(node1=now), {}, 20.0, now, witnesses=["witness"])
    assert two.waiting_for == ("node2",)


def test_startup_wait_is_a_validated_duration_in_the_cluster_spec() -> None:
    import pytest
    from pydantic import ValidationError

    from reconciler.model import KINDS

    def cluster(value: object) -> Any:
        doc = {"apiVersion": "hactl.io/v1", "kind": "Cluster", "metadata": {"name": "cluster"}}
        return KINDS["Cluster"].model_validate(doc | {"spec": {"startupWait": value}})

    assert cluster("45s").spec.startup_wait.seconds == 45.0
    assert cluster(0).spec.startup_wait.seconds == 0.0
    assert (
        KINDS["Cluster"]
        .model_validate({"apiVersion": "hactl.io/v1", "kind": "Cluster", "metadata": {"name": "c"}})
        .spec.startup_wait.seconds
        == startup_wait.DEFAULT_WAIT_S
    )
    for bad in ("soon", "-5s", True):
        with pytest.raises(ValidationError, match="startupWait"):
            cluster(bad)


def test_liveness_keys_left_from_the_previous_run_are_not_joins() -> None:
    """A store restarted with its leases keeps the old liveness keys one more lease period
    (every member stopped at once, so no hacd could revoke its lease): a coordinator
    seeing node2 and node3 with the keys the marker recorded must still wait for them."""
    clock = ManualClock()
    t0 = clock.wall()
    marker = {"complete": True, "members": {"node1": t0, "node2": t0 + 1, "node3": t0 + 2}}
    clock.advance(30)
    now = clock.wall()
    gate = StartupGate(NODES, "node1")
    gate.observe(marker, live(node1=now, node2=t0 + 1, node3=t0 + 2), {}, 20.0, now)
    assert gate.waiting_for == ("node2", "node3")
    doc = gate.marker(marker, live(node1=now, node2=t0 + 1, node3=t0 + 2), token=9)
    assert doc is not None and doc["members"] == {"node1": now}  # stale keys: not members
    assert doc["stale"] == marker["members"]
    clock.advance(1)
    t1 = clock.wall()
    gate.observe(doc, live(node1=now, node2=t1, node3=t0 + 2), {}, 20.0, t1)
    assert gate.waiting_for == ("node3",)
    clock.advance(2)  # node3's old key expired: node3 never joined in this run, still awaited
    gate.observe(doc, live(node1=now, node2=t1), {}, 20.0, clock.wall())
    assert gate.waiting_for == ("node3",)
    # node2 takes over during the wait (its key is recorded): it goes on with the same wait,
    # still ignoring node3's old key
    took_over = gate.marker(doc, live(node1=now, node2=t1), token=9)
    assert took_over is not None
    w = begin(took_over, live(node2=t1, node3=t0 + 2), NODES, 20.0, clock.wall(), me="node2")
    assert w is not None and w.until == now + 20.0
    assert check(w, live(node2=t1, node3=t0 + 2), {}, NODES, clock.wall())[1].waiting_for == (
        "node3",
    )


def test_a_coordinator_whose_own_key_the_marker_does_not_know_is_at_a_cluster_start() -> None:
    clock = ManualClock()
    t0 = clock.wall()
    marker = {"complete": True, "members": {"node1": t0, "node2": t0, "node3": t0}}
    clock.advance(10)
    now = clock.wall()
    # node2's old key is still there, but this coordinator (node1) is a new hacd
    w = begin(marker, live(node1=now, node2=t0), NODES, 20.0, now, me="node1")
    assert w is not None and w.until == now + 20.0


def test_the_gate_names_the_nodes_whose_key_is_left_from_the_previous_run() -> None:
    clock = ManualClock()
    t0 = clock.wall()
    marker = {"complete": True, "members": {"node1": t0, "node2": t0, "node3": t0}}
    clock.advance(10)
    now = clock.wall()
    gate = StartupGate(NODES, "node1")
    lv = live(node1=now, node2=now, node3=t0) | {"node4": {"address": "", "held": True}}
    gate.observe(marker, lv, {}, 20.0, now)
    assert gate.stale_nodes(lv) == {"node3"}
    assert StartupGate(NODES, "node1").stale_nodes(lv) == set()  # before any decision: none


def test_an_old_key_still_renewed_after_a_lease_period_is_a_node_that_never_stopped() -> None:
    """node2 rejoined and became coordinator before the old coordinator recorded its new
    key: it takes the cluster for starting, and node3's key (recorded) for a leftover.
    Once that key has outlived any leftover lease, node3 counts as joined; until then
    the wait does not end (node3 is neither fenced nor given up on)."""
    clock = ManualClock()
    t0 = clock.wall()
    marker = {"complete": True, "members": {"node1": t0, "node2": t0, "node3": t0}}
    clock.advance(100)
    now = clock.wall()
    gate = StartupGate(NODES, "node2")
    lv = live(node2=now, node3=t0)  # node1 (the old coordinator) died
    gate.observe(marker, lv, {}, 3.0, now, stale_ttl=6.0)
    assert gate.waiting_for == ("node1", "node3") and gate.stale_nodes(lv) == {"node3"}
    clock.advance(3.5)  # startupWait passed, but node3's key may still be a leftover
    assert gate.observe(marker, lv, {}, 3.0, clock.wall(), stale_ttl=6.0) == []
    assert gate.waiting and gate.wait is not None and gate.wait.until == now + 6.0
    clock.advance(3)  # a lease period and the grace later, the key is still there: renewed
    events = gate.observe(marker, lv, {}, 3.0, clock.wall(), stale_ttl=6.0)
    assert gate.stale_nodes(lv) == set() and not gate.waiting
    assert [(kind, obj) for kind, obj, _ in events] == [("Warning", "node1")]


def test_lowering_startup_wait_ends_a_wait_in_progress() -> None:
    clock = ManualClock()
    now = clock.wall()
    gate = StartupGate(NODES, "node1")
    lv = live(node1=now, node2=now)
    gate.observe(None, lv, {}, 60.0, now)
    clock.advance(5)
    assert gate.observe(None, lv, {}, 60.0, clock.wall()) == [] and gate.waiting
    events = gate.observe(None, lv, {}, 0.0, clock.wall())  # the operator sets startupWait: 0
    assert not gate.waiting and [e[1] for e in events] == ["node3"]
