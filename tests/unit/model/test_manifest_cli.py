"""`hactl validate`, `hactl explain`, `hactl schema`: a few runs as real processes (exit codes
as a shell sees them), the rest in-process through click's runner (same code, faster)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli.main import cli

REPO = Path(__file__).resolve().parents[3]
HACTL = Path(sys.executable).parent / "hactl"

needs_hactl = pytest.mark.skipif(not HACTL.exists(), reason="hactl is not installed in the venv")


def hactl_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HACTL), *args], capture_output=True, text=True, timeout=60, cwd=REPO)


def hactl(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


BAD = """apiVersion: hactl.io/v1
kind: Resource
metadata: {name: web}
spec:
  agent: ocf:heartbeat:apache
  migration_threshold: 3
---
apiVersion: hactl.io/v1
kind: Location
metadata: {name: prefer}
spec: {resource: wbe, node: node1, score: 100}
"""


def test_validate_two_sets_together_finds_their_clashes() -> None:
    out = hactl("validate", "-f", "manifests/demo", "-f", "manifests/active-passive-web/web.yaml")
    assert out.exit_code == 1
    assert "duplicate name: Node 'node1' is already defined at manifests/demo/cluster.yaml" in (
        out.stdout
    )


@needs_hactl
def test_validate_one_example_exits_0() -> None:
    out = hactl_process("validate", "-f", "manifests/demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("valid: 9 object(s)")


@needs_hactl
def test_validate_reports_every_problem_and_exits_1(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BAD)
    out = hactl_process("validate", "-f", str(f))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines == [
        f"{f}:6:3: spec.migration_threshold: unknown field `migration_threshold` "
        "(did you mean `migrationThreshold`?)",
        f"{f}:11:8: spec.resource: Location prefer: resource 'wbe' does not exist "
        "(did you mean `web`?)",
    ]
    assert "Traceback" not in out.stderr


def test_validate_json_output(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BAD)
    out = hactl("validate", "-o", "json", "-f", str(f))
    assert out.exit_code == 1
    data = json.loads(out.stdout)
    assert data["valid"] is False
    assert [(p["line"], p["path"]) for p in data["problems"]] == [
        (6, "spec.migration_threshold"),
        (11, "spec.resource"),
    ]
    assert data["problems"][0]["hint"] == "did you mean `migrationThreshold`?"


def test_validate_reads_stdin() -> None:
    text = (REPO / "manifests" / "promotable-database" / "db.yaml").read_text()
    out = hactl("validate", "-f", "-", stdin=text)
    assert out.exit_code == 0, out.output
    out = hactl("validate", "-f", "-", stdin="kind: [\n")
    assert out.exit_code == 1
    assert out.stdout.startswith("<stdin>:2:1: invalid YAML")


@needs_hactl
def test_a_missing_file_is_a_usage_error_exit_2() -> None:
    out = hactl_process("validate", "-f", "/no/such/file")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "/no/such/file: no such file or directory" in out.stderr


@pytest.mark.parametrize(
    "args",
    [("validate",), ("validate", "-f", "x", "-o", "xml"), ("validate", "-f", "-", "-f", "-")],
)
def test_validate_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    out = hactl(*args)
    assert out.exit_code == 2, out.output


def test_explain_and_schema() -> None:
    out = hactl("explain", "Location.spec.rules")
    assert out.exit_code == 0 and "list of LocationRule" in out.stdout
    assert hactl("explain", "Nope").exit_code == 2
    out = hactl("schema", "--kind", "node")
    assert out.exit_code == 0
    assert json.loads(out.stdout)["title"] == "Node"
    out = hactl("schema", "--markdown")
    assert out.stdout == (REPO / "docs" / "manifests.md").read_text()
