"""A real cluster of hacd processes on 127.0.0.1 (``hactl cluster up/down``, tests, the demo).

Layout of the cluster directory ``D``::

    D/cluster.yaml            what was started (nodes, ports, backend, tls)
    D/servers                 hacd API addresses, comma separated (hactl finds it here;
                              plaintext clusters only: a TLS one is found by its context)
    D/tls/                    --tls: the cluster CA, <node>.crt/.key, hactl's admin.crt/.key
    D/etcd/<member>/          etcd data (store: etcd), D/etcd/<member>.pid
    D/<node>/hacd.yaml        the node's configuration
    D/<node>/hacd.log         its log
    D/<node>.pid              its pid
    D/state/<node>/           agents' state (HA_RSCTMP, HA_VARRUN, pids/, hacd.pid)
                              — the local fence agent's state_dir is D/state

Each node gets its own state directory, so agents of different local nodes
never share pid files or temporary state.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from reconciler.base.errors import ConfigError, StoreUnavailable
from reconciler.daemon.config import FencingConfig, NodeConfig, StoreConfig, save

DEFAULT_BASE_PORT = 25500
TWO_NODE_FENCE_DELAY = 3.0  # s; longer than the local fence agent needs to power a node off


@dataclass(frozen=True, slots=True)
class Layout:
    directory: Path
    nodes: tuple[str, ...]
    base_port: int
    backend: str
    two_node: bool = False  # two nodes, two_node + wait_for_all (docs/fencing.md)
    fence_delay: float = 0.0  # two_node: fencing node1 waits this long (node1 wins a split)
    tls: bool = False  # TLS with client-certificate auth on every port (D/tls)

    def api(self, i: int) -> str:
        return f"127.0.0.1:{self.base_port + 10 * i + 1}"

    def etcd_client(self, i: int) -> str:
        return f"127.0.0.1:{self.base_port + 10 * i + 2}"

    def etcd_peer(self, i: int) -> str:
        return f"127.0.0.1:{self.base_port + 10 * i + 3}"

    def member_client(self, i: int) -> str:
        return f"127.0.0.1:{self.base_port + 10 * i + 4}"

    def member_peer(self, i: int) -> str:
        return f"127.0.0.1:{self.base_port + 10 * i + 5}"

    @property
    def state_dir(self) -> Path:
        return self.directory / "state"

    def config_path(self, node: str) -> Path:
        return self.directory / node / "hacd.yaml"

    def pidfile(self, node: str) -> Path:
        return self.directory / f"{node}.pid"

    @property
    def tls_dir(self) -> Path:
        return self.directory / "tls"

    def tls_file(self, name: str, ext: str) -> str:
        """``D/tls/<name>.<ext>`` (``ca.crt``, ``node1.key``, ``admin.crt``...)."""
        return str((self.tls_dir / f"{name}.{ext}").resolve())

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def endpoints(self) -> list[str]:
        if self.backend == "etcd":
            return [self.etcd_client(i) for i in range(len(self.nodes))]
        return [self.member_client(i) for i in range(len(self.nodes))]


def layout(
    directory: Path,
    nodes: int,
    base_port: int,
    backend: str,
    *,
    two_node: bool = False,
    fence_delay: float = TWO_NODE_FENCE_DELAY,
    tls: bool = False,
) -> Layout:
    if not 1 <= nodes <= 9:
        raise ConfigError("a local cluster has 1 to 9 nodes")
    if two_node and (nodes != 2 or backend != "builtin"):
        raise ConfigError("a two-node cluster has exactly 2 nodes and the builtin store")
    names = tuple(f"node{i + 1}" for i in range(nodes))
    fd = fence_delay if two_node else 0.0
    return Layout(directory, names, base_port, backend, two_node, fd, tls)


ADMIN = "admin"  # hactl's client certificate in D/tls


def make_certs(lay: Layout) -> None:
    """The cluster CA, every node's certificate (server and client, for 127.0.0.1) and
    hactl's admin client certificate, in D/tls; kept when they exist (a restart)."""
    from reconciler.transport.certs import make_ca, make_cert

    d = lay.tls_dir
    if not (d / "ca.crt").exists():
        make_ca(d, f"hactl local cluster CA {lay.directory.name}")
    for n in (*lay.nodes, ADMIN):
        if not (d / f"{n}.crt").exists():
            make_cert(d, n, ["127.0.0.1", "localhost", n])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def start_etcd(lay: Layout) -> None:
    names = list(lay.nodes)
    sch = lay.scheme
    initial = ",".join(f"{n}={sch}://{lay.etcd_peer(i)}" for i, n in enumerate(names))
    for i, n in enumerate(names):
        pidfile = lay.directory / "etcd" / f"{n}.pid"
        pid = read_pid(pidfile)
        if pid and _alive(pid):
            continue
        data = lay.directory / "etcd" / n
        fresh = not data.exists()
        data.mkdir(parents=True, exist_ok=True)
        log = open(lay.directory / "etcd" / f"{n}.log", "ab")  # noqa: SIM115
        args = [
            "etcd",
            "--name", n,
            "--data-dir", str(data),
            "--listen-client-urls", f"{sch}://{lay.etcd_client(i)}",
            "--advertise-client-urls", f"{sch}://{lay.etcd_client(i)}",
            "--listen-peer-urls", f"{sch}://{lay.etcd_peer(i)}",
            "--initial-advertise-peer-urls", f"{sch}://{lay.etcd_peer(i)}",
            "--initial-cluster", initial,
            "--initial-cluster-token", f"hactl-{lay.directory.name}",
            "--initial-cluster-state", "new" if fresh else "existing",
            "--heartbeat-interval", "100",
            "--election-timeout", "1000",
            "--logger", "zap",
            "--log-level", "warn",
        ]  # fmt: skip
        if lay.tls:
            crt, key, ca = lay.tls_file(n, "crt"), lay.tls_file(n, "key"), lay.tls_file("ca", "crt")
            args += [
                "--cert-file", crt, "--key-file", key, "--trusted-ca-file", ca,
                "--client-cert-auth",
                "--peer-cert-file", crt, "--peer-key-file", key,
                "--peer-trusted-ca-file", ca, "--peer-client-cert-auth",
            ]  # fmt: skip
        proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        pidfile.write_text(f"{proc.pid}\n")


