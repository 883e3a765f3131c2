"""`hactl cluster init|up|down|status`: write node configs; run a local cluster on 127.0.0.1."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click

from reconciler.base.errors import HactlError
from reconciler.cli.common import (
    ClientTls,
    contexts_file,
    default_cluster_dir,
    fail,
    save_context,
)
from reconciler.cli.main import EXIT_FAILED, EXIT_UNREACHABLE
from reconciler.daemon import localcluster
from reconciler.daemon.config import NodeConfig, save

ADMIN = "admin"  # hactl's client certificate: D/tls/admin.crt
ETC_TLS = "/etc/hactl/tls"  # where the nodes' configs expect the certificates


def _host(endpoint: str) -> str:
    """``https://10.0.0.1:2379`` → ``10.0.0.1``."""
    return endpoint.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")


@click.group("cluster")
def cluster() -> None:
    """Create and run clusters (a local one on 127.0.0.1, or configs for real machines)."""


@cluster.command("up")
@click.option("--nodes", "-n", default=3, show_default=True, help="How many nodes.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Cluster directory (default $HACTL_CLUSTER_DIR or /tmp/hactl-cluster-<uid>).",
)
@click.option("--base-port", default=localcluster.DEFAULT_BASE_PORT, show_default=True)
@click.option(
    "--store",
    "backend",
    type=click.Choice(["builtin", "etcd"]),
    default="builtin",
    show_default=True,
    help="The store: builtin (embedded in hacd) or etcd (Debian's etcd-server, 3 members).",
)
@click.option("--timeout", default=60.0, show_default=True)
@click.option(
    "--two-node",
    is_flag=True,
    help="Two nodes, no witness: two_node + wait_for_all with mandatory fencing "
    "(node1 wins a split; see docs/fencing.md).",
)
@click.option(
    "--fence-delay",
    default=localcluster.TWO_NODE_FENCE_DELAY,
    show_default=True,
    help="--two-node: seconds node2 waits before fencing node1.",
)
@click.option(
    "--tls",
    is_flag=True,
    help="TLS with client-certificate auth on every port (store client and peer, hacd's "
    "API/agent port): a cluster CA, node certificates and hactl's admin certificate in "
    "DIR/tls; the `local` context points at them.",
)
def up(  # noqa: PLR0917 (a click command's options)
    nodes: int,
    directory: Path | None,
    base_port: int,
    backend: str,
    timeout: float,
    two_node: bool,
    fence_delay: float,
    tls: bool,
) -> None:
    """Start a real cluster of hacd processes on 127.0.0.1 (again: restart it with its data)."""
    d = directory or default_cluster_dir()
    if two_node:
        nodes = 2
    if tls and (d / "cluster.yaml").exists():
        try:
            old = localcluster.load_layout(d)
        except HactlError as e:
            fail(str(e), 2)
        if not old.tls:
            fail(f"{d} holds a plaintext local cluster: `hactl cluster down`, remove {d}, "
                 "then `hactl cluster up --tls`", 2)  # fmt: skip
    from reconciler.daemon.store_cluster import PortConflict

    try:
        lay = localcluster.start(
            d,
            nodes,
            base_port,
            backend,
            two_node=two_node,
            fence_delay=fence_delay,
            tls=tls,
            timeout_s=timeout,
        )
    except PortConflict as e:
        fail(f"hactl cluster up: {e}", EXIT_FAILED)
        return
    except HactlError as e:
        fail(str(e), EXIT_UNREACHABLE)
        return
    servers = ",".join(lay.api(i) for i in range(len(lay.nodes)))
    files = localcluster.client_tls(lay)
    admin = ClientTls(*(Path(f) for f in files)) if files else None
    save_context("local", servers, tls=admin)
    mode = f", TLS: the `local` context uses {admin.cert}" if admin else ""
    click.echo(f"cluster up: {len(lay.nodes)} nodes in {d} (store: {lay.backend}{mode})")
    for i, n in enumerate(lay.nodes):
        click.echo(f"  {n}: {lay.api(i)}  log {d / n / 'hacd.log'}")
    click.echo("try: hactl status")


