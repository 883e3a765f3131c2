"""Without fencing: a lost node's resources wait for its lease + margin (explicit clock)."""

from __future__ import annotations

from reconciler.daemon.fencing_wait import LeaseWatch


def test_the_wait_counts_from_when_the_node_was_first_seen_gone() -> None:
    w = LeaseWatch(lease_ttl=2.0, margin=1.0)
    w.observe(["a", "b"], ["a", "b"], now=100.0)
    w.observe(["a"], ["a", "b"], now=105.0)  # b's key vanished: lost_at 105
    assert w.waiting(["b"], now=105.0) == {"b": 3.0}
    w.observe(["a"], ["a", "b"], now=107.0)  # later looks do not restart the wait
    assert w.waiting(["b"], now=107.5) == {"b": 0.5}
    assert w.waiting(["b"], now=108.0) == {}


def test_a_coordinator_that_never_saw_the_node_counts_from_its_first_look() -> None:
    w = LeaseWatch(lease_ttl=2.0, margin=1.0)
    w.observe(["a"], ["a", "b"], now=50.0)
    assert w.waiting(["b"], now=52.0) == {"b": 1.0}


def test_a_node_that_comes_back_and_is_lost_again_waits_again() -> None:
    w = LeaseWatch(lease_ttl=2.0, margin=1.0)
    w.observe([], ["b"], now=10.0)
    w.observe(["b"], ["b"], now=20.0)
    w.observe([], ["b"], now=30.0)
    assert w.waiting(["b"], now=31.0) == {"b": 2.0}
