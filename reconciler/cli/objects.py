"""Object verbs: apply, get, describe, delete, diff, wait, events."""

from __future__ import annotations

import asyncio
import difflib
import json
import sys
import time
from datetime import datetime
from typing import Any

import click
import yaml

from reconciler.base.errors import HactlError, ValidationError
from reconciler.cli.common import (
    Session,
    age,
    dump,
    fail,
    resolve_servers,
    run,
    server_options,
    table,
)
from reconciler.cli.main import EXIT_FAILED, EXIT_TIMEOUT
from reconciler.model import dump_yaml, parse_paths, to_data
from reconciler.model.values import Duration
from reconciler.transport.hactl_api import ApiClient

OUTPUTS = click.Choice(["table", "wide", "yaml", "json", "name"])


def _duration(text: str) -> float:
    try:
        return Duration.parse(text).seconds
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def read_manifests(paths: tuple[str, ...]) -> list[dict[str, Any]]:
    mset, problems = parse_paths(list(paths))
    if problems:
        raise ValidationError(problems)
    return [to_data(o) for o in mset.objects]


async def wait_converged(c: ApiClient, after_revision: int, timeout_s: float) -> dict[str, Any]:
    """Until the coordinator reports convergence on a state at or after ``after_revision``."""
    deadline = time.monotonic() + timeout_s
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        text, _ = await c.view()
        view = json.loads(text)
        coord = view.get("coordinator") or {}
        if (
            coord.get("node")
            and coord.get("converged")
            and (coord.get("revision") or 0) >= after_revision
        ):
            return view
        await asyncio.sleep(0.05)
    pending = (view.get("coordinator") or {}).get("pending") or []
    inflight = (view.get("coordinator") or {}).get("inFlight") or []
    click.echo(
        "timed out waiting for the cluster to converge; still pending: "
        + (", ".join([*inflight, *pending]) or "(no coordinator report)"),
        err=True,
    )
    sys.exit(EXIT_TIMEOUT)


