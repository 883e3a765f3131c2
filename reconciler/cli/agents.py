"""``hactl agents list|describe|install`` and ``hactl agent run``: agents outside the cluster.

``hactl agent run`` is Pacemaker's ``crm_resource --force-start`` / ``pcs resource
debug-start``: it runs one action of one agent on this machine with exactly the
environment the node agent gives it, prints the agent's output, the result and any node
attributes the agent set (crm_attribute & co. write them to a local file then).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from reconciler.base.errors import AgentError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"hactl: {message}", err=True)
    sys.exit(code)


@click.group("agents")
def agents() -> None:
    """Installed resource and fence agents: list, describe, install ours."""


@agents.command("list")
@click.option(
    "--class",
    "cls",
    type=click.Choice(["ocf", "lsb", "stonith", "systemd"]),
    help="Only agents of this class (systemd: asks the manager over D-Bus).",
)
@click.option(
    "--systemd-user",
    type=click.Path(path_type=Path),
    default=None,
    metavar="RUNTIME_DIR",
    help="List a user manager's units ($XDG_RUNTIME_DIR) instead of the system's.",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def list_agents(cls: str | None, systemd_user: Path | None, output: str) -> None:
    """List installed agents (OCF providers, LSB scripts, fence agents, systemd units)."""
    from reconciler.agents.catalog import default_catalog

    names = [str(r) for r in default_catalog().list(cls)] if cls != "systemd" else []
    if cls == "systemd" or (cls is None and (systemd_user or _systemd_is_pid1())):
        try:
            names += [f"systemd:{u}" for u in asyncio.run(_systemd_units(systemd_user))]
        except AgentError as exc:
            if cls == "systemd":
                _fail(str(exc), EXIT_FAILED)
    if output == "json":
        click.echo(json.dumps(names, indent=1))
        return
    for name in names:
        click.echo(name)


def _systemd_is_pid1() -> bool:
    return Path("/run/systemd/system").is_dir()


async def _systemd_units(runtime_dir: Path | None) -> list[str]:
    from reconciler.agents.systemd import SystemdManager

    manager = SystemdManager.user(runtime_dir) if runtime_dir else SystemdManager.system()
    try:
        return await manager.list_units()
    finally:
        await manager.close()


@agents.command("describe")
@click.argument("agent")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def describe_agent(agent: str, output: str) -> None:
    """Show an agent's parameters and actions (from its meta-data)."""
    from reconciler.agents.catalog import default_catalog
    from reconciler.agents.metadata import render_metadata

    try:
        md = default_catalog().metadata(agent)
    except AgentError as exc:
        _fail(str(exc), EXIT_FAILED)
    if output == "json":
        click.echo(json.dumps(asdict(md), indent=1))
    else:
        click.echo(render_metadata(md))


@agents.command("install")
@click.option(
    "--ocf-root", type=click.Path(path_type=Path), default=Path("/usr/lib/ocf"), show_default=True
)
@click.option(
    "--sbin",
    type=click.Path(path_type=Path),
    default=Path("/usr/sbin"),
    show_default=True,
    help="Where fence agents go.",
)
@click.option("--dry-run", is_flag=True, help="Only print what would be copied.")
def install_agents(ocf_root: Path, sbin: Path, dry_run: bool) -> None:
    """Copy hactl's own agents (ocf:hactl:webserver, fence_hactl_local) into the system.

    Not needed for hactl itself (it finds them in its package); this is for other
    cluster managers and for running them by hand.
    """
    from reconciler.agents.environment import PACKAGE_FENCE_DIR, PACKAGE_OCF_ROOT

    pairs: list[tuple[Path, Path]] = []
    for provider in sorted((PACKAGE_OCF_ROOT / "resource.d").iterdir()):
        for f in sorted(provider.iterdir()):
            if f.is_file():
                pairs.append((f, ocf_root / "resource.d" / provider.name / f.name))
    for f in sorted(PACKAGE_FENCE_DIR.glob("fence_*")):
        pairs.append((f, sbin / f.name))
    for src, dst in pairs:
        click.echo(f"{src} -> {dst}")
        if dry_run:
            continue
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.hactl-tmp")
            shutil.copyfile(src, tmp)
            tmp.chmod(0o755)
            tmp.replace(dst)
        except OSError as exc:
            _fail(f"cannot install {dst}: {exc.strerror or exc}", EXIT_FAILED)


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"{what} must be NAME=VALUE, got {item!r}")
        result[key] = value
    return result


