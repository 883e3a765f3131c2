"""Fence agents (``stonith:fence_*``): key=value lines on stdin, host mapping and delays.

Device parameters Pacemaker interprets itself (never passed to the agent):

* ``pcmk_host_map``   ``node1:port1;node2:port2`` — the plug/port for each node;
* ``pcmk_host_list``  nodes this device can fence (space, comma or semicolon separated);
* ``pcmk_host_check`` ``static-list`` | ``dynamic-list`` | ``status`` | ``none`` — how to
  decide whether the device can fence a node (default: static-list when a list or map
  is given, else dynamic-list);
* ``pcmk_delay_base`` (a duration or a per-node map ``n1:5s;n2:0``) and
  ``pcmk_delay_max`` (random extra delay up to this) — applied before off/reboot;
* ``pcmk_host_argument`` the parameter that carries the port (default: ``port`` when the
  agent has it, else ``plug``, else none), ``pcmk_off_action``/``pcmk_reboot_action``.

Fence exit codes: 0 success (status: on), 2 status: off, anything else failure.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable, Mapping

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.environment import NodeEnvironment
from reconciler.agents.metadata import (
    AgentMetadata,
    MetadataError,
    parse_duration,
    parse_metadata,
)
from reconciler.agents.outcome import OpContext, from_process, not_run
from reconciler.agents.process import run_process
from reconciler.agents.request import FENCE_ACTIONS, OpRequest
from reconciler.agents.results import ExecStatus, Observed, OcfRc, OpResult, Severity, Verdict
from reconciler.base.errors import AgentError

_SPLIT = re.compile(r"[\s,;]+")
FENCING_ACTIONS = ("off", "reboot")


def parse_host_map(text: str) -> dict[str, str]:
    """``node1:port1;node2:port2`` (also ``=`` and spaces/commas) → {node: port}."""
    result: dict[str, str] = {}
    for item in _SPLIT.split(text.strip()):
        if not item:
            continue
        sep = ":" if ":" in item else "="
        if sep not in item:
            raise AgentError(f"pcmk_host_map entry {item!r} is not NODE:PORT")
        node, port = item.split(sep, 1)
        result[node] = port
    return result


def parse_host_list(text: str) -> list[str]:
    return [h for h in _SPLIT.split(text.strip()) if h]


def host_check_mode(params: Mapping[str, str]) -> str:
    mode = params.get("pcmk_host_check", "").strip()
    if mode:
        if mode not in ("static-list", "dynamic-list", "status", "none"):
            raise AgentError(
                f"pcmk_host_check must be static-list, dynamic-list, status or none, got {mode!r}"
            )
        return mode
    if params.get("pcmk_host_list") or params.get("pcmk_host_map"):
        return "static-list"
    return "dynamic-list"


def port_for(params: Mapping[str, str], target: str) -> str:
    return parse_host_map(params.get("pcmk_host_map", "")).get(target, target)


def fence_delay(params: Mapping[str, str], target: str, rng: random.Random) -> float:
    """Seconds to wait before fencing ``target``: base (maybe per node) + random up to max."""
    base_text = params.get("pcmk_delay_base", "").strip()
    base = 0.0
    if base_text:
        if ":" in base_text or "=" in base_text:
            per_node = parse_host_map(base_text)
            base = parse_duration(per_node[target]) if target in per_node else 0.0
        else:
            base = parse_duration(base_text)
    max_text = params.get("pcmk_delay_max", "").strip()
    top = parse_duration(max_text) if max_text else 0.0
    if top > base:
        return base + rng.uniform(0.0, top - base)
    return base


def stdin_for(
    params: Mapping[str, str], action: str, port: str | None, target: str | None, host_argument: str
) -> bytes:
    lines = [f"action={action}"]
    if port is not None and host_argument != "none":
        lines.append(f"{host_argument}={port}")
    if target is not None:
        lines.append(f"nodename={target}")
    for key in sorted(params):
        if key.startswith("pcmk_") or key in ("action", host_argument, "nodename"):
            continue
        value = params[key]
        if "\n" in value or "\n" in key:
            raise AgentError(f"fence parameter {key!r} contains a newline")
        lines.append(f"{key}={value}")
    return ("\n".join(lines) + "\n").encode()


def _host_argument(md: AgentMetadata | None) -> str:
    """Pacemaker's default: ``port`` if the agent has it, else ``plug``, else none."""
    if md is None or md.param("port") is not None:
        return "port"
    if md.param("plug") is not None:
        return "plug"
    return "none"


def _verdict(action: str, rc: int) -> Verdict:
    if action == "status":
        if rc == 0:
            return Verdict(True, Severity.NONE, Observed.RUNNING, "on")
        if rc == 2:
            return Verdict(True, Severity.NONE, Observed.STOPPED, "off")
        return Verdict(False, Severity.SOFT, Observed.UNKNOWN, f"status failed (rc {rc})")
    if rc == 0:
        observed = {
            "off": Observed.STOPPED,
            "on": Observed.RUNNING,
            "reboot": Observed.RUNNING,
        }.get(action, Observed.UNKNOWN)
        return Verdict(True, Severity.NONE, observed, "success")
    return Verdict(False, Severity.SOFT, Observed.UNKNOWN, f"{action} failed (rc {rc})")


