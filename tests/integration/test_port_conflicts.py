"""`hactl store up` and `hactl cluster up` notice another cluster on their ports.

Real processes: a first store (builtin, and etcd when installed) or local cluster holds
its ports; a second `up` on the same or overlapping ports exits 1 naming the port and the
process listening there, and starts nothing. A pid file naming a live process that is
not the member (a reused pid) does not make `up` believe the member runs. And the check
after starting: when the endpoints answer — but served by another cluster's processes —
waiting for the leader (store) or for readiness (local cluster) is a PortConflict, where
it used to report success.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.daemon import localcluster, store_cluster

pytestmark = [pytest.mark.slow]

STORE_PORT = 28300  # store A: 28300-28305 (3 members); etcd: 28320-28321
CLUSTER_PORT = 28340  # one-node local cluster: 28341 (API), 28344/28345 (store member)
HACTL = [sys.executable, "-m", "reconciler.cli.main"]


def hactl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HACTL, *args], capture_output=True, text=True, timeout=90, env=env)


def pids(directory: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted(directory.glob("*.pid"))]


def alive(pid: int) -> bool:
    return (
        Path(f"/proc/{pid}").exists()
        and "Z" not in (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:1])
    )


@pytest.fixture
def store_a(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "a"
    out = hactl("store", "up", "--members", "3", "--dir", str(d), "--base-port", str(STORE_PORT))
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        yield d
    finally:
        hactl("store", "down", "--dir", str(d), "--grace", "2")


def test_store_up_on_taken_ports_names_them_and_starts_nothing(
    tmp_path: Path, store_a: Path
) -> None:
    a_pids = pids(store_a)
    for base, first in ((STORE_PORT, STORE_PORT), (STORE_PORT + 2, STORE_PORT + 2)):
        d = tmp_path / f"b{base}"
        out = hactl("store", "up", "--members", "3", "--dir", str(d), "--base-port", str(base))
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"127.0.0.1:{first} (m1's client port) is already in use by pid" in out.stderr
        assert "reconciler.daemon.store_main --name m" in out.stderr, out.stderr
        assert "nothing was started" in out.stderr
        assert not list(d.glob("*.pid")), "a member was started"
    assert all(alive(p) for p in a_pids), "the first store was harmed"

    # a leftover pid file naming a live process that is not the member (a reused pid)
    c = tmp_path / "c"
    c.mkdir()
    layout = json.loads((store_a / "store.json").read_text())
    (c / "store.json").write_text(json.dumps(layout | {"token": "another-cluster"}))
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for name in ("m1", "m2", "m3"):
            (c / f"{name}.pid").write_text(f"{sleeper.pid}\n")
        out = hactl("store", "up", "--members", "3", "--dir", str(c))
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"127.0.0.1:{STORE_PORT} (m1's client port) is already in use" in out.stderr
        # the check after starting: the endpoints answer, a leader is seen -- store A's
        lay = store_cluster.load_layout(c)
        assert lay is not None
        with pytest.raises(store_cluster.PortConflict, match=f"127.0.0.1:{STORE_PORT} .*served"):
            store_cluster.wait_for_leader(lay, c, 20)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_store_up_etcd_port_taken_by_etcd(tmp_path: Path) -> None:
    if shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed (make install as root)")
    d, port = tmp_path / "etcd", STORE_PORT + 20
    out = hactl("store", "up", "--members", "1", "--dir", str(d), "--backend", "etcd",
                "--base-port", str(port))  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        b = tmp_path / "b"
        out = hactl("store", "up", "--members", "1", "--dir", str(b), "--base-port", str(port))
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"127.0.0.1:{port} (m1's client port) is already in use by pid" in out.stderr
        assert "(etcd --name m1 --data-dir" in out.stderr, out.stderr
        assert not list(b.glob("*.pid"))
    finally:
        hactl("store", "down", "--dir", str(d), "--grace", "2")


def test_cluster_up_on_taken_ports(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HACTL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    first, second = tmp_path / "one", tmp_path / "two"
    up = ["cluster", "up", "--nodes", "1", "--base-port", str(CLUSTER_PORT), "--timeout", "45"]
    out = hactl(*up, "--dir", str(first), env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        out = hactl(*up, "--dir", str(second), env=env)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"127.0.0.1:{CLUSTER_PORT + 1} (node1's API/agent port) is already in use" in (
            out.stderr
        )
        assert "reconciler.daemon.main --config" in out.stderr, out.stderr
        assert localcluster.read_pid(second / "node1.pid") is None, "a hacd was started"
        # what `up` used to do: the store answers (the first cluster's) and a coordinator
        # reports, so readiness looked fine; now the ports' owners are checked
        lay = localcluster.load_layout(second)
        with pytest.raises(store_cluster.PortConflict, match="not by this cluster's node1"):
            localcluster.wait_ready(lay, 20)
    finally:
        hactl("cluster", "down", "--dir", str(first), env=env)
