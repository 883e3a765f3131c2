"""Pacemaker's runtime verbs: cleanup, refresh, move, ban, clear, node, enable, disable,
restart, fence."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import click

from reconciler.base.errors import HactlError
from reconciler.cli.common import Session, resolve_servers, run, server_options
from reconciler.cli.main import EXIT_TIMEOUT


def _call(server: str | None, context: str | None, verb: str, args: dict[str, Any]) -> None:
    servers = resolve_servers(server, context)

    async def go() -> None:
        async with Session(servers) as c:
            res, err = await c.command(verb, json.dumps(args))
            if err:
                raise HactlError(err)
            click.echo(json.loads(res)["message"])

    run(go())


@click.command("cleanup")
@click.argument("resource", required=False, default="")
@click.option("--node", "-N", default="", help="Only on this node.")
@server_options
def cleanup(resource: str, node: str, server: str | None, context: str | None) -> None:
    """Forget failures: reset failcounts and failed operations (re-probes the resource)."""
    _call(server, context, "cleanup", {"resource": resource, "node": node})


@click.command("refresh")
@click.argument("resource", required=False, default="")
@click.option("--node", "-N", default="")
@server_options
def refresh(resource: str, node: str, server: str | None, context: str | None) -> None:
    """Forget the operation history and probe again (what runs where is re-detected)."""
    _call(server, context, "refresh", {"resource": resource, "node": node})


@click.command("move")
@click.argument("resource")
@click.option("--to", default="", help="The node to move to (default: away from where it runs).")
@click.option("--lifetime", default=None, help="The override expires after this (e.g. 10m).")
@server_options
def move(
    resource: str, to: str, lifetime: str | None, server: str | None, context: str | None
) -> None:
    """Move a resource (adds a location override; `hactl clear` removes it)."""
    _call(server, context, "move", {"resource": resource, "to": to, "lifetime": lifetime})


@click.command("ban")
@click.argument("resource")
@click.option("--node", "-N", default="", help="Default: where it runs now.")
@click.option("--lifetime", default=None)
@server_options
def ban(
    resource: str, node: str, lifetime: str | None, server: str | None, context: str | None
) -> None:
    """Keep a resource off a node (a -INFINITY location override)."""
    _call(server, context, "ban", {"resource": resource, "node": node, "lifetime": lifetime})


@click.command("clear")
@click.argument("resource")
@click.option("--node", "-N", default="")
@server_options
def clear(resource: str, node: str, server: str | None, context: str | None) -> None:
    """Remove the overrides `move` and `ban` left behind."""
    _call(server, context, "clear", {"resource": resource, "node": node})


@click.group("node")
def node() -> None:
    """Node states: standby, unstandby, maintenance."""


@node.command("standby")
@click.argument("name")
@server_options
def standby(name: str, server: str | None, context: str | None) -> None:
    """Move every resource off NAME and keep it empty."""
    _call(server, context, "standby", {"node": name})


@node.command("unstandby")
@click.argument("name")
@server_options
def unstandby(name: str, server: str | None, context: str | None) -> None:
    """Let resources run on NAME again."""
    _call(server, context, "unstandby", {"node": name})


@node.command("maintenance")
@click.argument("name")
@click.option("--off", is_flag=True, help="Leave maintenance.")
@server_options
def maintenance(name: str, off: bool, server: str | None, context: str | None) -> None:
    """Stop acting on NAME's resources (no starts, stops or monitors) until --off."""
    _call(server, context, "unmaintenance" if off else "maintenance", {"node": name})


@click.command("enable")
@click.argument("resource")
@server_options
def enable(resource: str, server: str | None, context: str | None) -> None:
    """Let a resource (or group) run: target role Started."""
    _call(server, context, "enable", {"resource": resource})


@click.command("disable")
@click.argument("resource")
@server_options
def disable(resource: str, server: str | None, context: str | None) -> None:
    """Stop a resource (or group) and keep it stopped: target role Stopped."""
    _call(server, context, "disable", {"resource": resource})


@click.command("restart")
@click.argument("resource")
@click.option("--timeout", default=60.0, type=float, help="Seconds to wait for each half.")
@server_options
def restart(resource: str, timeout: float, server: str | None, context: str | None) -> None:
    """Stop a resource, wait until it is stopped, start it again."""
    servers = resolve_servers(server, context)

    async def wait_for(c: Any, started: bool) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = json.loads((await c.view())[0])
            names = [resource, *((view.get("groups") or {}).get(resource) or [])]
            rs = [r for r in view["resources"] if r["name"] in names]
            if rs and all(bool(r["nodes"]) == started for r in rs):
                return
            await asyncio.sleep(0.1)
        click.echo(
            f"timed out waiting for {resource} to be {'started' if started else 'stopped'}",
            err=True,
        )
        sys.exit(EXIT_TIMEOUT)

    async def go() -> None:
        async with Session(servers) as c:
            for verb, started in (("disable", False), ("enable", True)):
                _res, err = await c.command(verb, json.dumps({"resource": resource}))
                if err:
                    raise HactlError(err)
                await wait_for(c, started)
            click.echo(f"{resource} restarted")

    run(go())


def fence_history_line(rec: dict[str, Any]) -> str:
    """One fencing history record: an attempt, a result or a manual confirmation."""
    when = time.strftime("%H:%M:%S", time.localtime(rec.get("at", 0)))
    n = rec.get("node")
    if rec.get("device") == "manual":
        return f"{when}  {n}: confirmed off by {rec.get('by')} (manual)"
    if rec.get("kind") == "attempt":
        result = "ok" if rec.get("ok") else f"FAILED rc={rec.get('rc')} ({rec.get('reason', '')})"
        tail = (rec.get("output") or "").strip().splitlines()
        line = (
            f"{when}  {n}: level {rec.get('level')} {rec.get('device')} "
            f"{rec.get('action', 'off')} via {rec.get('by')}: {result} "
            f"in {float(rec.get('duration') or 0):.2f}s"
        )
        if rec.get("delay"):
            line += f" (after a {float(rec['delay']):.2f}s delay)"
        if rec.get("action") == "on":
            line += " (power back on: the second half of a reboot)"
        if rec.get("cause"):
            line += f"\n          why: {rec['cause']}"
        if tail and not rec.get("ok"):
            line += f"\n          {tail[-1][:200]}"
        return line
    if rec.get("ok"):
        why = f" (why: {rec['cause']})" if rec.get("cause") else ""
        return f"{when}  {n}: FENCED by {rec.get('by')} via {rec.get('device')}{why}"
    return f"{when}  {n}: NOT fenced: {rec.get('reason', '')}"


@click.command("fence")
@click.argument("words", nargs=-1, required=True)
@server_options
def fence(words: tuple[str, ...], server: str | None, context: str | None) -> None:
    """Fence a node (`hactl fence NODE`), or declare it off (`hactl fence confirm NODE`),
    or show fencing results (`hactl fence history [NODE]`)."""
    if words[0] == "confirm" and len(words) == 2:
        _call(server, context, "fence-confirm", {"node": words[1]})
    elif words[0] == "history":
        servers = resolve_servers(server, context)

        async def go() -> None:
            async with Session(servers) as c:
                view = json.loads((await c.view())[0])
                for rec in view.get("fencingHistory") or []:
                    if len(words) > 1 and rec.get("node") != words[1]:
                        continue
                    click.echo(fence_history_line(rec))

        run(go())
    elif len(words) == 1:
        _call(server, context, "fence", {"node": words[0]})
    else:
        raise click.UsageError("hactl fence NODE | hactl fence confirm NODE | hactl fence history")