PidHook = Callable[[int], None]


async def run_fence(
    node: NodeEnvironment,
    catalog: AgentCatalog,
    req: OpRequest,
    *,
    ctx: OpContext,
    timeout_s: float,
    grace_s: float,
    rng: random.Random,
    on_spawn: PidHook | None = None,
) -> OpResult:
    """Run a fence agent action. ``req.target`` is the node to fence (for off/on/reboot/
    status); when the device cannot fence it (host check), the result says so (rc 1)."""
    action = "metadata" if req.action == "meta-data" else req.action
    if action not in FENCE_ACTIONS:
        return not_run(
            req, ctx, ExecStatus.ERROR, OcfRc.UNIMPLEMENTED, f"{req.action!r} is not a fence action"
        )
    path = catalog.locate(req.agent)
    if path is None:
        return not_run(
            req,
            ctx,
            ExecStatus.NOT_INSTALLED,
            OcfRc.NOT_INSTALLED,
            f"{req.agent}: fence agent not installed",
        )
    params = dict(req.params)
    try:
        md: AgentMetadata | None = await asyncio.to_thread(catalog.metadata, req.agent)
    except AgentError:
        md = None
    host_argument = params.get("pcmk_host_argument") or _host_argument(md)
    port: str | None = None
    target = req.target
    try:
        if target is not None:
            mode = host_check_mode(params)
            port = port_for(params, target)
            if mode == "static-list":
                known = set(parse_host_list(params.get("pcmk_host_list", "")))
                known |= set(parse_host_map(params.get("pcmk_host_map", "")))
                if target not in known:
                    return not_run(
                        req,
                        ctx,
                        ExecStatus.DONE,
                        OcfRc.ERR_GENERIC,
                        f"{req.agent} cannot fence {target}: not in its "
                        "pcmk_host_list/pcmk_host_map",
                    )
            elif mode == "dynamic-list" and action in ("off", "on", "reboot"):
                listed = await _list_ports(
                    node,
                    path,
                    params,
                    timeout_s=timeout_s,
                    grace_s=grace_s,
                    host_argument=host_argument,
                )
                if listed is not None and port not in listed:
                    return not_run(
                        req,
                        ctx,
                        ExecStatus.DONE,
                        OcfRc.ERR_GENERIC,
                        f"{req.agent} cannot fence {target}: the device's list has no {port}",
                    )
            elif mode == "status" and action in ("off", "on", "reboot"):
                probe = await run_process(
                    node.wrap([str(path)]),
                    env=node.base_env(),
                    timeout_s=timeout_s,
                    grace_s=grace_s,
                    stdin=stdin_for(params, "status", port, target, host_argument),
                )
                if probe.rc not in (0, 2):
                    return not_run(
                        req,
                        ctx,
                        ExecStatus.DONE,
                        OcfRc.ERR_GENERIC,
                        f"{req.agent} cannot fence {target}: status of {port} failed "
                        f"(rc {probe.rc})",
                    )
            if action in FENCING_ACTIONS:
                delay = fence_delay(params, target, rng)
                if delay > 0:
                    await asyncio.sleep(delay)
        agent_action = params.get(f"pcmk_{action}_action", action)
        stdin = stdin_for(params, agent_action, port, target, host_argument)
    except (AgentError, ValueError) as exc:
        return not_run(req, ctx, ExecStatus.ERROR, OcfRc.ERR_ARGS, str(exc))
    out = await run_process(
        node.wrap([str(path)]),
        env=node.base_env(),
        timeout_s=timeout_s,
        grace_s=grace_s,
        stdin=stdin,
        on_spawn=on_spawn,
        keep_head=action == "metadata",
        max_output=4 * 1024 * 1024 if action == "metadata" else 64 * 1024,
    )
    if out.rc is None or out.rc < 0:
        return from_process(req, ctx, out, timeout_s=timeout_s)
    verdict = _verdict(action, out.rc)
    if action == "metadata" and out.rc == 0:
        try:
            parse_metadata(str(req.agent), out.stdout)
        except MetadataError as exc:
            verdict = Verdict(False, Severity.SOFT, Observed.UNKNOWN, "unusable meta-data")
            return from_process(
                req, ctx, out, timeout_s=timeout_s, rc=1, verdict=verdict, reason=str(exc)
            )
    return from_process(req, ctx, out, timeout_s=timeout_s, rc=out.rc, verdict=verdict)


async def _list_ports(
    node: NodeEnvironment,
    path: object,
    params: Mapping[str, str],
    *,
    timeout_s: float,
    grace_s: float,
    host_argument: str,
) -> set[str] | None:
    """Ports the device lists (``port[,alias]`` per line); None when list fails."""
    out = await run_process(
        node.wrap([str(path)]),
        env=node.base_env(),
        timeout_s=timeout_s,
        grace_s=grace_s,
        stdin=stdin_for(params, "list", None, None, host_argument),
    )
    if out.rc != 0:
        return None
    ports: set[str] = set()
    for line in out.stdout.decode(errors="replace").splitlines():
        parts = [p.strip() for p in line.split(",")]
        ports.update(p for p in parts if p)
    return ports
