"""Failure accounting and fencing decisions."""

from __future__ import annotations

from reconciler.controller.failures import (
    FailureRecord,
    banned,
    effective_count,
    expires_at,
    next_recheck,
)
from reconciler.controller.fencing import (
    Health,
    NodeFacts,
    choose_fencer,
    classify,
    may_recover,
)


def test_failcount_expires_after_failure_timeout_from_last_failure() -> None:
    rec = FailureRecord("web", "n1", count=3, last_failure=100.0)
    assert effective_count(rec, 60.0, now=159.9) == 3
    assert effective_count(rec, 60.0, now=160.0) == 0
    assert effective_count(rec, None, now=1e9) == 3
    assert expires_at(rec, 60.0) == 160.0
    assert expires_at(rec, None) is None


def test_migration_threshold_bans() -> None:
    assert not banned(2, 3)
    assert banned(3, 3)
    assert not banned(10**6, None)
    assert not banned(5, 0)


def test_next_recheck_is_the_earliest_future_deadline() -> None:
    assert next_recheck([None, 50.0, 30.0, 10.0], now=20.0) == 30.0
    assert next_recheck([None, 5.0], now=20.0) is None


def test_node_health() -> None:
    h = classify(
        [
            NodeFacts("n1", live=True, holds_resources=True, last_seen=10, fenced_at=None),
            NodeFacts("n2", live=False, holds_resources=False, last_seen=10, fenced_at=None),
            NodeFacts("n3", live=False, holds_resources=True, last_seen=10, fenced_at=None),
            NodeFacts("n4", live=False, holds_resources=True, last_seen=10, fenced_at=11),
            NodeFacts("n5", live=False, holds_resources=True, last_seen=12, fenced_at=11),
        ]
    )
    assert h == {
        "n1": Health.ONLINE,
        "n2": Health.OFFLINE,
        "n3": Health.UNCLEAN,
        "n4": Health.OFFLINE,
        "n5": Health.UNCLEAN,
    }
    assert list(h) == sorted(h)


def test_fencer_is_online_never_the_target_and_prefers_the_coordinator() -> None:
    h = {"n1": Health.ONLINE, "n2": Health.UNCLEAN, "n3": Health.ONLINE}
    assert choose_fencer("n2", h) == "n1"
    assert choose_fencer("n2", h, prefer="n3") == "n3"
    assert choose_fencer("n1", {"n1": Health.ONLINE}) is None


def test_recovery_waits_for_fencing_unless_stonith_is_off() -> None:
    h = {"n1": Health.UNCLEAN, "n2": Health.OFFLINE, "n3": Health.ONLINE}
    assert not may_recover("n1", h, stonith_enabled=True)
    assert may_recover("n1", h, stonith_enabled=False)
    assert may_recover("n2", h, stonith_enabled=True)
    assert not may_recover("n3", h, stonith_enabled=True)


def test_failcount_after_results() -> None:
    from reconciler.controller.failures import INFINITY_FAILS, failcount_after

    assert failcount_after("monitor", 0, 7, 7, 0) is None
    assert failcount_after("monitor", 0, 0, 7, 0) is None  # probe found it running
    assert failcount_after("monitor", 10000, 7, 0, 1) == 2
    assert failcount_after("start", 0, 1, 0, 0) == INFINITY_FAILS
    assert failcount_after("start", 0, 1, 0, 0, start_failure_is_fatal=False) == 1
    assert failcount_after("stop", 0, 0, 0, 3) is None
