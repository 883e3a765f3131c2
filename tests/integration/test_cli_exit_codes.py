"""hactl's documented exit codes for the live commands (no cluster needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HACTL = [sys.executable, "-m", "reconciler.cli.main"]


def run(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HACTL_CLUSTER_DIR=str(tmp / "none"), XDG_CONFIG_HOME=str(tmp))
    env.pop("HACTL_SERVER", None)
    return subprocess.run([*HACTL, *args], capture_output=True, text=True, env=env, timeout=60)


def test_unreachable_cluster_exits_3(tmp_path: Path) -> None:
    out = run("get", "resources", "--server", "127.0.0.1:25999", tmp=tmp_path)
    assert out.returncode == 3, out.stderr
    assert "127.0.0.1:25999" in out.stderr and "Traceback" not in out.stderr


def test_invalid_manifest_exits_1_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: hactl.io/v1\nkind: Resource\nmetadata: {name: web}\nspec:\n  agnt: x\n"
    )
    out = run("apply", "-f", str(bad), "--server", "127.0.0.1:25999", tmp=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "bad.yaml:5" in out.stderr and "Traceback" not in out.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("apply", tmp=tmp_path).returncode == 2
    assert run("apply", "-f", "x.yaml", "--prune", tmp=tmp_path).returncode == 2
    out = run("status", tmp=tmp_path)
    assert out.returncode == 2 and "hactl cluster up" in out.stderr


def test_cluster_init_writes_loadable_configs_and_certificates(tmp_path: Path) -> None:
    from reconciler.daemon import config

    out = run(
        "cluster", "init", "--node", "node1=10.0.0.1", "--node", "node2=10.0.0.2",
        "--node", "node3=10.0.0.3", "--dir", str(tmp_path / "cfg"), tmp=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cfgs = [config.load(tmp_path / "cfg" / f"node{i}.yaml") for i in (1, 2, 3)]
    assert len({c.cluster for c in cfgs}) == 1
    assert cfgs[1].store.member is not None and cfgs[1].store.member.peer == "10.0.0.2:2380"
    assert cfgs[0].store.ca_file == "/etc/hactl/tls/ca.crt"
    for name in ("ca.crt", "ca.key", "node1.crt", "node3.key"):
        assert (tmp_path / "cfg" / "tls" / name).exists()
    assert (
        run(
            "cluster", "init", "--node", "bad", "--dir", str(tmp_path / "x"), tmp=tmp_path
        ).returncode
        == 2
    )
