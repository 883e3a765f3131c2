"""Turn a finished (or failed-to-start) process into an :class:`OpResult`."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from reconciler.agents.process import ProcessOutcome, decode_tail
from reconciler.agents.request import OpRequest
from reconciler.agents.results import (
    ExecStatus,
    Observed,
    OcfRc,
    OpResult,
    Severity,
    Verdict,
    classify,
    describe_rc,
)

EXIT_REASON_PREFIX = "ocf-exit-reason:"


@dataclass(frozen=True, slots=True)
class OpContext:
    """Who/when for a result: filled by the executor."""

    node: str
    call_id: int
    started_at: float
    duration_s: float


def exit_reason(stderr: str) -> str:
    """The last ``ocf-exit-reason:`` line an agent printed (OCF 1.1), without the prefix."""
    reason = ""
    for line in stderr.splitlines():
        at = line.find(EXIT_REASON_PREFIX)
        if at >= 0:
            reason = line[at + len(EXIT_REASON_PREFIX) :].strip()
    return reason


def not_run(req: OpRequest, ctx: OpContext, status: ExecStatus, rc: int, reason: str) -> OpResult:
    """A result for an agent that could not be run at all."""
    severity = Severity.HARD if rc in (OcfRc.NOT_INSTALLED, OcfRc.ERR_PERM) else Severity.SOFT
    return OpResult(
        resource=req.resource,
        agent=str(req.agent),
        action=req.action,
        interval_s=req.interval_s,
        status=status,
        rc=rc,
        ok=False,
        severity=severity,
        observed=Observed.UNKNOWN,
        meaning=describe_rc(rc),
        started_at=ctx.started_at,
        duration_s=ctx.duration_s,
        reason=reason,
        call_id=ctx.call_id,
        node=ctx.node,
    )


def from_process(
    req: OpRequest,
    ctx: OpContext,
    out: ProcessOutcome,
    *,
    timeout_s: float,
    rc: int | None = None,
    verdict: Verdict | None = None,
    reason: str = "",
) -> OpResult:
    """Build the result. ``rc``/``verdict`` override the OCF reading of the exit code
    (LSB and fence agents map their codes first)."""
    fence_list = req.agent.is_fence and req.action in ("list", "list-status")
    whole = fence_list or req.action in ("meta-data", "metadata")
    stdout = decode_tail(out.stdout, out.stdout_truncated, None if whole else 40)
    stderr = decode_tail(out.stderr, out.stderr_truncated)

    def make(status: ExecStatus, code: int, v: Verdict, why: str) -> OpResult:
        return OpResult(
            resource=req.resource,
            agent=str(req.agent),
            action=req.action,
            interval_s=req.interval_s,
            status=status,
            rc=code,
            ok=v.ok,
            severity=v.severity,
            observed=v.observed,
            meaning=v.meaning,
            started_at=ctx.started_at,
            duration_s=ctx.duration_s,
            raw_rc=out.rc,
            reason=why,
            stdout_tail=stdout,
            stderr_tail=stderr,
            call_id=ctx.call_id,
            node=ctx.node,
        )

    if out.spawn_errno is not None:
        status: ExecStatus
        code: int
        if out.spawn_errno == errno.ENOENT:
            status, code = ExecStatus.NOT_INSTALLED, OcfRc.NOT_INSTALLED
        elif out.spawn_errno == errno.EACCES:
            status, code = ExecStatus.NOT_EXECUTABLE, OcfRc.ERR_PERM
        else:
            status, code = ExecStatus.ERROR, OcfRc.ERR_GENERIC
        return not_run(req, ctx, status, code, out.spawn_error)
    if out.timed_out:
        how = "SIGKILL" if out.killed_with == 9 else "SIGTERM"
        return make(
            ExecStatus.TIMED_OUT,
            OcfRc.ERR_GENERIC,
            Verdict(False, Severity.SOFT, Observed.UNKNOWN, "timed out"),
            f"timed out after {timeout_s:g}s (process group ended with {how})",
        )
    assert out.rc is not None
    code = out.rc if rc is None else rc
    if out.rc < 0:  # killed by a signal (crashed)
        sig = -out.rc
        observed = Observed.UNKNOWN if req.action == "meta-data" else Observed.FAILED
        return make(
            ExecStatus.DONE,
            OcfRc.ERR_GENERIC,
            Verdict(False, Severity.SOFT, observed, f"killed by signal {sig}"),
            reason or f"agent died of signal {sig}",
        )
    v = verdict or classify(req.action, req.interval_s, code, req.expected_rc)
    return make(ExecStatus.DONE, code, v, reason or exit_reason(stderr))
