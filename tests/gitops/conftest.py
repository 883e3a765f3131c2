"""Real stores for the GitOps tests, on 127.0.0.1 ports 26000-26999.

``etcd``: Debian's etcd, one member, temporary data directory, killed by its PID at
teardown. ``backend``: the same tests against each store engine, real etcd and
hactl's builtin store (one member, started with `hactl store up`, stopped with
`hactl store down` and then by PID if still alive). Each test clears ``/hactl/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PORT_LO, PORT_HI = 26000, 26999


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(rng: random.Random) -> tuple[int, int]:
    for _ in range(200):
        client = rng.randrange(PORT_LO, PORT_HI - 1)
        if _free(client) and _free(client + 1):
            return client, client + 1
    raise RuntimeError("no free port pair in 26000-26999")


@dataclass(frozen=True)
class Etcd:
    endpoint: str
    pid: int
    kind: str = "etcd"


async def _ready(endpoint: str, deadline: float) -> None:
    from reconciler.base.errors import StoreError
    from reconciler.statestore.etcd import EtcdKv

    kv = EtcdKv([endpoint], timeout=1.0)
    try:
        while True:
            try:
                await kv.put("/hactl-test/ready", b"1")
                return
            except StoreError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
    finally:
        await kv.close()


@pytest.fixture(scope="session")
def etcd() -> Iterator[Etcd]:
    if shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed (make install as root installs it)")
    data = tempfile.mkdtemp(prefix="hactl-gitops-etcd-")
    rng = random.Random(os.getpid())
    client, peer = _pick_ports(rng)
    log = open(os.path.join(data, "etcd.log"), "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            "etcd",
            "--name",
            "gitops",
            "--data-dir",
            os.path.join(data, "member"),
            "--listen-client-urls",
            f"http://127.0.0.1:{client}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-cluster",
            f"gitops=http://127.0.0.1:{peer}",
            "--log-level",
            "error",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"127.0.0.1:{client}"
    try:
        asyncio.run(_ready(endpoint, time.monotonic() + 15))
        yield Etcd(endpoint, proc.pid)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def builtin_store() -> Iterator[Etcd]:
    """hactl's builtin store (one member), through its own `hactl store up`."""
    import sys

    data = tempfile.mkdtemp(prefix="hactl-gitops-builtin-")
    client, _ = _pick_ports(random.Random(os.getpid() + 1))
    up = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler.cli.main",
            "store",
            "up",
            "-n",
            "1",
            "--dir",
            data,
            "--backend",
            "builtin",
            "--base-port",
            str(client),
            "--timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    pid_file = os.path.join(data, "m1.pid")
    pid = int(Path(pid_file).read_text()) if os.path.exists(pid_file) else 0
    try:
        if up.returncode != 0:
            pytest.skip(f"the builtin store did not start: {up.stderr.strip()[-300:]}")
        endpoint = Path(data, "endpoints").read_text().strip().split(",")[0]
        asyncio.run(_ready(endpoint, time.monotonic() + 15))
        yield Etcd(endpoint, pid, "builtin")
    finally:
        subprocess.run(
            [sys.executable, "-m", "reconciler.cli.main", "store", "down", "--dir", data],
            capture_output=True,
            timeout=60,
        )
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(params=["etcd", "builtin"])
def backend(request: pytest.FixtureRequest) -> Etcd:
    """Each store engine in turn: the watcher must behave the same on both."""
    name = "etcd" if request.param == "etcd" else "builtin_store"
    store: Etcd = request.getfixturevalue(name)
    return store
