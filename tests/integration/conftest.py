"""A real local cluster for the live-cluster tests: etcd + 3 hacd processes on 127.0.0.1.

Ports 25100-25399 (one block of 100 per module). Every test runs with the
active-twice checker sampling every node's ground truth.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import LiveCluster


def _missing() -> str | None:
    if shutil.which("etcd") is None:
        return "Debian's etcd-server is not installed (make install as root)"
    if not Path("/usr/lib/ocf/resource.d/pacemaker/Dummy").exists():
        return "pacemaker-resource-agents (ocf:pacemaker:Dummy) is not installed"
    return None


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveCluster]:
    why = _missing()
    if why:
        pytest.skip(why)
    base = int(getattr(request.module, "BASE_PORT", 25100))
    d = tmp_path_factory.mktemp("cluster")
    c = LiveCluster(d, base)
    c.up()
    try:
        yield c
    finally:
        c.down()


@pytest.fixture
def checker(live: LiveCluster) -> Iterator[ActiveChecker]:
    assert live.lay is not None
    ch = ActiveChecker(live.lay.state_dir, live.nodes).start()
    live.checker = ch
    try:
        yield ch
    finally:
        ch.stop()
        live.checker = None
    ch.check()
    assert ch.samples > 0


@pytest.fixture
def etcd(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """One real etcd member on the module's ``CLIENT``/``PEER`` ports; yields its endpoint."""
    if shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed (make install as root)")
    client, peer_port = int(request.module.CLIENT), int(request.module.PEER)
    log = open(tmp_path / "etcd.log", "wb")  # noqa: SIM115
    url, peer = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer_port}"
    proc = subprocess.Popen(
        ["etcd", "--name", "m1", "--data-dir", str(tmp_path / "etcd"),
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
         "--initial-cluster", f"m1={peer}", "--log-level", "warn", "--logger", "zap"],
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        yield f"127.0.0.1:{client}"
    finally:
        proc.kill()
        proc.wait(10)
        log.close()