# ---------------------------------------------------------------------- apply
@click.command("apply")
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    help="A file, a directory of *.yaml, or - for stdin (repeatable).",
)
@click.option(
    "--dry-run",
    type=click.Choice(["none", "client", "server"]),
    default="none",
    help="client: validate only; server: validate against the cluster, write nothing.",
)
@click.option("--wait", "wait_", is_flag=True, help="Return once the cluster has converged.")
@click.option("--timeout", default="120s", help="How long --wait waits (default 120s).")
@click.option("--prune", is_flag=True, help="Delete objects matching -l that are not in the files.")
@click.option("-l", "--selector", default="", help="Label selector for --prune.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@server_options
def apply(  # noqa: PLR0917 (a click command's options)
    paths: tuple[str, ...],
    dry_run: str,
    wait_: bool,
    timeout: str,
    prune: bool,
    selector: str,
    output: str,
    server: str | None,
    context: str | None,
) -> None:
    """Create or update objects from manifests, all or nothing."""
    if prune and not selector:
        fail("--prune needs -l SELECTOR (what may be pruned)", 2)
    docs = run(_read(paths))
    if dry_run == "client":
        for d in docs:
            click.echo(f"{d['kind'].lower()}/{d['metadata']['name']} valid (dry run)")
        return
    servers = resolve_servers(server, context)
    source = ",".join(paths)

    async def go() -> None:
        async with Session(servers) as c:
            t0 = time.monotonic()
            res, rev, err, transition = await c.apply_full(
                json.dumps(docs), dry_run == "server", prune, selector, source
            )
            if err:
                click.echo(err, err=True)
                sys.exit(EXIT_FAILED)
            results = json.loads(res)
            if output == "json":
                click.echo(json.dumps({"revision": rev, "objects": results}, indent=2))
            else:
                suffix = " (server dry run)" if dry_run == "server" else ""
                for r in results:
                    click.echo(f"{r['kind'].lower()}/{r['name']} {r['action']}{suffix}")
                if dry_run == "server":
                    click.echo("Transition Summary (predicted):")
                    click.echo(transition.rstrip() or "  (nothing to do)")
            if wait_ and dry_run == "none":
                changed = any(r["action"] != "unchanged" for r in results)
                await wait_converged(c, rev if changed else 0, _duration(timeout))
                if output == "text":
                    click.echo(f"converged in {time.monotonic() - t0:.2f}s")

    run(go())


async def _read(paths: tuple[str, ...]) -> list[dict[str, Any]]:
    return read_manifests(paths)


# ---------------------------------------------------------------------- get
def _resource_rows(view: dict[str, Any], wide: bool) -> tuple[list[list[str]], list[str]]:
    header = ["NAME", "KIND", "AGENT", "ROLE", "NODE(S)", "STATE", "FAILCOUNT", "AGE"]
    if wide:
        header += ["GROUP", "TARGET", "PLACEMENT"]
    rows = []
    now = float(view.get("time") or time.time())
    for r in view["resources"]:
        row = [
            r["name"],
            r["kind"],
            r["agent"],
            r["role"],
            ",".join(r["nodes"]) or "-",
            r["state"],
            str(r["failcount"]),
            age(r.get("created"), now),
        ]
        if wide:
            row += [r.get("group") or "-", r["targetRole"], r.get("placement") or "-"]
        rows.append(row)
    return rows, header


def _node_rows(view: dict[str, Any], wide: bool) -> tuple[list[list[str]], list[str]]:
    header = ["NAME", "STATE", "STANDBY", "MAINTENANCE", "COORDINATOR"]
    if wide:
        header += ["ADDRESS"]
    rows = []
    for n in view["nodes"]:
        row = [
            n["name"],
            n["state"],
            "yes" if n["standby"] else "no",
            "yes" if n["maintenance"] else "no",
            "*" if n["coordinator"] else "",
        ]
        if wide:
            row += [n["address"] or "-"]
        rows.append(row)
    return rows, header


def _with_status(
    objs: list[dict[str, Any]], view: dict[str, Any], kind: str
) -> list[dict[str, Any]]:
    if kind != "Resource":
        return objs
    by = {r["name"]: r for r in view["resources"]}
    out = []
    for o in objs:
        r = by.get(o["metadata"]["name"])
        if r is not None:
            out.append(
                {
                    **o,
                    "status": {
                        "state": r["state"],
                        "role": r["role"],
                        "nodes": r["nodes"],
                        "failcounts": r["failcounts"],
                    },
                }
            )
        else:
            out.append(o)
    return out


async def _render_get(c: ApiClient, kind: str, name: str, selector: str, output: str) -> str:
    from reconciler.daemon.api import kind_of

    if kind.lower() in ("sync", "syncs"):
        return await _render_syncs(c, name, output)
    k = kind_of(kind)
    view = json.loads((await c.view())[0])
    wide = output == "wide"
    if output in ("table", "wide") and k in ("Resource", "Node"):
        rows, header = (_resource_rows if k == "Resource" else _node_rows)(view, wide)
        objs_json, _, err = await c.get(k, name, selector)
        if err and k == "Resource":
            raise HactlError(err)
        names = {o["metadata"]["name"] for o in json.loads(objs_json or "[]")}
        if k == "Resource" or names:
            rows = [
                r for r in rows if (not name or r[0] == name) and (k == "Node" or r[0] in names)
            ]
        if k == "Node" and name:
            rows = [r for r in rows if r[0] == name]
        return table(rows, header) if rows else "No resources found."
    objs_json, _, err = await c.get(k, name, selector)
    if err:
        raise HactlError(err)
    objs = _with_status(json.loads(objs_json), view, k)
    if output == "name":
        return "\n".join(f"{k.lower()}/{o['metadata']['name']}" for o in objs)
    if output == "json":
        data: Any = objs[0] if name and objs else {"kind": "List", "items": objs}
        return json.dumps(data, indent=2, sort_keys=True)
    if output == "yaml":
        return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs)
    now = time.time()
    rows = [[o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"), now)] for o in objs]
    return table(rows, ["NAME", "AGE"]) if rows else "No resources found."


async def _render_syncs(c: ApiClient, name: str, output: str) -> str:
    """`hactl get syncs`: the directory watchers (`hactl sync`, or hacd's) and their state."""
    from reconciler.cli.sync import render_syncs, syncs_json
    from reconciler.gitops.status import SyncStatus

    view = json.loads((await c.view())[0])
    statuses = [SyncStatus.from_dict(d) for d in view.get("syncs", [])]
    statuses = [s for s in statuses if not name or s.name == name]
    if output == "json":
        return syncs_json(statuses)
    if output == "name":
        return "\n".join(f"sync/{s.name}" for s in statuses)
    if output == "yaml":
        return yaml.safe_dump(json.loads(syncs_json(statuses)), sort_keys=False)
    return render_syncs(statuses, wide=output == "wide") if statuses else "No syncs found."


@click.command("get")
@click.argument("kind")
@click.argument("name", required=False, default="")
@click.option("-o", "--output", type=OUTPUTS, default="table")
@click.option("-w", "--watch", is_flag=True, help="Print again on every change.")
@click.option("-l", "--selector", default="", help="Label selector, e.g. app=web,tier!=db.")
@server_options
def get(  # noqa: PLR0917 (a click command's options)
    kind: str,
    name: str,
    output: str,
    watch: bool,
    selector: str,
    server: str | None,
    context: str | None,
) -> None:
    """List objects: resources (with state), nodes, or any kind."""
    servers = resolve_servers(server, context)

    async def go() -> None:
        async with Session(servers) as c:
            last = ""
            text = await _render_get(c, kind, name, selector, output)
            click.echo(text)
            last = text
            if not watch:
                return
            async for _ in c.changes(""):
                text = await _render_get(c, kind, name, selector, output)
                if text != last:
                    click.echo(text if output != "table" else "\n" + text)
                    last = text

    run(go())


# ---------------------------------------------------------------------- describe
@click.command("describe")
@click.argument("target")
@click.argument("name", required=False, default="")
@server_options
def describe(target: str, name: str, server: str | None, context: str | None) -> None:
    """Everything about one object: state, placement, failcounts, operations, events."""
    kind, _, nm = target.partition("/")
    nm = nm or name
    if not nm:
        fail("describe KIND/NAME (or KIND NAME)", 2)
    servers = resolve_servers(server, context)

    async def go() -> None:
        from reconciler.daemon.api import kind_of

        async with Session(servers) as c:
            k = kind_of(kind)
            objs_json, _, err = await c.get(k, nm, "")
            if err:
                raise HactlError(err)
            obj = json.loads(objs_json)[0]
            view = json.loads((await c.view())[0])
            click.echo(describe_text(k, obj, view))

    run(go())


def _fmt_time(t: float | None) -> str:
    if not t:
        return "-"
    return datetime.fromtimestamp(float(t)).strftime("%H:%M:%S")


def describe_text(kind: str, obj: dict[str, Any], view: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    out = [f"Name:         {name}", f"Kind:         {kind}"]
    if meta.get("labels"):
        out.append(
            "Labels:       " + ", ".join(f"{k}={v}" for k, v in sorted(meta["labels"].items()))
        )
    out.append(
        f"Generation:   {meta.get('generation')}   resourceVersion: {meta.get('resourceVersion')}"
    )
    out.append(f"Created:      {meta.get('creationTimestamp')}")
    out.append("Spec:")
    out += [
        "  " + line for line in yaml.safe_dump(obj.get("spec") or {}, sort_keys=False).splitlines()
    ]
    if kind == "Resource":
        r = next((x for x in view["resources"] if x["name"] == name), None)
        if r is not None:
            out.append("Status:")
            out.append(f"  State:      {r['state']}")
            out.append(f"  Active on:  {', '.join(r['nodes']) or '-'}")
            out.append(
                f"  Placement:  {r.get('placement') or '-'} (the coordinator's current choice)"
            )
            if r.get("group"):
                out.append(f"  Group:      {r['group']}")
            out.append(
                "  Failcounts: "
                + (", ".join(f"{n}={c}" for n, c in r["failcounts"].items()) or "none")
            )
            out.append("Operations (last per kind, per node):")
            rows = [
                [
                    o["node"],
                    o["id"] or "",
                    o["operation"],
                    str(o["intervalMs"]),
                    f"{o['rc']} ({o['rcText']})",
                    str(o["expectedRc"]),
                    _fmt_time(o.get("lastRun")),
                    str(o.get("execTimeMs") or 0) + "ms",
                    (o.get("output") or "").replace("\n", " ")[:60],
                ]
                for o in r["operations"]
            ]
            out += [
                "  " + line
                for line in table(
                    rows,
                    ["NODE", "ENTRY", "OP", "INTERVAL", "RC", "EXPECTED", "AT", "TOOK", "OUTPUT"],
                ).splitlines()
            ]
            related = [
                c for c in view.get("constraints", []) if c["resource"] in (name, r.get("group"))
            ]
            if related:
                out.append("Location overrides:")
                out += [f"  {c['name']}: {c['node']} {c['score']}" for c in related]
    if kind == "Node":
        from reconciler.cli.ha import fence_history_line

        fenced = [h for h in view.get("fencingHistory", []) if h.get("node") == name]
        out.append("Fencing history:")
        out += ["  " + fence_history_line(h) for h in fenced[-15:]] or ["  <none>"]
    evs = [e for e in view.get("events", []) if e.get("object") in (name,)]
    out.append("Events:")
    out += [f"  {_fmt_time(e['time'])}  {e['type']:<8} {e['message']}" for e in evs[-15:]] or [
        "  <none>"
    ]
    return "\n".join(out)


# ---------------------------------------------------------------------- delete
@click.command("delete")
@click.argument("kind", required=False, default="")
@click.argument("name", required=False, default="")
@click.option("-f", "--filename", "paths", multiple=True, help="Delete the objects in these files.")
@click.option("-l", "--selector", default="", help="Delete every object of KIND matching this.")
@server_options
def delete(  # noqa: PLR0917 (a click command's options)
    kind: str,
    name: str,
    paths: tuple[str, ...],
    selector: str,
    server: str | None,
    context: str | None,
) -> None:
    """Delete objects (their resources are stopped)."""
    servers = resolve_servers(server, context)
    if "/" in kind and not name:
        kind, _, name = kind.partition("/")
    if not paths and not kind:
        fail("delete KIND NAME, KIND/NAME, KIND -l SELECTOR or -f FILE", 2)
    if kind and not name and not selector and not paths:
        fail("refusing to delete every object of a kind: give NAME or -l SELECTOR", 2)

    async def go() -> None:
        targets: list[tuple[str, str]] = []
        if paths:
            targets = [(d["kind"], d["metadata"]["name"]) for d in read_manifests(paths)]
        async with Session(servers) as c:
            if kind:
                res, err = await c.delete(kind, name, selector)
                if err:
                    raise HactlError(err)
                for r in json.loads(res):
                    click.echo(f"{r['kind'].lower()}/{r['name']} deleted")
            for k, n in targets:
                res, err = await c.delete(k, n, "")
                if err:
                    click.echo(f"{k.lower()}/{n}: {err}", err=True)
                    continue
                click.echo(f"{k.lower()}/{n} deleted")

    run(go())


# ---------------------------------------------------------------------- diff
@click.command("diff")
@click.option("-f", "--filename", "paths", multiple=True, required=True)
@server_options
def diff(paths: tuple[str, ...], server: str | None, context: str | None) -> None:
    """Show what apply would change. Exit 0: no differences, 1: differences."""
    servers = resolve_servers(server, context)

    async def go() -> int:
        docs = read_manifests(paths)
        changed = False
        async with Session(servers) as c:
            res, _, err, transition = await c.apply_full(
                json.dumps(docs), True, False, "", ",".join(paths)
            )
            if err:
                raise ValidationError([]) if not err else HactlError(err)
            for r in json.loads(res):
                if r["action"] == "unchanged":
                    continue
                changed = True
                live_json, _, _ = await c.get(r["kind"], r["name"], "")
                live = json.loads(live_json)[0] if live_json and live_json != "[]" else None
                new = next(
                    d for d in docs if d["kind"] == r["kind"] and d["metadata"]["name"] == r["name"]
                )
                a = _comparable(live) if live else ""
                b = _comparable(new)
                label = f"{r['kind'].lower()}/{r['name']}"
                click.echo(
                    "".join(
                        difflib.unified_diff(
                            a.splitlines(True), b.splitlines(True), f"live/{label}", f"file/{label}"
                        )
                    )
                )
            if changed:
                click.echo("Transition Summary (predicted):")
                click.echo(transition.rstrip() or "  (nothing to do)")
        return 1 if changed else 0

    code = run(go())
    sys.exit(code)


def _comparable(doc: dict[str, Any]) -> str:
    meta = {
        k: v
        for k, v in (doc.get("metadata") or {}).items()
        if k not in ("generation", "resourceVersion", "uid", "creationTimestamp")
    }
    return yaml.safe_dump(
        {
            "apiVersion": doc.get("apiVersion"),
            "kind": doc.get("kind"),
            "metadata": meta,
            "spec": doc.get("spec"),
        },
        sort_keys=True,
    )


# ---------------------------------------------------------------------- wait
@click.command("wait")
@click.argument("target", required=False, default="")
@click.option(
    "--for",
    "for_",
    default="converged",
    help="converged (default), started or stopped (with rsc/NAME).",
)
@click.option("--timeout", default="120s")
@server_options
def wait(target: str, for_: str, timeout: str, server: str | None, context: str | None) -> None:
    """Wait until the cluster converges, or a resource is started/stopped. Exit 4 on timeout."""
    servers = resolve_servers(server, context)
    limit = _duration(timeout)
    name = target.partition("/")[2] or target

    async def go() -> None:
        async with Session(servers) as c:
            if for_ == "converged":
                await wait_converged(c, 0, limit)
                return
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                view = json.loads((await c.view())[0])
                r = next((x for x in view["resources"] if x["name"] == name), None)
                if r is None:
                    raise HactlError(f"resource {name!r} not found")
                if (for_ == "started" and r["nodes"]) or (for_ == "stopped" and not r["nodes"]):
                    return
                await asyncio.sleep(0.1)
            click.echo(f"timed out waiting for {name} to be {for_}", err=True)
            sys.exit(EXIT_TIMEOUT)

    run(go())


# ---------------------------------------------------------------------- events
@click.command("events")
@click.option("-w", "--watch", is_flag=True)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@server_options
def events(watch: bool, output: str, server: str | None, context: str | None) -> None:
    """What the cluster did recently (starts, stops, failures, fencing, coordinator changes)."""
    servers = resolve_servers(server, context)

    def show(e: dict[str, Any]) -> None:
        if output == "json":
            click.echo(json.dumps(e, sort_keys=True))
        else:
            click.echo(
                f"{_fmt_time(e['time'])}  {e['type']:<11} {e['object']:<16} {e['message']}"
                f"  [{e.get('source', '')}]"
            )

    async def go() -> None:
        async with Session(servers) as c:
            seen = 0.0
            view = json.loads((await c.view())[0])
            for e in view["events"]:
                show(e)
                seen = max(seen, e["time"])
            if not watch:
                return
            async for _ in c.changes(""):
                view = json.loads((await c.view())[0])
                for e in view["events"]:
                    if e["time"] > seen:
                        show(e)
                        seen = e["time"]

    run(go())


__all__ = ["apply", "delete", "describe", "diff", "dump", "dump_yaml", "events", "get", "wait"]
