"""When the cluster cannot answer ``hactl status`` (its store has no quorum, or no hacd
serves the cluster view): what each node's own hacd knows, without the store.

Every hacd answers the API's NodeStatus from its own memory: its store member's role and
leader, and in a two-node cluster the guard's state and reason (waiting for the peer,
fencing it, fencing failed). A node whose hacd does not answer is read from the local
cluster's state directory when it is one of ``hactl cluster up``'s nodes
(``D/state/<node>/two-node.json``). Exit code 3 stays (the cluster cannot be reached).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.base.errors import HactlError, StoreUnavailable
from reconciler.cli.common import TLS_META, ClientTls, default_cluster_dir
from reconciler.transport.hactl_api import ApiClient


async def explained(coro: Awaitable[None], servers: Sequence[str], output: str) -> None:
    """Run ``coro`` (a live command); if the cluster cannot answer, print every node's own
    view before the error goes up (to the documented exit code 3)."""
    try:
        await coro
    except StoreUnavailable:
        ctx = click.get_current_context(silent=True)
        tls: ClientTls | None = ctx.meta.get(TLS_META) if ctx is not None else None
        views = await node_views(servers, tls)
        if any("error" not in v for v in views):
            if output == "json":
                click.echo(json.dumps({"reachable": False, "nodes": views}, indent=2))
            else:
                click.echo(render_views(views))
        raise


async def _one(address: str, tls: ClientTls | None) -> dict[str, Any]:
    try:
        c = ApiClient(address, timeout_s=3.0, credentials=tls.credentials() if tls else None)
    except HactlError as e:
        return {"address": address, "error": str(e)}
    try:
        doc = json.loads(await c.node_status())
        return {"address": address, **(doc if isinstance(doc, dict) else {})}
    except (StoreUnavailable, ValueError) as e:
        return {"address": address, "error": str(e)}
    finally:
        await c.close()


async def node_views(servers: Sequence[str], tls: ClientTls | None) -> list[dict[str, Any]]:
    """Each server's own view (NodeStatus), in the servers' order; a local cluster's node
    whose hacd does not answer is read from its state directory."""
    views = list(await asyncio.gather(*(_one(s, tls) for s in servers)))
    local = _local_cluster()
    if local is not None:
        directory, by_address = local
        for v in views:
            node = by_address.get(str(v["address"]))
            if "error" in v and node is not None:
                v["node"] = node
                state = directory / "state" / node / "two-node.json"
                try:
                    v["twoNode"] = json.loads(state.read_text())
                    v["from"] = str(state)
                    del v["error"]
                except (OSError, ValueError):
                    pass
            if node is not None:
                v["config"] = str(directory / node / "hacd.yaml")
    return views


def _local_cluster() -> tuple[Path, dict[str, str]] | None:
    from reconciler.daemon import localcluster

    d = default_cluster_dir()
    if not (d / "cluster.yaml").exists():
        return None
    try:
        lay = localcluster.load_layout(d)
    except (HactlError, KeyError, TypeError, ValueError):
        return None
    return d, {lay.api(i): n for i, n in enumerate(lay.nodes)}


def _hint(node: str, two: dict[str, Any], config: str) -> str:
    state, peer = str(two.get("state", "")), str(two.get("peer") or "its peer")
    if state == "waiting for the peer":
        return (
            f"{node} waits for {peer} (wait_for_all: a node started alone runs nothing until "
            f"it has seen its peer): start {peer}"
        )
    if state in ("peer lost", "fencing"):
        return f"{node} lost {peer} and is fencing it; it continues alone once that succeeds"
    if state == "fencing failed":
        return (
            f"fencing {peer} fails, so nothing moves: fix the fence device, or once {peer} is "
            f"really off run `hactl cluster two-node-confirm {peer} --config {config}`"
        )
    if state == "fenced, not forced yet":
        return f"{peer} was fenced; {node} is taking over the store alone"
    return ""


def render_views(views: list[dict[str, Any]]) -> str:
    out = ["The cluster cannot answer (its store has no quorum, or no hacd serves it).",
           "What each node's own hacd knows:"]  # fmt: skip
    for v in views:
        node = v.get("node") or "?"
        out.append("")
        where = v.get("from") or f"hacd at {v['address']}"
        if "error" in v:
            out.append(f"Node {node} ({v['address']}): no answer ({v['error']})")
            continue
        out.append(f"Node {node} ({where}):")
        store = v.get("store") or {}
        if "role" in store:
            leader = store.get("leader") or "no leader"
            voters = ", ".join(store.get("voters") or [])
            out.append(
                f"  * Store member: {store['role']}, {leader}"
                + (f" (term {store.get('term')}; voters {voters})" if voters else "")
            )
        two = v.get("twoNode")
        if isinstance(two, dict):
            reason = str(two.get("reason") or "")
            out.append(f"  * Two-node: {two.get('state', '?')}" + (f": {reason}" if reason else ""))
            config = str(v.get("config") or f"<{node}'s hacd.yaml>")
            hint = _hint(str(node), two, config)
            if hint:
                out.append(f"  ! {hint}")
    return "\n".join(out)
