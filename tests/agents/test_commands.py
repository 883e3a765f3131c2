"""crm_attribute / crm_master / attrd_updater / crm_node compatibility, and the hactl
agents / agent run commands, as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from agents_kit import needs_ocf

from reconciler.agents.environment import write_shims

HACTL = [sys.executable, "-m", "reconciler.cli.main"]


@pytest.fixture
def sbin(tmp_path: Path) -> Path:
    write_shims(tmp_path / "sbin")
    return tmp_path / "sbin"


def _tool(sbin: Path, tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        "PATH": f"{sbin}:/usr/bin:/bin",
        "HACTL_NODE": "n1",
        "HACTL_ATTR_FILE": str(tmp_path / "attrs.json"),
        "HACTL_ATTRD_SOCKET": str(tmp_path / "no.sock"),
        **env,
    }
    return subprocess.run(
        [str(sbin / argv[0]), *argv[1:]], env=full, capture_output=True, text=True, timeout=30
    )


def test_attribute_commands_without_a_daemon_use_the_file(sbin: Path, tmp_path: Path) -> None:
    rsc = {"OCF_RESOURCE_INSTANCE": "db:1"}
    assert _tool(sbin, tmp_path, "crm_attribute", "--promotion", "-v", "10", **rsc).returncode == 0
    out = _tool(sbin, tmp_path, "crm_attribute", "--promotion", "-G", "-q", **rsc)
    assert out.returncode == 0 and out.stdout == "10\n"
    assert _tool(sbin, tmp_path, "crm_master", "-l", "reboot", "-v", "7", **rsc).returncode == 0
    out = _tool(sbin, tmp_path, "crm_attribute", "-N", "n1", "-n", "master-db", "-G")
    assert out.stdout == "scope=nodes  name=master-db value=7\n"
    assert _tool(sbin, tmp_path, "attrd_updater", "-n", "pingd", "-U", "100").returncode == 0
    out = _tool(sbin, tmp_path, "attrd_updater", "-n", "pingd", "-Q")
    assert out.stdout == 'name="pingd" host="n1" value="100"\n'
    assert (
        _tool(sbin, tmp_path, "crm_attribute", "-n", "site", "-v", "a", "-N", "n2").returncode == 0
    )
    data = json.loads((tmp_path / "attrs.json").read_text())
    assert data == {"n1": {"master-db": "7", "pingd": "100"}, "n2": {"site": "a"}}
    assert _tool(sbin, tmp_path, "crm_master", "-D", **rsc).returncode == 0
    out = _tool(sbin, tmp_path, "crm_attribute", "--promotion", "-G", **rsc)
    assert out.returncode == 105 and "No such device" in out.stderr
    out = _tool(sbin, tmp_path, "crm_attribute", "-n", "x", "-G", "-d", "dflt", "-q")
    assert out.returncode == 0 and out.stdout == "dflt\n"
    out = _tool(sbin, tmp_path, "crm_attribute", "-G")
    assert out.returncode == 64 and "name is required" in out.stderr
    assert _tool(sbin, tmp_path, "crm_node", "-n").stdout == "n1\n"
    assert _tool(sbin, tmp_path, "crm_node", "-q").stdout == "1\n"


def _hactl(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HACTL, *argv], capture_output=True, text=True, timeout=120, cwd=cwd)


@needs_ocf("pacemaker", "Stateful")
def test_agent_run_prints_result_and_attributes(tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "n1"), "--node", "n1", "--resource", "db"]
    out = _hactl("agent", "run", "ocf:pacemaker:Stateful", "start", *state)
    assert out.returncode == 0, out.stderr
    assert "db start: ok (success, rc=0)" in out.stdout
    assert "attribute master-db=5 (node n1)" in out.stdout
    out = _hactl("agent", "run", "ocf:pacemaker:Stateful", "promote", *state, "-o", "json")
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc["result"]["ok"] is True and doc["result"]["status"] == "done"
    assert doc["attributes"] == {"master-db": "10"}
    out = _hactl("agent", "run", "ocf:pacemaker:Stateful", "stop", *state)
    assert out.returncode == 1 and "FAILED (running (promoted)" in out.stdout
    assert _hactl("agent", "run", "ocf:pacemaker:Stateful", "demote", *state).returncode == 0
    assert _hactl("agent", "run", "ocf:pacemaker:Stateful", "stop", *state).returncode == 0
    out = _hactl("agent", "run", "ocf:bad", "start")
    assert out.returncode == 2 and "ocf:PROVIDER:TYPE" in out.stderr
    out = _hactl("agent", "run", "ocf:heartbeat:Dummy", "start", "-p", "novalue", *state)
    assert out.returncode == 2 and "NAME=VALUE" in out.stderr


def test_agents_list_describe_install(tmp_path: Path) -> None:
    out = _hactl("agents", "list", "--class", "ocf")
    assert out.returncode == 0 and "ocf:hactl:webserver" in out.stdout.splitlines()
    assert all(line.startswith("ocf:") for line in out.stdout.splitlines())
    out = _hactl("agents", "describe", "ocf:hactl:webserver")
    assert out.returncode == 0
    assert "port (integer, required, unique)" in out.stdout
    assert "monitor timeout=20s interval=10s depth=0" in out.stdout
    out = _hactl("agents", "describe", "ocf:hactl:webserver", "-o", "json")
    assert json.loads(out.stdout)["name"] == "webserver"
    out = _hactl("agents", "describe", "ocf:nobody:nothing")
    assert out.returncode == 1 and "not installed" in out.stderr
    out = _hactl(
        "agents", "install", "--ocf-root", str(tmp_path / "ocf"), "--sbin", str(tmp_path / "sbin")
    )
    assert out.returncode == 0, out.stderr
    installed = tmp_path / "ocf/resource.d/hactl/webserver"
    assert os.access(installed, os.X_OK)
    assert os.access(tmp_path / "sbin/fence_hactl_local", os.X_OK)
    meta = subprocess.run([str(installed), "meta-data"], capture_output=True, text=True, timeout=30)
    assert meta.returncode == 0 and "<resource-agent" in meta.stdout