@cluster.command("down")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None)
def down(directory: Path | None) -> None:
    """Stop the local cluster (resources are stopped cleanly, data kept)."""
    d = directory or default_cluster_dir()
    try:
        localcluster.down(d)
    except HactlError as e:
        fail(str(e))
    click.echo(f"cluster down: {d}")


@cluster.command("init")
@click.option(
    "--node",
    "nodes",
    multiple=True,
    required=True,
    help="NAME=HOST (repeat for every node), e.g. node1=10.0.0.1",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    required=True,
    help="Where to write one config per node.",
)
@click.option("--port", default=7420, show_default=True, help="hacd's API/agent port.")
@click.option(
    "--etcd",
    "endpoints",
    default="",
    help="Use an existing etcd: comma-separated client endpoints.",
)
@click.option("--state-dir", default="/run/hactl", show_default=True)
@click.option("--data-dir", default="/var/lib/hactl", show_default=True)
@click.option(
    "--tls/--no-tls",
    default=True,
    show_default=True,
    help="Create a cluster CA, node certificates and hactl's admin certificate (D/tls): "
    "TLS with client-certificate auth on the store and on hacd's port.",
)
@click.option(
    "--two-node",
    is_flag=True,
    help="Exactly two nodes, no witness: two_node + wait_for_all; needs --fence-agent.",
)
@click.option("--fence-agent", default="", help="The nodes' fence agent (e.g. fence_ipmilan).")
@click.option("--fence-param", multiple=True, help="KEY=VALUE for the fence agent (repeat).")
@click.option(
    "--fence-delay",
    multiple=True,
    help="--two-node: NODE=SECONDS, fencing NODE waits that long (NODE wins a split).",
)
def init(  # noqa: PLR0917 (a click command's options)
    nodes: tuple[str, ...],
    directory: Path,
    port: int,
    endpoints: str,
    state_dir: str,
    data_dir: str,
    tls: bool,
    two_node: bool,
    fence_agent: str,
    fence_param: tuple[str, ...],
    fence_delay: tuple[str, ...],
) -> None:
    """Write hacd configs for a cluster of real machines (copy each to its node)."""
    extra = _fencing_settings(nodes, two_node, fence_agent, fence_param, fence_delay)
    pairs = []
    for item in nodes:
        name, _, host = item.partition("=")
        if not name or not host:
            fail(f"--node {item!r}: expected NAME=HOST", 2)
        pairs.append((name, host))
    cluster_id = f"hactl-{secrets.token_hex(4)}"
    directory.mkdir(parents=True, exist_ok=True)
    tls_dir = directory / "tls"
    if tls:
        from reconciler.transport.certs import make_ca, make_cert

        if not (tls_dir / "ca.crt").exists():
            make_ca(tls_dir, f"hactl cluster CA {cluster_id}")
        if ADMIN in dict(pairs):
            fail(f"--node {ADMIN}=...: {ADMIN!r} names hactl's client certificate", 2)
        for name, host in pairs:
            make_cert(tls_dir, name, [host, name, "localhost"])
        make_cert(tls_dir, ADMIN, [ADMIN])
        click.echo(
            f"wrote the cluster CA, node certificates and hactl's {ADMIN}.crt in {tls_dir} "
            "(copy ca.crt and each node's <node>.crt/.key; keep ca.key off the nodes)"
        )
    all_nodes = {n: f"{h}:{port}" for n, h in pairs}
    etcd = [e.strip() for e in endpoints.split(",") if e.strip()]
    for name, host in pairs:
        store: dict[str, object]
        if etcd:
            # this node's etcd member first when it has one (the others follow)
            mine = [e for e in etcd if _host(e) == host] + [e for e in etcd if _host(e) != host]
            store = {"backend": "etcd", "endpoints": mine}
        else:
            store = {
                "backend": "builtin",
                "endpoints": [f"{h}:2379" for _, h in pairs],
                "member": {"client": f"{host}:2379", "peer": f"{host}:2380"},
                "members": {n: f"{h}:2380" for n, h in pairs},
                "memberClients": {n: f"{h}:2379" for n, h in pairs},
            }
        node_tls = None
        if tls:
            node_tls = {
                "certFile": f"{ETC_TLS}/{name}.crt",
                "keyFile": f"{ETC_TLS}/{name}.key",
                "caFile": f"{ETC_TLS}/ca.crt",
                "clientCertAuth": True,
            }
            store |= {
                "caFile": "/etc/hactl/tls/ca.crt",
                "certFile": f"/etc/hactl/tls/{name}.crt",
                "keyFile": f"/etc/hactl/tls/{name}.key",
            }
        cfg = NodeConfig.model_validate(
            {
                "cluster": cluster_id,
                "node": name,
                "listen": f"{host}:{port}",
                "dataDir": data_dir,
                "stateDir": state_dir,
                "store": store,
                "nodes": all_nodes,
                "tls": node_tls,
            }
            | extra
        )
        save(cfg, directory / f"{name}.yaml")
        click.echo(f"wrote {directory / (name + '.yaml')}")
    click.echo(f"cluster id {cluster_id}; start each node with: hacd --config <node>.yaml")
    if tls:
        admin = ClientTls(tls_dir / "ca.crt", tls_dir / f"{ADMIN}.crt", tls_dir / f"{ADMIN}.key")
        save_context(cluster_id, ",".join(all_nodes.values()), make_current=False, tls=admin)
        click.echo(
            f"hactl context {cluster_id!r} (TLS, {ADMIN} certificate) saved in "
            f"{contexts_file()}: hactl status --context {cluster_id}"
        )
    sys.exit(0)


