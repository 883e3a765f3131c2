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
