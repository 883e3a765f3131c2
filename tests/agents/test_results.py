"""The rc table: what each exit code means per action (pure functions)."""

from __future__ import annotations

import pytest

from reconciler.agents.results import Observed, OcfRc, Severity, classify, severity_of


@pytest.mark.parametrize(
    ("rc", "severity"),
    [(1, Severity.SOFT), (2, Severity.HARD), (3, Severity.HARD), (4, Severity.HARD),
     (5, Severity.HARD), (6, Severity.FATAL), (7, Severity.SOFT), (8, Severity.SOFT),
     (9, Severity.SOFT), (42, Severity.SOFT)],
)  # fmt: skip
def test_severity(rc: int, severity: Severity) -> None:
    assert severity_of(rc) is severity


def test_probe_recurring_and_actions() -> None:
    # a probe: every state answer is fine
    for rc, observed in [(0, Observed.RUNNING), (7, Observed.STOPPED), (8, Observed.PROMOTED)]:
        v = classify("monitor", 0, rc)
        assert v.ok and v.observed is observed and v.severity is Severity.NONE
    assert not classify("monitor", 0, 1).ok
    # recurring monitors expect a state
    assert classify("monitor", 10, 0).ok
    assert not classify("monitor", 10, 7).ok
    assert classify("monitor", 10, 8, expected_rc=OcfRc.RUNNING_PROMOTED).ok
    v = classify("monitor", 10, 0, expected_rc=OcfRc.RUNNING_PROMOTED)
    assert not v.ok and v.observed is Observed.RUNNING  # demoted behind our back
    v = classify("monitor", 10, 9, expected_rc=OcfRc.RUNNING_PROMOTED)
    assert not v.ok and v.observed is Observed.FAILED_PROMOTED
    assert classify("monitor", 10, 190).ok  # degraded still runs
    # actions
    assert classify("stop", 0, 7).ok  # already stopped
    assert classify("start", 0, 0).observed is Observed.RUNNING
    assert classify("promote", 0, 0).observed is Observed.PROMOTED
    assert classify("demote", 0, 0).observed is Observed.RUNNING
    v = classify("start", 0, 5)
    assert not v.ok and v.severity is Severity.HARD and v.observed is Observed.FAILED
    v = classify("start", 0, 6)
    assert v.severity is Severity.FATAL and v.meaning == "not configured"
    assert classify("notify", 0, 0).ok and not classify("notify", 0, 1).ok