@cluster.command("two-node-confirm")
@click.argument("peer")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="The surviving node's hacd.yaml.",
)
def two_node_confirm(peer: str, config_path: Path) -> None:
    """Declare the lost PEER of a two-node cluster off, when fencing it keeps failing.

    Run on the surviving node, only after making sure PEER is really off (power cable,
    console): its guard then continues alone as if a fence device had succeeded."""
    import json

    from reconciler.daemon.config import load

    try:
        cfg = load(config_path)
    except HactlError as e:
        fail(str(e), 2)
    if cfg.two_node is None:
        fail(f"{config_path}: not a two-node cluster (no twoNode:)", 2)
    if peer == cfg.node or peer not in cfg.nodes:
        fail(f"{peer!r} is not this node's peer", 2)
    state_file = cfg.node_state_dir() / "two-node.json"
    try:
        state = json.loads(state_file.read_text()).get("state", "")
    except (OSError, ValueError):
        state = ""
    if state not in ("fencing", "fencing failed"):
        fail(f"{cfg.node}'s two-node guard is not failing to fence ({state or 'not running'})")
    (cfg.node_state_dir() / "two-node-confirm").write_text(peer + "\n")
    click.echo(f"{peer} confirmed off; {cfg.node} continues alone once its guard reads it")


def _fencing_settings(
    nodes: tuple[str, ...],
    two_node: bool,
    agent: str,
    params: tuple[str, ...],
    delays: tuple[str, ...],
) -> dict[str, object]:
    """``fencing:`` and ``twoNode:`` of every node's config, from init's options."""
    out: dict[str, object] = {}
    if agent:
        kv = {}
        for item in params:
            k, sep, v = item.partition("=")
            if not sep or not k:
                fail(f"--fence-param {item!r}: expected KEY=VALUE", 2)
            kv[k] = v
        out["fencing"] = {"agent": agent, "params": kv}
    if not two_node:
        if delays:
            fail("--fence-delay is for --two-node", 2)
        return out
    if len(nodes) != 2:
        fail(f"--two-node needs exactly two --node (got {len(nodes)})", 2)
    if not agent:
        fail("--two-node: fencing is mandatory; give --fence-agent", 2)
    names = {n.partition("=")[0] for n in nodes}
    delay: dict[str, float] = {}
    for item in delays:
        n, sep, v = item.partition("=")
        try:
            if not sep or n not in names:
                raise ValueError
            delay[n] = float(v)
        except ValueError:
            fail(f"--fence-delay {item!r}: expected NODE=SECONDS for one of the nodes", 2)
    out["twoNode"] = {"fenceDelay": delay}
    return out