def _default_state_dir(node: str) -> Path:
    return Path(f"/tmp/hactl-agent-run-{os.getuid()}") / node


@click.group("agent")
def agent() -> None:
    """Run one agent action by hand (debugging, like crm_resource --force-*)."""


@agent.command("run")
@click.argument("agent_name", metavar="AGENT")
@click.argument("action")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="An agent parameter (OCF_RESKEY_NAME); repeat.",
)
@click.option(
    "--meta",
    "metas",
    multiple=True,
    metavar="NAME=VALUE",
    help="A CRM_meta_ variable (clone, notify_type, ...); repeat.",
)
@click.option("--timeout", type=float, help="Seconds (default: the agent's meta-data, else 20).")
@click.option(
    "--interval", type=float, default=0.0, help="Monitor interval in seconds (0 = probe)."
)
@click.option("--check-level", type=int, help="OCF_CHECK_LEVEL for monitor.")
@click.option("--node", default=None, help="Node name the agent sees (default: this host).")
@click.option("--resource", default=None, help="Instance name (default: the agent type).")
@click.option("--target", default=None, help="Fence agents: the node to fence.")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The node's agent state (default /tmp/hactl-agent-run-UID/NODE).",
)
@click.option(
    "--systemd-user",
    type=click.Path(path_type=Path),
    default=None,
    metavar="RUNTIME_DIR",
    help="Drive a user manager's units ($XDG_RUNTIME_DIR).",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def run_agent(  # noqa: PLR0917
    agent_name: str,
    action: str,
    params: tuple[str, ...],
    metas: tuple[str, ...],
    timeout: float | None,
    interval: float,
    check_level: int | None,
    node: str | None,
    resource: str | None,
    target: str | None,
    state_dir: Path | None,
    systemd_user: Path | None,
    output: str,
) -> None:
    """Run ACTION of AGENT (e.g. ocf:heartbeat:IPaddr2 start -p ip=10.0.0.5)."""
    from reconciler.agents.request import AgentRef

    try:
        ref = AgentRef.parse(agent_name)
    except AgentError as exc:
        _fail(str(exc))
    node_name = node or os.uname().nodename
    directory = state_dir or _default_state_dir(node_name)
    result, attributes = asyncio.run(
        _run(
            ref=ref,
            action=action,
            params=_pairs(params, "--param"),
            meta=_pairs(metas, "--meta"),
            timeout=timeout,
            interval=interval,
            check_level=check_level,
            node=node_name,
            resource=resource or ref.type,
            target=target,
            state_dir=directory,
            systemd_user=systemd_user,
        )
    )
    if output == "json":
        click.echo(
            json.dumps({"result": _jsonable(asdict(result)), "attributes": attributes}, indent=1)
        )
    else:
        if result.stdout_tail:
            click.echo(result.stdout_tail)
        if result.stderr_tail:
            click.echo(result.stderr_tail, err=True)
        click.echo(result.summary())
        for name, value in sorted(attributes.items()):
            click.echo(f"attribute {name}={value} (node {node_name})")
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in d.items()}


async def _run(
    *,
    ref: Any,
    action: str,
    params: dict[str, str],
    meta: dict[str, str],
    timeout: float | None,
    interval: float,
    check_level: int | None,
    node: str,
    resource: str,
    target: str | None,
    state_dir: Path,
    systemd_user: Path | None,
) -> tuple[Any, dict[str, str]]:
    from reconciler.agents.executor import Executor
    from reconciler.agents.request import OpRequest
    from reconciler.agents.systemd import SystemdManager
    from reconciler.system.clock import SystemClock

    manager = SystemdManager.user(systemd_user) if systemd_user else None
    ex = Executor(
        node, state_dir, SystemClock(), max_concurrency=1, systemd=manager, listen_attributes=False
    )
    await ex.start()
    try:
        result = await ex.run(
            OpRequest(
                resource=resource,
                agent=ref,
                action=action,
                params=params,
                interval_s=interval,
                timeout_s=timeout,
                meta=meta,
                check_level=check_level,
                target=target,
            )
        )
    finally:
        await ex.close()
        if manager is not None:
            await manager.close()
    attributes: dict[str, str] = {}
    try:
        data = json.loads(ex.env.attributes_file.read_text())
        attributes = {str(k): str(v) for k, v in data.get(node, {}).items()}
    except (OSError, ValueError, AttributeError):
        pass
    return result, attributes
