"""Runners for script agents: OCF resource agents and LSB init scripts."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.environment import NodeEnvironment
from reconciler.agents.metadata import MetadataError, parse_metadata
from reconciler.agents.outcome import OpContext, from_process, not_run
from reconciler.agents.process import ProcessOutcome, run_process
from reconciler.agents.request import LSB_ACTIONS, OCF_ACTIONS, OpRequest
from reconciler.agents.results import (
    ExecStatus,
    Observed,
    OcfRc,
    OpResult,
    Severity,
    Verdict,
    classify,
    lsb_action_to_ocf,
    lsb_status_to_ocf,
)

METADATA_MAX_BYTES = 4 * 1024 * 1024

PidHook = Callable[[int], None]


def _locate_or_fail(
    catalog: AgentCatalog, req: OpRequest, ctx: OpContext
) -> tuple[Path | None, OpResult | None]:
    path = catalog.locate(req.agent)
    if path is None:
        return None, not_run(
            req,
            ctx,
            ExecStatus.NOT_INSTALLED,
            OcfRc.NOT_INSTALLED,
            f"{req.agent}: agent not installed",
        )
    if not os.access(path, os.X_OK):
        return None, not_run(
            req,
            ctx,
            ExecStatus.NOT_EXECUTABLE,
            OcfRc.ERR_PERM,
            f"{req.agent}: {path} is not executable",
        )
    return path, None


async def run_ocf(
    node: NodeEnvironment,
    catalog: AgentCatalog,
    req: OpRequest,
    *,
    ctx: OpContext,
    timeout_s: float,
    grace_s: float,
    on_spawn: PidHook | None = None,
) -> tuple[OpResult, ProcessOutcome | None]:
    """Run one OCF action. Returns the result and the raw outcome (for meta-data text)."""
    if req.action not in OCF_ACTIONS:
        return not_run(
            req, ctx, ExecStatus.ERROR, OcfRc.UNIMPLEMENTED, f"{req.action!r} is not an OCF action"
        ), None
    path, failed = _locate_or_fail(catalog, req, ctx)
    if failed is not None or path is None:
        assert failed is not None
        return failed, None
    env = node.ocf_env(req, timeout_s)
    env["OCF_ROOT"] = str(catalog.ocf_root_for(path))
    is_md = req.action == "meta-data"
    out = await run_process(
        node.wrap([str(path), req.action]),
        env=env,
        timeout_s=timeout_s,
        grace_s=grace_s,
        keep_head=is_md,
        max_output=METADATA_MAX_BYTES if is_md else 64 * 1024,
        on_spawn=on_spawn,
    )
    result = from_process(req, ctx, out, timeout_s=timeout_s)
    if is_md and result.ok:
        try:
            parse_metadata(str(req.agent), out.stdout)
        except MetadataError as exc:
            result = from_process(
                req,
                ctx,
                out,
                timeout_s=timeout_s,
                rc=OcfRc.ERR_GENERIC,
                verdict=Verdict(False, Severity.SOFT, Observed.UNKNOWN, "unusable meta-data"),
                reason=str(exc),
            )
    return result, out


async def run_lsb(
    node: NodeEnvironment,
    catalog: AgentCatalog,
    req: OpRequest,
    *,
    ctx: OpContext,
    timeout_s: float,
    grace_s: float,
    on_spawn: PidHook | None = None,
) -> OpResult:
    """Run an LSB init script action with Pacemaker's mapping.

    monitor/status run ``status`` (0 running, 1/2/3 stopped, else error); start and stop
    first ask ``status`` and do nothing when the service is already in the wanted state
    (LSB scripts are not reliably idempotent).
    """
    if req.action not in LSB_ACTIONS:
        return not_run(
            req, ctx, ExecStatus.ERROR, OcfRc.UNIMPLEMENTED, f"{req.action!r} is not an LSB action"
        )
    path, failed = _locate_or_fail(catalog, req, ctx)
    if failed is not None or path is None:
        assert failed is not None
        return failed
    env = node.base_env()

    async def call(verb: str, budget: float) -> ProcessOutcome:
        return await run_process(
            node.wrap([str(path), verb]),
            env=env,
            timeout_s=budget,
            grace_s=grace_s,
            on_spawn=on_spawn,
        )

    if req.action == "meta-data":
        md_ok = Verdict(True, Severity.NONE, Observed.UNKNOWN, "success")
        empty = ProcessOutcome(0, False, b"", b"", False, False, None)
        return from_process(req, ctx, empty, timeout_s=timeout_s, rc=0, verdict=md_ok)
    if req.action in ("monitor", "status"):
        out = await call("status", timeout_s)
        rc = lsb_status_to_ocf(out.rc) if out.rc is not None and out.rc >= 0 else None
        return from_process(req, ctx, out, timeout_s=timeout_s, rc=rc)
    if req.action in ("start", "stop"):
        status = await call("status", timeout_s / 2)
        if status.rc is not None and status.rc >= 0:
            running = lsb_status_to_ocf(status.rc) == OcfRc.OK
            if running == (req.action == "start"):
                verdict = classify(req.action, 0.0, OcfRc.OK)
                return from_process(
                    req,
                    ctx,
                    status,
                    timeout_s=timeout_s,
                    rc=0,
                    verdict=verdict,
                    reason=f"already {'running' if running else 'stopped'}",
                )
    out = await call(req.action, timeout_s)
    rc = lsb_action_to_ocf(out.rc) if out.rc is not None and out.rc >= 0 else None
    return from_process(req, ctx, out, timeout_s=timeout_s, rc=rc)
