"""What one fencing attempt leaves in the history (the runner's record, no store needed)."""

from __future__ import annotations

from reconciler.controller.dispatch import Outcome
from reconciler.controller.fence_plan import Attempt
from reconciler.daemon.fencing_run import OUTPUT_TAIL, HistorySeq, attempt_record

ATTEMPT = Attempt(2, "pdu", "stonith:fence_dummy", (), 0.25, 5000)


def test_a_timed_out_attempt_says_so_with_its_timeout() -> None:
    o = Outcome(rc=1, op_status=2, output="x" * 2000, duration_s=5.01)
    rec = attempt_record(ATTEMPT, "node1", o, 7, action="off", at=10.0)
    assert rec["ok"] is False and rec["reason"] == "timed out after 5s"
    assert (rec["level"], rec["device"], rec["by"], rec["token"]) == (2, "pdu", "node1", 7)
    assert rec["delay"] == 0.25 and rec["duration"] == 5.01
    assert len(str(rec["output"])) == OUTPUT_TAIL


def test_success_and_failure() -> None:
    ok = attempt_record(ATTEMPT, "node1", Outcome(rc=0), 1, action="off", at=0.0)
    bad = attempt_record(ATTEMPT, "node1", Outcome(rc=1), 1, action="off", at=0.0)
    refused = attempt_record(
        ATTEMPT, "node1", Outcome(rc=0, refused=True, reason="not a member"), 1, action="off", at=0
    )
    assert ok["ok"] is True and bad["ok"] is False and bad["reason"] == "rc 1"
    assert refused["ok"] is False and refused["reason"] == "not a member"


def test_history_sequence_strictly_increases() -> None:
    seq = HistorySeq()
    got = [seq.next() for _ in range(50)]
    assert got == sorted(set(got))