def write_configs(lay: Layout) -> None:
    for i, n in enumerate(lay.nodes):
        files: dict[str, object] = {}
        node_tls: dict[str, object] | None = None
        if lay.tls:
            ca, crt, key = lay.tls_file("ca", "crt"), lay.tls_file(n, "crt"), lay.tls_file(n, "key")
            files = {"caFile": ca, "certFile": crt, "keyFile": key}
            node_tls = {"certFile": crt, "keyFile": key, "caFile": ca, "clientCertAuth": True}
        if lay.backend == "etcd":
            store = StoreConfig.model_validate(
                {"backend": "etcd", "endpoints": lay.endpoints()} | files
            )
        else:
            store = StoreConfig.model_validate(
                {
                    "backend": "builtin",
                    "endpoints": lay.endpoints(),
                    "member": {"client": lay.member_client(i), "peer": lay.member_peer(i)},
                    "members": {m: lay.member_peer(j) for j, m in enumerate(lay.nodes)},
                    "memberClients": {m: lay.member_client(j) for j, m in enumerate(lay.nodes)},
                }
                | files
            )
        cfg = NodeConfig.model_validate(
            {
                "cluster": f"local-{lay.directory.name}",
                "node": n,
                "listen": lay.api(i),
                "dataDir": str(lay.directory / n / "data"),
                "stateDir": str(lay.state_dir),
                "store": store.model_dump(by_alias=True, exclude_none=True),
                "nodes": {m: lay.api(j) for j, m in enumerate(lay.nodes)},
                "planner": os.environ.get("HACTL_PLANNER", "scheduler"),
                "fencing": FencingConfig(
                    agent="fence_hactl_local", params={"state_dir": str(lay.state_dir)}
                ).model_dump(),
            }
            | ({"tls": node_tls} if node_tls else {})
            | ({"twoNode": {"fenceDelay": {lay.nodes[0]: lay.fence_delay}}} if lay.two_node else {})
        )
        lay.config_path(n).parent.mkdir(parents=True, exist_ok=True)
        save(cfg, lay.config_path(n))


def power_on(lay: Layout, node: str) -> None:
    """After the local fence agent powered a node off: what a reboot does to its tmpfs."""
    import shutil

    node_dir = lay.state_dir / node
    if not (node_dir / "off").exists():
        return
    for sub in ("run", "rsctmp", "lock", "pids"):
        shutil.rmtree(node_dir / sub, ignore_errors=True)
    (node_dir / "off").unlink()


def start_node(lay: Layout, node: str, extra_env: dict[str, str] | None = None) -> int:
    pid = read_pid(lay.pidfile(node))
    if pid and _alive(pid):
        return pid
    power_on(lay, node)
    log = open(lay.directory / node / "hacd.log", "ab")  # noqa: SIM115
    env = dict(os.environ)
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler.daemon.main", "--config", str(lay.config_path(node))],
        stdout=log,
        stderr=log,
        start_new_session=True,
        env=env,
    )
    lay.pidfile(node).write_text(f"{proc.pid}\n")
    return proc.pid


