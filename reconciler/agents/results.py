"""Outcomes of agent operations, as values: rc codes, their meaning per action, and severity.

An agent's exit code is never an exception. :func:`classify` turns (action, interval, rc,
expected rc) into what Pacemaker would conclude: did the operation succeed, what state did
it observe, and if it failed, how bad is it:

* ``SOFT``  — recover in place (restart the resource on the same node);
* ``HARD``  — the resource cannot run on this node (ban it from the node, move it);
* ``FATAL`` — the configuration is wrong everywhere (stop it on every node, block it).

This follows Pacemaker's table "How are OCF return codes interpreted?" (Pacemaker
Administration, "Resource agents"): 2, 3, 4, 5 are hard, 6 is fatal, the rest soft.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OcfRc(enum.IntEnum):
    """OCF exit codes (OCF resource agent API 1.1), plus Pacemaker's degraded codes."""

    OK = 0
    ERR_GENERIC = 1
    ERR_ARGS = 2
    UNIMPLEMENTED = 3
    ERR_PERM = 4
    NOT_INSTALLED = 5
    NOT_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


RC_DESCRIPTIONS: dict[int, str] = {
    0: "success",
    1: "generic error",
    2: "invalid arguments",
    3: "unimplemented feature",
    4: "insufficient privileges",
    5: "not installed",
    6: "not configured",
    7: "not running",
    8: "running (promoted)",
    9: "failed (promoted)",
    190: "degraded",
    191: "degraded (promoted)",
}


def describe_rc(rc: int) -> str:
    """A human phrase for an OCF rc; unknown codes say so."""
    return RC_DESCRIPTIONS.get(rc, f"unknown exit code {rc}")


class ExecStatus(enum.Enum):
    """Whether the agent ran to completion (and its rc means something)."""

    DONE = "done"  # the agent exited; look at rc
    TIMED_OUT = "timed out"  # killed after its timeout
    NOT_INSTALLED = "not installed"  # no such agent / file
    NOT_EXECUTABLE = "not executable"  # exists but cannot be executed
    ERROR = "error"  # could not run it at all (fork failed, bad request, D-Bus down)
    CANCELLED = "cancelled"  # a recurring monitor cancelled by stop/demote/stop_monitor


class Severity(enum.Enum):
    """How bad a failed operation is, as Pacemaker decides recovery."""

    NONE = "none"  # not a failure
    SOFT = "soft"  # recover in place (restart on this node)
    HARD = "hard"  # ban from this node
    FATAL = "fatal"  # stop everywhere


class Observed(enum.Enum):
    """The resource state an operation's result implies on this node."""

    UNKNOWN = "unknown"
    STOPPED = "stopped"
    RUNNING = "running"  # started, unpromoted
    PROMOTED = "promoted"
    FAILED = "failed"
    FAILED_PROMOTED = "failed-promoted"


_HARD = {OcfRc.ERR_ARGS, OcfRc.UNIMPLEMENTED, OcfRc.ERR_PERM, OcfRc.NOT_INSTALLED}
_FATAL = {OcfRc.NOT_CONFIGURED}

