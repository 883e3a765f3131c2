"""History replay, failcounts and node states (stage 1)."""

from __future__ import annotations

from build import cluster, op, prim, running

from reconciler.scheduler.input import Clone, FailCount, Observed
from reconciler.scheduler.units import PROMOTED, STARTED, STOPPED, UNPROMOTED
from reconciler.scheduler.unpack import unpack


def test_start_then_monitor_is_started() -> None:
    u = unpack(
        cluster(
            (prim("a"),), history=(running("a", "node1", op("start"), op("monitor", 0, 2, 10_000)),)
        ),
        0,
    )
    st = u.state["a"]
    assert st.running_on == ("node1",) and st.role == STARTED and not st.failed


def test_probe_not_running_is_stopped() -> None:
    h = running("a", "node1", op("monitor", rc=7, expected_rc=7))
    assert unpack(cluster((prim("a"),), history=(h,)), 0).state["a"].role == STOPPED


def test_failed_monitor_marks_failed_and_later_stop_clears_it() -> None:
    failed = running("a", "node1", op("start"), op("monitor", rc=1, call_id=2, interval_ms=10_000))
    st = unpack(cluster((prim("a"),), history=(failed,)), 0).state["a"]
    assert st.failed and st.running_on == ("node1",)
    cleared = running("a", "node1", op("start"), op("monitor", 1, 2, 10_000), op("stop", 0, 3))
    st = unpack(cluster((prim("a"),), history=(cleared,)), 0).state["a"]
    assert not st.failed and st.running_on == ()


def test_expired_failure_is_ignored_and_recheck_reported() -> None:
    r = prim("a", failure_timeout="60s")
    h = running("a", "node1", op("start"), op("monitor", 1, 2, 10_000, last_rc_change=1000))
    assert unpack(cluster((r,), history=(h,)), 1059).state["a"].failed
    assert not unpack(cluster((r,), history=(h,)), 1060).state["a"].failed
    inp = cluster((r,), history=(h,))
    obs = Observed(
        nodes=inp.observed.nodes,
        history=inp.observed.history,
        failcounts=(FailCount("a", "node1", 1, "monitor", 10_000, last_failure=1000),),
    )
    from dataclasses import replace

    u = unpack(replace(inp, observed=obs), 1010)
    assert u.recheck_at == 1060


def test_migration_threshold_bans_the_node() -> None:
    inp = cluster((prim("a", migration_threshold="3"),))
    from dataclasses import replace

    obs = replace(inp.observed, failcounts=(FailCount("a", "node1", 3),))
    st = unpack(replace(inp, observed=obs), 0).state["a"]
    assert [n for n, _ in st.bans] == ["node1"]


def test_promoted_role_from_rc8_and_anonymous_clone_instances() -> None:
    clone = Clone("c", prim("s"), promotable=True)
    hist = (
        running("s", "node1", op("monitor", rc=8, expected_rc=7)),
        running("s", "node2", op("start")),
    )
    u = unpack(cluster((clone,), history=hist), 0)
    assert u.state["s:0"].role == PROMOTED and u.state["s:0"].running_on == ("node1",)
    assert u.state["s:1"].role == UNPROMOTED and u.state["s:1"].running_on == ("node2",)


def test_unclean_node_and_offline_history_ignored() -> None:
    hist = (running("a", "node2"),)
    u = unpack(cluster((prim("a"),), history=hist, offline=("node2",)), 0)
    assert u.state["a"].running_on == ()  # a cleanly down node runs nothing
    u = unpack(cluster((prim("a"),), history=hist, unclean=("node2",)), 0)
    assert u.state["a"].running_on == ("node2",)
    assert [n.name for n in u.nodes if n.unclean] == ["node2"]


def test_recheck_from_a_failed_operation_without_failcount() -> None:
    r = prim("a", failure_timeout="120")
    h = running("a", "node1", op("start"), op("monitor", 1, 2, 10_000, last_rc_change=5000))
    assert unpack(cluster((r,), history=(h,)), 5010).recheck_at == 5120
    assert unpack(cluster((r,), history=(h,)), 5200).recheck_at is None