def save_layout(lay: Layout) -> None:
    (lay.directory / "cluster.yaml").write_text(
        yaml.safe_dump(
            {
                "nodes": list(lay.nodes),
                "basePort": lay.base_port,
                "backend": lay.backend,
            }
            | ({"twoNode": True, "fenceDelay": lay.fence_delay} if lay.two_node else {})
            | ({"tls": True} if lay.tls else {})
        )
    )
    write_servers(lay)


def write_servers(lay: Layout) -> None:
    """D/servers, where hactl finds a plaintext local cluster (it carries no TLS files:
    a TLS cluster is found through its context, see :func:`client_tls`)."""
    path = lay.directory / "servers"
    if lay.tls:
        with contextlib.suppress(OSError):
            path.unlink()
        return
    path.write_text(",".join(lay.api(i) for i in range(len(lay.nodes))))


def client_tls(lay: Layout) -> tuple[str, str, str] | None:
    """hactl's TLS files for this cluster: (CA, admin certificate, admin key), or None."""
    if not lay.tls:
        return None
    return lay.tls_file("ca", "crt"), lay.tls_file(ADMIN, "crt"), lay.tls_file(ADMIN, "key")


def load_layout(directory: Path) -> Layout:
    try:
        data = yaml.safe_load((directory / "cluster.yaml").read_text())
    except OSError:
        raise ConfigError(f"no local cluster in {directory}") from None
    return Layout(
        directory,
        tuple(data["nodes"]),
        int(data["basePort"]),
        str(data["backend"]),
        bool(data.get("twoNode", False)),
        float(data.get("fenceDelay", 0.0)),
        bool(data.get("tls", False)),
    )


def _ports(lay: Layout) -> dict[str, list[tuple[int, str]]]:
    """Every process's ports: ``{"<node>": [...], "etcd/<node>": [...]}``."""
    out: dict[str, list[tuple[str, str]]] = {}
    for i, n in enumerate(lay.nodes):
        mine = [(lay.api(i), f"{n}'s API/agent port")]
        if lay.backend == "builtin":
            mine += [(lay.member_client(i), f"{n}'s store client port"),
                     (lay.member_peer(i), f"{n}'s store peer port")]  # fmt: skip
        else:
            out[f"etcd/{n}"] = [(lay.etcd_client(i), f"etcd {n}'s client port"),
                                (lay.etcd_peer(i), f"etcd {n}'s peer port")]  # fmt: skip
        out[n] = mine
    return {k: [(int(a.rsplit(":", 1)[1]), r) for a, r in v] for k, v in out.items()}


def _pidfile(lay: Layout, proc: str) -> Path:
    if proc.startswith("etcd/"):
        return lay.directory / "etcd" / f"{proc[5:]}.pid"
    return lay.pidfile(proc)


def _running(lay: Layout, proc: str) -> int | None:
    """The pid of this cluster's process ``proc`` (a node, ``etcd/<node>``) if it runs:
    its pid file names a live process whose command line names this cluster's
    directory (a reused pid does not)."""
    pid = read_pid(_pidfile(lay, proc))
    if pid is None or not _alive(pid):
        return None
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid
    return pid if str(lay.directory).encode() in cmd else None


def check_ports(lay: Layout) -> None:
    """Before starting: the ports of every process that is not running yet must be free
    (:class:`~reconciler.daemon.store_cluster.PortConflict` names what holds them)."""
    from reconciler.daemon.store_cluster import check_ports as check

    check([p for proc, ports in sorted(_ports(lay).items()) if not _running(lay, proc)
           for p in ports])  # fmt: skip


def foreign_ports(lay: Layout) -> tuple[list[str], list[str]]:
    """Ports of this cluster not served by its own processes: (served by another
    process, not listened on yet)."""
    from reconciler.daemon.store_cluster import not_ours

    return not_ours(
        [
            (f"this cluster's {proc}", read_pid(_pidfile(lay, proc)), ports)
            for proc, ports in sorted(_ports(lay).items())
        ]
    )


