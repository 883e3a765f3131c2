"""A synced directory drives a live local cluster: real hacd, real etcd, a real OCF agent.

`hactl cluster up` (one node, etcd) and a foreground `hactl sync --prune`: a manifest
saved in the directory starts ocf:pacemaker:Dummy (its state file appears), `hactl
diff` then finds no difference (the same code path), and removing the file stops it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import _free
from gitops_harness import atomic_write

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

DUMMY = Path("/usr/lib/ocf/resource.d/pacemaker/Dummy")


def _base_port() -> int:
    for base in range(26600, 26700, 10):
        if all(_free(base + k) for k in range(1, 6)):
            return base
    raise RuntimeError("no free port block in 26600-26699")


def _hactl(
    env: dict[str, str], *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return r


def _poll(check, what: str, timeout: float = 40.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _kill_pidfiles(directory: Path) -> None:
    for pidfile in [*directory.glob("*.pid"), *directory.glob("*/*.pid")]:
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)


@pytest.mark.skipif(
    not DUMMY.exists(), reason="pacemaker-resource-agents (ocf:pacemaker:Dummy) missing"
)
def test_a_synced_directory_runs_on_a_live_cluster(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster"
    site = tmp_path / "site"
    site.mkdir()
    state = tmp_path / "dummy1.state"
    env = {**os.environ, "HACTL_CLUSTER_DIR": str(cluster)}
    env.pop("HACTL_ENDPOINTS", None)
    env.pop("HACTL_SERVER", None)
    up = _hactl(
        env,
        "cluster",
        "up",
        "-n",
        "1",
        "--base-port",
        str(_base_port()),
        "--store",
        "etcd",
        "--dir",
        str(cluster),
        "--timeout",
        "60",
    )
    sync = None
    try:
        if up.returncode != 0:
            pytest.skip(f"`hactl cluster up` failed here: {up.stderr.strip()[-400:]}")
        # no --endpoints: hactl sync finds the local cluster's store by itself
        sync = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler.cli.main",
                "sync",
                str(site),
                "--prune",
                "--prune-delay",
                "0",
                "--quiet",
                "100ms",
                "--allow-empty",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        atomic_write(
            site / "web.yaml",
            "apiVersion: hactl.io/v1\nkind: Resource\nmetadata:\n  name: dummy1\n"
            f"spec:\n  agent: ocf:pacemaker:Dummy\n  params:\n    state: {state}\n",
        )
        _poll(state.exists, "the Dummy agent started by the cluster")
        diff = _hactl(env, "diff", "-f", str(site))
        assert diff.returncode == 0, diff.stdout + diff.stderr
        # the watcher's state is part of the cluster's own views
        syncs = _hactl(env, "get", "syncs", "-o", "json")
        assert syncs.returncode == 0, syncs.stderr
        assert '"directory": "' + str(site) in syncs.stdout, syncs.stdout
        status = _hactl(env, "status")
        assert "Directory syncs:" in status.stdout and str(site) in status.stdout, status.stdout
        (site / "web.yaml").unlink()
        _poll(lambda: not state.exists(), "the Dummy agent stopped after the prune")
        sync.send_signal(signal.SIGTERM)
        out, err = sync.communicate(timeout=20)
        assert sync.returncode == 0, err
        assert "1 created" in out and "1 pruned" in out
    finally:
        if sync is not None and sync.poll() is None:
            os.kill(sync.pid, signal.SIGKILL)
            sync.wait(timeout=10)
        if cluster.exists():
            # nothing runs any more (the prune stopped it): end the processes the cluster
            # started, by their recorded PIDs (faster than a clean `hactl cluster down`)
            _kill_pidfiles(cluster)
