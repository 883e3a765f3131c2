"""A directory watcher configured in hacd (`syncs:`) runs on the coordinator only.

A one-node local cluster (real hacd, real etcd) is restarted with a `syncs:` entry in
its config: a manifest saved in the directory starts ocf:pacemaker:Dummy without any
`hactl` command, `hactl get syncs` shows the watcher with the node that runs it, and
removing the file stops the resource (prune).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import _free
from gitops_harness import atomic_write
from test_gitops_cluster import _kill_pidfiles, _poll

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

DUMMY = Path("/usr/lib/ocf/resource.d/pacemaker/Dummy")


def _hactl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.skipif(not DUMMY.exists(), reason="pacemaker-resource-agents missing")
def test_hacd_runs_the_configured_watcher(tmp_path: Path) -> None:
    cluster, site = tmp_path / "cluster", tmp_path / "site"
    site.mkdir()
    state = tmp_path / "dummy.state"
    base = next(b for b in range(26700, 26800, 10) if all(_free(b + k) for k in range(1, 6)))
    env = {**os.environ, "HACTL_CLUSTER_DIR": str(cluster)}
    env.pop("HACTL_SERVER", None)
    up = [
        "cluster",
        "up",
        "-n",
        "1",
        "--base-port",
        str(base),
        "--store",
        "etcd",
        "--dir",
        str(cluster),
        "--timeout",
        "60",
    ]
    try:
        first = _hactl(env, *up)
        if first.returncode != 0:
            pytest.skip(f"`hactl cluster up` failed here: {first.stderr.strip()[-400:]}")
        assert _hactl(env, "cluster", "down", "--dir", str(cluster)).returncode == 0
        for cfg_path in cluster.glob("*/hacd.yaml"):
            cfg = yaml.safe_load(cfg_path.read_text())
            cfg["syncs"] = [
                {
                    "name": "site",
                    "directory": str(site),
                    "prune": True,
                    "allowEmpty": True,
                    "quiet": "100ms",
                    "pruneDelay": "0s",
                }
            ]
            cfg_path.write_text(yaml.safe_dump(cfg))
        again = _hactl(env, *up)
        assert again.returncode == 0, again.stderr
        atomic_write(
            site / "d.yaml",
            "apiVersion: hactl.io/v1\nkind: Resource\nmetadata:\n  name: d\n"
            f"spec:\n  agent: ocf:pacemaker:Dummy\n  params:\n    state: {state}\n",
        )
        _poll(state.exists, "the Dummy agent started through hacd's watcher", timeout=60)
        syncs = json.loads(_hactl(env, "get", "syncs", "-o", "json").stdout)["items"]
        assert [(s["name"], s["node"], s["directory"]) for s in syncs] == [
            ("site", "node1", str(site))
        ]
        (site / "d.yaml").unlink()
        _poll(lambda: not state.exists(), "the Dummy agent stopped by the prune", timeout=60)
    finally:
        if cluster.exists():
            _kill_pidfiles(cluster)