def up(
    directory: Path,
    nodes: int = 3,
    base_port: int = DEFAULT_BASE_PORT,
    backend: str = "etcd",
    extra_env: dict[str, str] | None = None,
    *,
    two_node: bool = False,
    fence_delay: float = TWO_NODE_FENCE_DELAY,
    tls: bool = False,
) -> Layout:
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "cluster.yaml").exists():
        lay = load_layout(directory)
    else:
        lay = layout(
            directory,
            nodes,
            base_port,
            backend,
            two_node=two_node,
            fence_delay=fence_delay,
            tls=tls,
        )
        if lay.tls:
            make_certs(lay)
        write_configs(lay)
        save_layout(lay)
    write_servers(lay)
    check_ports(lay)
    lay.state_dir.mkdir(parents=True, exist_ok=True)
    if lay.backend == "etcd":
        start_etcd(lay)
    for n in lay.nodes:
        start_node(lay, n, extra_env)
    return lay


def start(
    directory: Path,
    nodes: int = 3,
    base_port: int = DEFAULT_BASE_PORT,
    backend: str = "builtin",
    *,
    two_node: bool = False,
    fence_delay: float = TWO_NODE_FENCE_DELAY,
    tls: bool = False,
    timeout_s: float = 60.0,
) -> Layout:
    """:func:`up` then :func:`wait_ready` (``hactl cluster up``); when that fails, the
    processes this call started are stopped again (those that ran before are kept)."""
    before: set[str] = set()
    if (directory / "cluster.yaml").exists():
        old = load_layout(directory)
        before = {proc for proc in _ports(old) if _running(old, proc)}
    lay = up(
        directory,
        nodes,
        base_port,
        backend,
        two_node=two_node,
        fence_delay=fence_delay,
        tls=tls,
    )
    try:
        wait_ready(lay, timeout_s)
    except BaseException:
        for proc in sorted(set(_ports(lay)) - before):
            pid = read_pid(_pidfile(lay, proc))
            if pid is not None:
                stop_pid(pid, signal.SIGTERM, 10.0)
        raise
    return lay


def wait_ready(lay: Layout, timeout_s: float = 30.0) -> None:
    """Until every node is live and a coordinator reports (polls the store), served by
    this cluster's own processes: another cluster answering on its ports is a
    :class:`~reconciler.daemon.store_cluster.PortConflict`."""
    import asyncio

    from reconciler.daemon import keys
    from reconciler.daemon.store_cluster import PortConflict
    from reconciler.statestore.etcd import EtcdKv, tls_credentials

    files = client_tls(lay)
    creds = tls_credentials(*files) if files else None

    async def check() -> bool:
        kv = EtcdKv(lay.endpoints(), timeout=2.0, credentials=creds)
        try:
            live, _ = await kv.range(keys.LIVE)
            coord = await kv.get(keys.COORDINATOR)
            lock = await kv.get(keys.ELECTION)
            return len(live) == len(lay.nodes) and coord is not None and lock is not None
        except Exception:
            return False
        finally:
            await kv.close()

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if asyncio.run(check()):
            taken, idle = foreign_ports(lay)
            if taken:
                raise PortConflict("another process answers for this cluster: " + "; ".join(taken))
            if not idle:
                return
        time.sleep(0.2)
    raise StoreUnavailable(f"the local cluster in {lay.directory} did not come up in {timeout_s}s")


def stop_pid(pid: int, sig: int = signal.SIGTERM, wait_s: float = 30.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.02)


def stop_node(lay: Layout, node: str, sig: int = signal.SIGTERM) -> None:
    pid = read_pid(lay.pidfile(node))
    if pid is not None:
        stop_pid(pid, sig)


def kill_node_processes(lay: Layout, node: str) -> None:
    """What a power cut does: hacd and everything its agents started.

    Agents' processes carry ``HACTL_NODE_DIR=<state_dir>/<node>`` in their environment
    (daemons they forked included), as the local fence agent finds them.
    """
    stop_node(lay, node, signal.SIGKILL)
    marker = f"HACTL_NODE_DIR={(lay.state_dir / node).resolve()}".encode()
    victims: set[int] = set()
    pids_dir = lay.state_dir / node / "pids"
    for f in sorted(pids_dir.glob("*")) if pids_dir.is_dir() else []:
        pid = read_pid(f)
        if pid:
            victims.add(pid)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                victims.add(int(proc.name))
    for pid in sorted(victims):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def down(directory: Path) -> Layout:
    lay = load_layout(directory)
    pids = [read_pid(lay.pidfile(n)) for n in lay.nodes]
    for pid in pids:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    for pid in pids:
        if pid:
            stop_pid(pid, signal.SIGTERM, 60.0)
    for n in lay.nodes:
        pid = read_pid(lay.directory / "etcd" / f"{n}.pid")
        if pid:
            stop_pid(pid, signal.SIGTERM, 10.0)
    with contextlib.suppress(OSError):
        (lay.directory / "servers").unlink()
    return lay