# what a successful action leaves behind
_AFTER_SUCCESS: dict[str, Observed] = {
    "start": Observed.RUNNING,
    "stop": Observed.STOPPED,
    "promote": Observed.PROMOTED,
    "demote": Observed.RUNNING,
    "migrate_from": Observed.RUNNING,
    "migrate_to": Observed.STOPPED,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an rc means for one action."""

    ok: bool
    severity: Severity
    observed: Observed
    meaning: str


def severity_of(rc: int) -> Severity:
    """Severity of a failing rc (Pacemaker: 2-5 hard, 6 fatal, everything else soft)."""
    if rc in _FATAL:
        return Severity.FATAL
    if rc in _HARD:
        return Severity.HARD
    return Severity.SOFT


def _observed_by_status(rc: int) -> Observed:
    table: dict[int, Observed] = {
        OcfRc.OK: Observed.RUNNING,
        OcfRc.NOT_RUNNING: Observed.STOPPED,
        OcfRc.RUNNING_PROMOTED: Observed.PROMOTED,
        OcfRc.FAILED_PROMOTED: Observed.FAILED_PROMOTED,
        OcfRc.DEGRADED: Observed.RUNNING,
        OcfRc.DEGRADED_PROMOTED: Observed.PROMOTED,
    }
    return table.get(rc, Observed.FAILED)


def classify(action: str, interval_s: float, rc: int, expected_rc: int | None = None) -> Verdict:
    """Interpret an OCF rc for ``action``.

    * A probe (``monitor`` with interval 0 and no expected rc) succeeds with 0, 7, 8 (and
      the degraded codes): "not running" is an observation, not a failure.
    * A recurring monitor expects ``expected_rc`` (0 by default, 8 for the promoted role).
    * ``stop`` returning 7 counts as success (already stopped).
    * Every other action expects 0.
    """
    meaning = describe_rc(rc)
    if action in ("monitor", "status"):
        observed = _observed_by_status(rc)
        is_probe = interval_s == 0 and expected_rc is None
        if is_probe:
            ok = rc in (0, 7, 8, 190, 191)
        else:
            want = 0 if expected_rc is None else expected_rc
            ok = rc == want or (want == 0 and rc == 190) or (want == 8 and rc == 191)
        return Verdict(ok, Severity.NONE if ok else severity_of(rc), observed, meaning)
    if rc == 0 or (action == "stop" and rc == OcfRc.NOT_RUNNING):
        return Verdict(True, Severity.NONE, _AFTER_SUCCESS.get(action, Observed.UNKNOWN), meaning)
    observed = Observed.UNKNOWN
    if action in ("start", "promote", "demote", "stop", "migrate_from", "migrate_to"):
        observed = Observed.FAILED
    return Verdict(False, severity_of(rc), observed, meaning)


def lsb_status_to_ocf(rc: int) -> int:
    """Map an LSB ``status`` exit code to OCF, as Pacemaker's services library does.

    LSB: 0 running; 1 dead, pid file exists; 2 dead, lock file exists; 3 not running;
    4 status unknown. Pacemaker maps 0 → OK, 1/2/3 → NOT_RUNNING, 4 → UNKNOWN (generic
    error), anything else → generic error.
    """
    if rc == 0:
        return OcfRc.OK
    if rc in (1, 2, 3):
        return OcfRc.NOT_RUNNING
    return OcfRc.ERR_GENERIC


def lsb_action_to_ocf(rc: int) -> int:
    """Map an LSB start/stop/restart exit code to OCF (LSB 0-7 share OCF's meanings)."""
    if 0 <= rc <= 7:
        return rc
    return OcfRc.ERR_GENERIC


@dataclass(frozen=True, slots=True)
class OpResult:
    """One finished operation, everything ``hactl describe`` shows about it.

    ``rc`` is the OCF-equivalent exit code (LSB, systemd and fence results are mapped to
    OCF's meanings; ``raw_rc`` keeps what the program really returned). ``ok`` and
    ``severity`` are :func:`classify`'s verdict; a timeout is ``status=TIMED_OUT``,
    ``ok=False``, ``severity=SOFT`` and ``rc=ERR_GENERIC``.
    """

    resource: str
    agent: str
    action: str
    interval_s: float
    status: ExecStatus
    rc: int
    ok: bool
    severity: Severity
    observed: Observed
    meaning: str
    started_at: float  # wall clock, seconds since the epoch
    duration_s: float
    raw_rc: int | None = None
    reason: str = ""  # the agent's ocf-exit-reason, or why it could not run
    stdout_tail: str = ""
    stderr_tail: str = ""
    call_id: int = 0
    node: str = ""

    @property
    def is_probe(self) -> bool:
        return self.action == "monitor" and self.interval_s == 0

    def summary(self) -> str:
        """One line: ``web start: ok (success) in 0.12s`` / ``... FAILED (not running, soft)``."""
        head = f"{self.resource} {self.action}"
        if self.interval_s:
            head += f" every {self.interval_s:g}s"
        verdict = "ok" if self.ok else "FAILED"
        detail = self.meaning if self.status is ExecStatus.DONE else self.status.value
        if not self.ok:
            detail += f", {self.severity.value}"
        text = f"{head}: {verdict} ({detail}, rc={self.rc}) in {self.duration_s:.2f}s"
        if self.reason:
            text += f": {self.reason}"
        return text
