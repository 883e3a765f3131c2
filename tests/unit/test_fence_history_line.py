"""`hactl fence history` prints why a node was fenced and what a power-on attempt is."""

from __future__ import annotations

from reconciler.cli.ha import fence_history_line


def test_attempt_shows_the_cause_and_the_power_on_half() -> None:
    rec = {"kind": "attempt", "node": "n2", "level": 1, "device": "pdu", "action": "on",
           "by": "n1", "ok": True, "duration": 0.2, "at": 0,
           "cause": "agent port refused connections"}  # fmt: skip
    line = fence_history_line(rec)
    assert "pdu on via n1: ok" in line
    assert "second half of a reboot" in line
    assert "why: agent port refused connections" in line


def test_result_shows_the_cause_only_when_known() -> None:
    rec = {"node": "n2", "ok": True, "by": "n1", "device": "pdu", "at": 0}
    assert "why" not in fence_history_line(rec)
    assert fence_history_line(rec | {"cause": "lease expired"}).endswith("(why: lease expired)")
