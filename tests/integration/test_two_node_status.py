"""`hactl status` explains a two-node cluster that cannot answer (its store has no quorum).

Real hacd processes (``hactl cluster up --two-node``'s layout, builtin store, the local
fence agent), hactl as a subprocess finding the local cluster by its directory:

- node1 started alone waits for its peer (wait_for_all): status exits 3 and prints node1's
  own view from its hacd (the API's NodeStatus, answered without the store): the store
  member without a leader, the guard "waiting for the peer", and what to do;
- node1's hacd stopped (SIGSTOP): status reads the local cluster's state directory;
- the pair formed, the only FencingDevice broken, node1 lost: node2 waits, its fencing
  failing; status says so and names the two-node-confirm command with node2's config.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.daemon import localcluster

pytestmark = [pytest.mark.slow]

BASE_PORT = 28380  # node1 28381-28385, node2 28391-28395
HACTL = [sys.executable, "-m", "reconciler.cli.main"]
BROKEN_DEVICE = """apiVersion: hactl.io/v1
kind: FencingDevice
metadata: {name: broken}
spec:
  agent: fence_hactl_local
  params: {state_dir: /nonexistent/hactl}
  hostList: [node1, node2]
"""


def wait_for(pred: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def lay(tmp_path: Path) -> Iterator[localcluster.Layout]:
    if not Path("/usr/lib/ocf/resource.d/pacemaker/Dummy").exists():
        pytest.skip("pacemaker-resource-agents is not installed")
    d = tmp_path / "c"
    lay = localcluster.layout(d, 2, BASE_PORT, "builtin", two_node=True, fence_delay=1.0)
    localcluster.write_configs(lay)
    localcluster.save_layout(lay)
    lay.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield lay
    finally:
        for n in lay.nodes:
            pid = localcluster.read_pid(lay.pidfile(n))
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        localcluster.down(d)


def guard(lay: localcluster.Layout, node: str) -> dict[str, Any]:
    try:
        return dict(json.loads((lay.state_dir / node / "two-node.json").read_text()))
    except (OSError, ValueError):
        return {}


def hactl(lay: localcluster.Layout, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HACTL_")}
    env |= {"HACTL_CLUSTER_DIR": str(lay.directory),
            "XDG_CONFIG_HOME": str(lay.directory.parent / "config")}  # fmt: skip
    return subprocess.run([*HACTL, *args], capture_output=True, text=True, env=env, timeout=90)


def test_status_explains_why_a_two_node_cluster_waits(lay: localcluster.Layout) -> None:
    localcluster.start_node(lay, "node1")
    wait_for(lambda: guard(lay, "node1").get("state") == "waiting for the peer", "wait", 40)

    out = hactl(lay, "status")
    assert out.returncode == 3, out.stdout + out.stderr
    assert f"Node node1 (hacd at {lay.api(0)}):" in out.stdout, out.stdout
    assert "Store member:" in out.stdout and "no leader" in out.stdout, out.stdout
    assert "Two-node: waiting for the peer: wait_for_all: node2 has not been seen" in out.stdout
    assert "node1 waits for node2" in out.stdout and "start node2" in out.stdout
    assert f"Node node2 ({lay.api(1)}): no answer" in out.stdout
    assert "error: " in out.stderr
    js = hactl(lay, "status", "-o", "json")
    assert js.returncode == 3
    views = json.loads(js.stdout)["nodes"]
    assert views[0]["node"] == "node1" and views[0]["twoNode"]["state"] == "waiting for the peer"

    # node1's hacd does not answer either: the local cluster's state directory does
    pid = localcluster.read_pid(lay.pidfile("node1"))
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        out = hactl(lay, "status")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert out.returncode == 3, out.stdout + out.stderr
    assert f"Node node1 ({lay.state_dir / 'node1' / 'two-node.json'}):" in out.stdout
    assert "Two-node: waiting for the peer" in out.stdout, out.stdout

    # the pair, then node1 lost while fencing cannot succeed: node2 waits, and says why
    localcluster.start_node(lay, "node2")
    localcluster.wait_ready(lay, 60)
    (lay.directory / "broken.yaml").write_text(BROKEN_DEVICE)
    out = hactl(lay, "apply", "-f", str(lay.directory / "broken.yaml"), "--wait")
    assert out.returncode == 0, out.stdout + out.stderr
    wait_for(lambda: guard(lay, "node2").get("state") == "pair", "node2's guard armed", 30)
    localcluster.kill_node_processes(lay, "node1")
    wait_for(lambda: guard(lay, "node2").get("state") == "fencing failed", "fencing fails", 40)
    # the guard retries with a back-off ("fencing" then "fencing failed" again): poll
    deadline = time.monotonic() + 30
    while True:
        out = hactl(lay, "status")
        assert out.returncode == 3, out.stdout + out.stderr
        assert f"Node node2 (hacd at {lay.api(1)}):" in out.stdout, out.stdout
        if "Two-node: fencing failed" in out.stdout or time.monotonic() > deadline:
            break
    assert "Two-node: fencing failed: node1 is not fenced" in out.stdout, out.stdout
    assert (
        f"hactl cluster two-node-confirm node1 --config {lay.config_path('node2')}" in out.stdout
    ), out.stdout
