"""Local store clusters as OS processes: what ``hactl store up/down`` (and tests) run.

``up(dir, members, backend)`` starts N members on 127.0.0.1 -- builtin members
(``python -m reconciler.daemon.store_main``) or real etcd -- writes ``dir/endpoints``
(comma-separated client endpoints), ``dir/<member>.pid`` and ``dir/store.json`` (the
layout, so that ``up`` again on the same directory restarts the same members with their
data), and returns once a leader is elected. ``down(dir)`` stops them (SIGTERM, then
SIGKILL after a grace period).

Before starting, every port is tried (a bind test); after starting, the endpoints must be
served by the processes in ``dir/<member>.pid``: something else answering on a port (a
second cluster, a leftover member) is a :class:`PortConflict` naming the port and what
listens there, and the members started by that ``up`` are stopped again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

from reconciler.base.errors import ConfigError, HactlError, StoreUnavailable

BACKENDS = ("builtin", "etcd")
LAYOUT = "store.json"


@dataclass(frozen=True, slots=True)
class Layout:
    backend: str
    members: int
    base_port: int
    token: str
    tls: bool = False
    snapshot_count: int = 0  # 0: the backend's default
    quota_bytes: int = 0  # 0: the backend's default

    def names(self) -> list[str]:
        return [f"m{i + 1}" for i in range(self.members)]

    def client_port(self, i: int) -> int:
        return self.base_port + 2 * i

    def peer_port(self, i: int) -> int:
        return self.base_port + 2 * i + 1

    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def endpoints(self) -> list[str]:
        return [f"127.0.0.1:{self.client_port(i)}" for i in range(self.members)]


class PortConflict(HactlError):
    """A port this cluster needs is taken by another process."""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` (a bind test, as the member's own bind:
    SO_REUSEADDR, which only skips TIME_WAIT, and no SO_REUSEPORT)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
    except OSError:
        return False
    finally:
        s.close()
    return True


def _listening_inodes(port: int) -> set[str]:
    """The socket inodes listening on TCP ``port`` (any address), from /proc/net."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    found.add(f[9])
    return found


def _socket_inodes(pid: int) -> set[str]:
    out: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    out.add(link[8:-1])
    return out


def pid_listens(pid: int, port: int) -> bool:
    """True if process ``pid`` holds a socket listening on TCP ``port``."""
    inodes = _listening_inodes(port)
    return bool(inodes) and bool(inodes & _socket_inodes(pid))


def _command(pid: int) -> str:
    """A short form of a process's command line: the program (``-m`` module) and its
    ``--name``/``--data-dir``/``--config`` arguments."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    prog = os.path.basename(argv[0]) if argv else "?"
    if "-m" in argv[:-1]:
        prog = argv[argv.index("-m") + 1]
    shown = [prog]
    for flag in ("--name", "--data-dir", "--config"):
        if flag in argv[:-1]:
            shown += [flag, argv[argv.index(flag) + 1]]
    return " ".join(shown)


def listener(port: int) -> str | None:
    """What listens on TCP ``port`` (``pid 123 (etcd --name m1 …)``), None if nothing."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in sorted(Path("/proc").iterdir(), key=lambda p: p.name):
        if proc.name.isdigit() and inodes & _socket_inodes(int(proc.name)):
            return f"pid {proc.name} ({_command(int(proc.name))})"
    return "a process hactl cannot inspect (another user's?)"


def describe_listener(port: int) -> str:
    return listener(port) or "nothing listens there now"


