"""`hactl status [-w]`: the one-screen view (Pacemaker's crm_mon, with a warnings block)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import yaml

from reconciler.base.errors import HactlError
from reconciler.cli.common import Session, resolve_servers, run, server_options


def render(view: dict[str, Any]) -> str:
    coord = view.get("coordinator") or {}
    nodes = view["nodes"]
    online = [n for n in nodes if n["state"] == "online"]
    out = ["Cluster Summary:"]
    out.append(
        f"  * Coordinator: {coord.get('node') or 'NONE'}"
        + (f" (fencing token {coord.get('token')})" if coord.get("node") else "")
    )
    out.append(
        f"  * Last updated: {datetime.fromtimestamp(view['time']).strftime('%a %b %d %H:%M:%S %Y')}"
    )
    out.append(f"  * {len(nodes)} nodes configured, {len(online)} online")
    out.append(f"  * {len(view['resources'])} resource instances configured")
    state = "converged" if coord.get("converged") else "converging"
    if (coord.get("startupWait") or {}).get("waitingFor"):  # cluster start: see the warning
        state = "held until the nodes joined (startupWait)"
    # once converged, what is left in the plan is bookkeeping (pseudo-actions), not work
    pending = (
        [] if coord.get("converged") else [*coord.get("inFlight", []), *coord.get("pending", [])]
    )
    out.append(
        f"  * Transition: {state}" + (f" ({len(pending)} action(s) pending)" if pending else "")
    )
    out.append("")
    out.append("Node List:")
    for n in nodes:
        tags = []
        if n["standby"]:
            tags.append("standby")
        if n["maintenance"]:
            tags.append("maintenance")
        if n["coordinator"]:
            tags.append("coordinator")
        word = {"online": "Online", "offline": "OFFLINE", "unclean": "UNCLEAN (offline)"}.get(
            n["state"], n["state"]
        )
        out.append(f"  * Node {n['name']}: {word}" + (f" ({', '.join(tags)})" if tags else ""))
    out.append("")
    out.append("Full List of Resources:")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in view["resources"]:
        groups.setdefault(r.get("group") or "", []).append(r)

    def line(r: dict[str, Any], indent: str) -> str:
        where = ",".join(r["nodes"])
        text = f"{indent}* {r['name']:<20} ({r['agent']}):\t {r['state']}"
        if where and r["state"] != "Stopped":
            text += f" {where}"
        return text

    clone_of = {target: name for name, target in (view.get("clones") or {}).items()}
    for r in groups.get("", []):
        if r.get("clone") and r["name"] in clone_of:
            out.append(f"  * Clone Set: {clone_of[r['name']]} [{r['name']}] ({r['agent']}):")
            started = " ".join(r["nodes"])
            out.append(f"    * Started: [ {started} ]" if started else "    * Stopped")
            continue
        out.append(line(r, "  "))
    for g in sorted(k for k in groups if k):
        out.append(f"  * Resource Group: {g}:")
        order = {m: i for i, m in enumerate((view.get("groups") or {}).get(g, []))}
        for r in sorted(groups[g], key=lambda x: order.get(x["name"], 0)):
            out.append(line(r, "    "))
    fails = view.get("failedActions") or []
    if fails:
        out.append("")
        out.append("Failed Resource Actions:")
        for f in fails:
            out.append(
                f"  * {f['resource']} {f['operation']}"
                + (f" (interval {f['intervalMs']}ms)" if f["intervalMs"] else "")
                + f" on {f['node']} returned '{f['rcText']}' ({f['rc']})"
                + (f": {f['output'].splitlines()[-1][:80]}" if f.get("output") else "")
            )
    counts = [(r["name"], n, c) for r in view["resources"] for n, c in r["failcounts"].items()]
    if counts:
        out.append("")
        out.append("Failcounts:")
        for name, n, c in counts:
            shown = "INFINITY" if c >= 1_000_000 else str(c)
            out.append(f"  * {name} on {n}: {shown}")
    if view.get("syncs"):
        from reconciler.cli.sync import status_lines
        from reconciler.gitops.status import SyncStatus

        out.append("")
        out.append("Directory syncs:")
        out += status_lines([SyncStatus.from_dict(d) for d in view["syncs"]])
    if view.get("warnings"):
        out.append("")
        out.append("Warnings:")
        out += [f"  ! {w}" for w in view["warnings"]]
    return "\n".join(out)


@click.command("status")
@click.option("-w", "--watch", is_flag=True, help="Redraw on every change.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@server_options
def status(watch: bool, output: str, server: str | None, context: str | None) -> None:
    """The cluster at a glance: nodes, resources, failures, warnings."""
    servers = resolve_servers(server, context)

    async def go() -> None:
        async with Session(servers) as c:
            text, _ = await c.view()
            view = json.loads(text)
            if output == "json":
                click.echo(json.dumps(view, indent=2, sort_keys=True))
                return
            click.echo(render(view))
            if not watch:
                return
            last = 0.0
            async for _ in c.changes(""):
                if time.monotonic() - last < 0.2:
                    continue
                last = time.monotonic()
                view = json.loads((await c.view())[0])
                click.clear()
                click.echo(render(view))

    from reconciler.cli.local_status import explained  # unreachable: each node's own view

    run(explained(go(), servers, output))


@click.command("export")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    required=True,
    help="Write manifests.yaml and status.yaml here.",
)
@server_options
def export(directory: Path, server: str | None, context: str | None) -> None:
    """Save the live cluster as files: its manifests and its observed status.

    Then ``hactl simulate -f DIR/manifests.yaml --status DIR/status.yaml [--node-fail N]``
    asks "what would happen if..." against the live state, without touching it.
    """
    servers = resolve_servers(server, context)

    async def go() -> None:
        async with Session(servers) as c:
            res, err = await c.command("export", "{}")
            if err:
                raise HactlError(err)
            data = json.loads(res)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "manifests.yaml").write_text(
                "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in data["manifests"])
            )
            (directory / "status.yaml").write_text(yaml.safe_dump(data["status"], sort_keys=False))
            click.echo(
                f"wrote {directory / 'manifests.yaml'} ({len(data['manifests'])} objects) "
                f"and {directory / 'status.yaml'} at revision {data['revision']}"
            )

    run(go())
