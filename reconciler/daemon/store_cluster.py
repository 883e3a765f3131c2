"""Local store clusters as OS processes: what ``hactl store up/down`` (and tests) run.

``up(dir, members, backend)`` starts N members on 127.0.0.1 -- builtin members
(``python -m reconciler.daemon.store_main``) or real etcd -- writes ``dir/endpoints``
(comma-separated client endpoints), ``dir/<member>.pid`` and ``dir/store.json`` (the
layout, so that ``up`` again on the same directory restarts the same members with their
data), and returns once a leader is elected. ``down(dir)`` stops them (SIGTERM, then
SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

from reconciler.base.errors import ConfigError, StoreUnavailable

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
    if pid is not None and _pid_alive(pid):
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


def wait_for_leader(layout: Layout, directory: Path, timeout: float) -> None:
    creds = client_credentials(directory) if layout.tls else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(_leader_seen(layout.endpoints(), creds)):
            return
        for i, name in enumerate(layout.names()):
            pid = _read_pid(directory / f"{name}.pid")
            if pid is None or not _pid_alive(pid):
                tail = _tail(directory / f"{name}.log")
                raise StoreUnavailable(f"store member {name} (#{i + 1}) exited:\n{tail}")
        time.sleep(0.1)
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
    for i in range(layout.members):
        start_member(layout, directory, i)
    (directory / "endpoints").write_text(",".join(layout.endpoints()) + "\n")
    wait_for_leader(layout, directory, timeout)
    return layout


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