def check_ports(ports: list[tuple[int, str]]) -> None:
    """Raise :class:`PortConflict` naming every taken port of ``[(port, role)]``."""
    taken = [
        f"127.0.0.1:{p} ({role}) is already in use by {describe_listener(p)}"
        for p, role in ports
        if not port_free(p)
    ]
    if taken:
        raise PortConflict(
            "; ".join(taken) + ": stop it (another cluster, or a leftover member) "
            "or choose other ports (--base-port); nothing was started"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def load_layout(directory: Path) -> Layout | None:
    try:
        data = json.loads((directory / LAYOUT).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{directory / LAYOUT}: unreadable ({exc})") from None
    return Layout(**data)


def member_command(layout: Layout, directory: Path, i: int) -> list[str]:
    names = layout.names()
    name = names[i]
    s = layout.scheme()
    cluster = ",".join(f"{n}={s}://127.0.0.1:{layout.peer_port(j)}" for j, n in enumerate(names))
    common = [
        "--name",
        name,
        "--data-dir",
        str(directory / name),
        "--listen-client-urls",
        f"{s}://127.0.0.1:{layout.client_port(i)}",
        "--advertise-client-urls",
        f"{s}://127.0.0.1:{layout.client_port(i)}",
        "--listen-peer-urls",
        f"{s}://127.0.0.1:{layout.peer_port(i)}",
        "--initial-advertise-peer-urls",
        f"{s}://127.0.0.1:{layout.peer_port(i)}",
        "--initial-cluster",
        cluster,
        "--initial-cluster-token",
        layout.token,
        "--initial-cluster-state",
        "new",
    ]
    if layout.snapshot_count:
        common += ["--snapshot-count", str(layout.snapshot_count)]
    if layout.quota_bytes:
        common += ["--quota-backend-bytes", str(layout.quota_bytes)]
    if layout.tls:
        tls = directory / "tls"
        common += [
            "--cert-file", str(tls / f"{name}.crt"),
            "--key-file", str(tls / f"{name}.key"),
            "--trusted-ca-file", str(tls / "ca.crt"),
            "--client-cert-auth",
            "--peer-cert-file", str(tls / f"{name}.crt"),
            "--peer-key-file", str(tls / f"{name}.key"),
            "--peer-trusted-ca-file", str(tls / "ca.crt"),
            "--peer-client-cert-auth",
        ]  # fmt: skip
    if layout.backend == "etcd":
        etcd = shutil.which("etcd")
        if etcd is None:
            raise ConfigError("the etcd backend needs Debian's etcd-server (`etcd` not on PATH)")
        return [etcd, *common, "--logger", "zap", "--log-outputs", "stderr"]
    clients = ",".join(f"{n}={s}://127.0.0.1:{layout.client_port(j)}" for j, n in enumerate(names))
    return [
        sys.executable,
        "-m",
        "reconciler.daemon.store_main",
        *common,
        "--initial-cluster-clients",
        clients,
    ]


def start_member(layout: Layout, directory: Path, i: int) -> int:
    """Start member ``i`` (unless its pid file names a live process); returns its pid."""
    name = layout.names()[i]
    pidfile = directory / f"{name}.pid"
    pid = _read_pid(pidfile)
    if pid is not None and _running(layout, directory, i):
        return pid
    log = (directory / f"{name}.log").open("ab")
    env = dict(os.environ)
    env.setdefault("ETCD_UNSUPPORTED_ARCH", "")
    proc = subprocess.Popen(
        member_command(layout, directory, i),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        env=env,
    )
    log.close()
    pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def client_credentials(directory: Path) -> grpc.ChannelCredentials:
    tls = directory / "tls"
    return grpc.ssl_channel_credentials(
        root_certificates=(tls / "ca.crt").read_bytes(),
        private_key=(tls / "client.key").read_bytes(),
        certificate_chain=(tls / "client.crt").read_bytes(),
    )


async def _leader_seen(endpoints: list[str], creds: grpc.ChannelCredentials | None) -> bool:
    """True when every endpoint answers Status and they agree on a leader."""
    leaders = set()
    for ep in endpoints:
        ch = grpc.aio.secure_channel(ep, creds) if creds else grpc.aio.insecure_channel(ep)
        try:
            stub = rpc_pb2_grpc.MaintenanceStub(ch)
            st = await stub.Status(rpc_pb2.StatusRequest(), timeout=1.0)
            leaders.add(st.leader)
        except grpc.aio.AioRpcError:
            return False
        finally:
            await ch.close(None)
    return len(leaders) == 1 and 0 not in leaders


def _ports(layout: Layout, i: int) -> list[tuple[int, str]]:
    name = layout.names()[i]
    return [(layout.client_port(i), f"{name}'s client port"),
            (layout.peer_port(i), f"{name}'s peer port")]  # fmt: skip


def not_ours(
    owners: list[tuple[str, int | None, list[tuple[int, str]]]],
) -> tuple[list[str], list[str]]:
    """Of the ports each owner (name, pid, [(port, role)]) should listen on, those it
    does not: (served by another process, not listened on yet), as messages."""
    taken, idle = [], []
    for name, pid, ports in owners:
        for port, role in ports:
            if pid is not None and pid_listens(pid, port):
                continue
            other = listener(port)
            where = f"127.0.0.1:{port} ({role})"
            if other is None:
                idle.append(f"{where}: nothing listens there")
            else:
                taken.append(f"{where} is served by {other}, not by {name} (pid {pid})")
    return taken, idle


def _foreign(layout: Layout, directory: Path) -> tuple[list[str], list[str]]:
    """Ports of this store its members' processes do not listen on."""
    return not_ours(
        [(name, _read_pid(directory / f"{name}.pid"), _ports(layout, i))
         for i, name in enumerate(layout.names())]
    )  # fmt: skip


def wait_for_leader(layout: Layout, directory: Path, timeout: float) -> None:
    """Until the members agree on a leader and every endpoint is served by the member
    processes of ``directory`` (not by another cluster on the same ports)."""
    creds = client_credentials(directory) if layout.tls else None
    deadline = time.monotonic() + timeout
    idle: list[str] = []
    while time.monotonic() < deadline:
        for i, name in enumerate(layout.names()):
            pid = _read_pid(directory / f"{name}.pid")
            if pid is None or not _pid_alive(pid):
                tail = _tail(directory / f"{name}.log")
                taken = [
                    f"127.0.0.1:{p} ({role}) is in use by {describe_listener(p)}"
                    for p, role in _ports(layout, i)
                    if not port_free(p)
                ]
                if taken:
                    raise PortConflict(f"store member {name} exited: " + "; ".join(taken))
                raise StoreUnavailable(f"store member {name} (#{i + 1}) exited:\n{tail}")
        if asyncio.run(_leader_seen(layout.endpoints(), creds)):
            taken, idle = _foreign(layout, directory)
            if taken:
                raise PortConflict("another process answers for this store: " + "; ".join(taken))
            if not idle:
                return
        time.sleep(0.1)
    if idle:
        raise TimeoutError("the members did not listen on: " + "; ".join(idle))
    raise TimeoutError(f"no leader elected within {timeout:.0f} s")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def up(
    directory: Path,
    members: int,
    backend: str,
    base_port: int,
    *,
    tls: bool = False,
    timeout: float = 30.0,
    snapshot_count: int = 0,
    quota_bytes: int = 0,
) -> Layout:
    directory.mkdir(parents=True, exist_ok=True)
    old = load_layout(directory)
    if old is not None:
        if (old.backend, old.members) != (backend, members):
            raise ConfigError(
                f"{directory} holds a {old.members}-member {old.backend} store; "
                f"`hactl store down` it and use another directory"
            )
        layout = old
    else:
        if backend not in BACKENDS:
            raise ConfigError(f"--backend: {backend!r} is not one of {', '.join(BACKENDS)}")
        if members < 1:
            raise ConfigError("--members: at least 1")
        token = f"hactl-{os.getpid()}-{int(time.time())}"
        layout = Layout(backend, members, base_port, token, tls, snapshot_count, quota_bytes)
        if tls:
            from reconciler.transport.certs import make_ca, make_cert

            make_ca(directory / "tls")
            for name in [*layout.names(), "client"]:
                make_cert(directory / "tls", name, ["127.0.0.1", "localhost"])
        (directory / LAYOUT).write_text(json.dumps(asdict(layout), indent=1) + "\n")
    idle = [i for i in range(layout.members) if not _running(layout, directory, i)]
    check_ports([p for i in idle for p in _ports(layout, i)])
    started = [start_member(layout, directory, i) for i in idle]
    (directory / "endpoints").write_text(",".join(layout.endpoints()) + "\n")
    try:
        wait_for_leader(layout, directory, timeout)
    except BaseException:
        for pid in started:  # leave nothing of ours running after a failed up
            _stop(pid, 5.0)
        raise
    return layout


def _running(layout: Layout, directory: Path, i: int) -> bool:
    """Member ``i`` runs: its pid file names a live process that is that member (a
    reused pid is not)."""
    name = layout.names()[i]
    pid = _read_pid(directory / f"{name}.pid")
    if pid is None or not _pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return True  # cannot tell: trust the pid file
    data = (directory / name).resolve()
    return any((cwd / a).resolve() == data for a in argv[1:] if a and not a.startswith("-"))


def _stop(pid: int, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def down(directory: Path, grace: float = 10.0) -> list[str]:
    """Stop every member that has a pid file in ``directory``; returns their names."""
    stopped = []
    pids: dict[str, int] = {}
    for pidfile in sorted(directory.glob("*.pid")):
        pid = _read_pid(pidfile)
        if pid is not None and _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            pids[pidfile.stem] = pid
        pidfile.unlink(missing_ok=True)
    deadline = time.monotonic() + grace
    for name, pid in sorted(pids.items()):
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stopped.append(name)
    return stopped
