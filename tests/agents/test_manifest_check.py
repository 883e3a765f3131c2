"""`hactl validate` checks params against the agents installed here (real meta-data)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.agents.manifest_check import check_installed_agents
from reconciler.model import load_text

pytestmark = pytest.mark.skipif(
    not Path("/usr/lib/ocf/resource.d/heartbeat/Dummy").exists()
    or not shutil.which("fence_apc_snmp"),
    reason="needs Debian's resource-agents and fence-agents (make install)",
)

MANIFEST = """\
apiVersion: hactl.io/v1
kind: Resource
metadata: {name: d1}
spec:
  agent: ocf:heartbeat:Dummy
  params:
    stat: /tmp/x
---
apiVersion: hactl.io/v1
kind: Resource
metadata: {name: gone}
spec:
  agent: ocf:heartbeat:NoSuchAgent
---
apiVersion: hactl.io/v1
kind: FencingDevice
metadata: {name: pdu}
spec:
  agent: fence_apc_snmp
  params: {ip: 127.0.0.1}
  hostList: [node1]
"""


def test_unknown_param_and_missing_agent_are_located() -> None:
    problems = check_installed_agents(load_text(MANIFEST, "c.yaml"))
    by_obj = {p.message.split(":")[0]: p for p in problems}
    assert set(by_obj) == {"Resource d1", "Resource gone"}, problems
    typo = by_obj["Resource d1"]
    assert (typo.file, typo.line, typo.path) == ("c.yaml", 7, "spec.params.stat")
    assert typo.hint == "did you mean `state`?"
    assert by_obj["Resource gone"].path == "spec.agent"
    assert by_obj["Resource gone"].line == 13


def test_new_fence_param_name_satisfies_the_deprecated_required_one() -> None:
    # fence_apc_snmp marks both `ip` and its deprecated spelling `ipaddr` required.
    fence_only = MANIFEST.split("---\n")[2]
    assert check_installed_agents(load_text(fence_only, "f.yaml")) == []


def test_validate_cli_reports_it_and_can_skip_it(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(MANIFEST)
    hactl = [sys.executable, "-m", "reconciler.cli.main", "validate", "-f", str(f)]
    out = subprocess.run(hactl, capture_output=True, text=True)
    assert out.returncode == 1
    assert f"{f}:7:" in out.stdout and "did you mean `state`?" in out.stdout
    skipped = subprocess.run([*hactl, "--no-agent-check"], capture_output=True, text=True)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
