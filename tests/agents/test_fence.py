"""Fence agents: fence_dummy (type=file) and our fence_hactl_local against real processes,
plus Pacemaker's host mapping, host checks and delays."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from agents_kit import needs_fence, pid_alive, running, wait_for

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.fence import fence_delay, host_check_mode, parse_host_map, stdin_for
from reconciler.agents.request import AgentRef, OpRequest
from reconciler.agents.results import Observed
from reconciler.base.errors import AgentError


@needs_fence("fence_dummy")
def test_fence_dummy_file(tmp_path: Path, catalog: AgentCatalog) -> None:
    status = tmp_path / "power"
    status.write_text("on")
    ref = AgentRef.parse("stonith:fence_dummy")
    params = {"type": "file", "status_file": str(status)}

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:

            async def op(action: str) -> object:
                return await ex.run(OpRequest("fd", ref, action, params=params, target="n2"))

            r = await op("status")
            assert r.ok and r.rc == 0 and r.observed is Observed.RUNNING and r.meaning == "on"
            r = await op("off")
            assert r.ok and status.read_text() == "off"
            r = await op("status")
            assert r.ok and r.rc == 2 and r.observed is Observed.STOPPED and r.meaning == "off"
            r = await op("on")
            assert r.ok and status.read_text() == "on"
            r = await op("reboot")
            assert r.ok and status.read_text() == "on"
            r = await op("monitor")
            assert r.ok
            r = await op("metadata")
            assert r.ok and 'name="fence_dummy"' in r.stdout_tail
            r = await op("validate-all")
            assert r.ok
            # a bad device parameter: the agent refuses, and says why
            r = await ex.run(
                OpRequest("fd", ref, "status", params={**params, "power_timeout": "soon"})
            )
            assert not r.ok and "power-timeout" in r.stderr_tail

    asyncio.run(scenario())


def _spawn(env_extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], env=env, start_new_session=True
    )


def _starttime(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def test_fence_hactl_local_kills_a_node(tmp_path: Path, catalog: AgentCatalog) -> None:
    """A "node" n2: a daemon, a recorded process, and a process marked by its environment."""
    state = tmp_path / "cluster"
    n2 = state / "n2"
    (n2 / "pids").mkdir(parents=True)
    (state / "n3").mkdir()
    daemon = _spawn()
    recorded = _spawn()
    marked = _spawn({"HACTL_NODE_DIR": str(n2.resolve())})
    bystander = _spawn({"HACTL_NODE_DIR": str((state / "n3").resolve())})
    (n2 / "hacd.pid").write_text(f"{daemon.pid}\n")
    (n2 / "pids" / "web").write_text(f"{recorded.pid} {_starttime(recorded.pid)}\n")
    ref = AgentRef.parse("stonith:fence_hactl_local")
    params = {"state_dir": str(state), "pcmk_host_list": "n2 n3"}
    procs = [daemon, recorded, marked, bystander]

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:

            async def op(action: str, target: str | None = "n2") -> object:
                return await ex.run(OpRequest("f", ref, action, params=params, target=target))

            r = await op("status")
            assert r.ok and r.rc == 0 and r.meaning == "on"
            r = await op("list", target=None)
            assert r.ok and r.stdout_tail.splitlines() == ["n2,n2", "n3,n3"]
            r = await op("off")
            assert r.ok, r.summary() + r.stderr_tail
            for p in (daemon, recorded, marked):
                await wait_for(lambda p=p: p.poll() is not None, 5)
            assert pid_alive(bystander.pid)
            r = await op("status")
            assert r.ok and r.rc == 2 and r.observed is Observed.STOPPED
            r = await op("on")
            assert r.ok and not (n2 / "off").exists()
            r = await op("status")
            assert r.rc == 0
            r = await op("reboot")
            assert r.ok and not (n2 / "off").exists()
            for action in ("monitor", "validate-all", "metadata"):
                r = await op(action, target=None)
                assert r.ok, r.summary()
            # a node not in pcmk_host_list is refused before the agent runs
            r = await op("off", target="n9")
            assert not r.ok and "cannot fence n9" in r.reason
            # a missing state_dir is the agent's error
            r = await ex.run(OpRequest("f", ref, "monitor", params={"state_dir": "/nonexistent"}))
            assert not r.ok and "not a directory" in r.stderr_tail

    try:
        asyncio.run(scenario())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def test_fence_hactl_local_skips_recycled_pids(tmp_path: Path) -> None:
    """A recorded pid whose start time differs belongs to someone else: not killed."""
    state = tmp_path / "cluster"
    (state / "n2" / "pids").mkdir(parents=True)
    other = _spawn()
    try:
        (state / "n2" / "pids" / "old").write_text(f"{other.pid} 1\n")
        agent = Path(__file__).resolve().parents[2] / "reconciler/agents/fence/fence_hactl_local"
        out = subprocess.run(
            [str(agent)],
            input=f"action=off\nplug=n2\nstate_dir={state}\n",
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert other.poll() is None
        # the command-line spelling works too
        out = subprocess.run(
            [str(agent), "-o", "status", "-n", "n2", f"--state-dir={state}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 2 and "OFF" in out.stdout
    finally:
        other.kill()
        other.wait()


def test_host_mapping_and_delays() -> None:
    params = {"pcmk_host_map": "n1:p1;n2:p2", "pcmk_delay_base": "n1:2s;n2:0"}
    assert parse_host_map(params["pcmk_host_map"]) == {"n1": "p1", "n2": "p2"}
    assert host_check_mode(params) == "static-list"
    assert host_check_mode({}) == "dynamic-list"
    assert host_check_mode({"pcmk_host_check": "none"}) == "none"
    with pytest.raises(AgentError):
        host_check_mode({"pcmk_host_check": "sometimes"})
    rng = random.Random(7)
    assert fence_delay(params, "n1", rng) == 2.0
    assert fence_delay(params, "n2", rng) == 0.0
    delays = [fence_delay({"pcmk_delay_max": "3s"}, "n1", rng) for _ in range(50)]
    assert all(0 <= d <= 3 for d in delays) and len(set(delays)) > 1
    text = stdin_for({"ipaddr": "10.0.0.1", "pcmk_host_map": "x:y"}, "off", "p1", "n1", "port")
    assert text == b"action=off\nport=p1\nnodename=n1\nipaddr=10.0.0.1\n"
    with pytest.raises(AgentError):
        stdin_for({"login": "a\nb"}, "off", None, None, "port")


def test_dynamic_list_and_delay_through_the_executor(tmp_path: Path, catalog: AgentCatalog) -> None:
    state = tmp_path / "cluster"
    (state / "n2").mkdir(parents=True)
    ref = AgentRef.parse("stonith:fence_hactl_local")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            # dynamic-list (no host list): the device's own list decides
            r = await ex.run(
                OpRequest("f", ref, "off", params={"state_dir": str(state)}, target="n7")
            )
            assert not r.ok and "list has no n7" in r.reason
            # the map renames the node to the device's port; the base delay is waited
            params = {
                "state_dir": str(state),
                "pcmk_host_map": "node-two:n2",
                "pcmk_delay_base": "0.3s",
            }
            r = await ex.run(OpRequest("f", ref, "off", params=params, target="node-two"))
            assert r.ok and (state / "n2" / "off").exists()
            assert r.duration_s >= 0.3
            # pcmk_host_check=status: the device's status of the port decides
            params = {"state_dir": str(state), "pcmk_host_check": "status"}
            r = await ex.run(OpRequest("f", ref, "on", params=params, target="n2"))
            assert r.ok and not (state / "n2" / "off").exists()
            r = await ex.run(OpRequest("f", ref, "off", params=params, target="n8"))
            assert not r.ok and "status of n8 failed" in r.reason

    asyncio.run(scenario())
