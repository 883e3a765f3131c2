"""An LSB init script, and ocf:heartbeat:IPaddr2 inside a network namespace."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents_kit import needs_ocf, pid_alive, running

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.environment import PACKAGE_FENCE_DIR, PACKAGE_OCF_ROOT
from reconciler.agents.request import AgentRef, OpRequest
from reconciler.agents.results import ExecStatus, Observed, OcfRc, lsb_status_to_ocf

# a daemon-ish init script: start refuses to run twice (so idempotence is ours to enforce)
INIT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          hademo
# Short-Description: a demo service for hactl's tests
# Description:       Sleeps, with a pid file.
### END INIT INFO
PIDFILE={pidfile}
STATUS_OVERRIDE={override}
case "$1" in
  start)
    [ -f "$PIDFILE" ] && {{ echo "already started" >&2; exit 1; }}
    setsid sleep 300 </dev/null >/dev/null 2>&1 &
    echo $! > "$PIDFILE"; exit 0;;
  stop)
    [ -f "$PIDFILE" ] || {{ echo "not running" >&2; exit 1; }}
    kill "$(cat $PIDFILE)"; rm -f "$PIDFILE"; exit 0;;
  status)
    [ -f "$STATUS_OVERRIDE" ] && exit "$(cat $STATUS_OVERRIDE)"
    [ -f "$PIDFILE" ] || exit 3
    pid=$(cat $PIDFILE)
    [ -d /proc/$pid ] && ! grep -q "^State:.*Z" /proc/$pid/status && exit 0
    exit 1;;
  *) exit 3;;
esac
"""


def test_lsb_script(tmp_path: Path) -> None:
    initd = tmp_path / "init.d"
    initd.mkdir()
    pidfile, override = tmp_path / "hademo.pid", tmp_path / "status.rc"
    script = initd / "hademo"
    script.write_text(INIT.format(pidfile=pidfile, override=override))
    script.chmod(0o755)
    catalog = AgentCatalog(
        extra_ocf_roots=(PACKAGE_OCF_ROOT,), lsb_dir=initd, fence_dirs=(PACKAGE_FENCE_DIR,)
    )
    ref = AgentRef.parse("lsb:hademo")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:

            async def op(action: str, **kw: object) -> object:
                return await ex.run(OpRequest("demo", ref, action, **kw))  # type: ignore[arg-type]

            r = await op("monitor")
            assert r.ok and r.rc == OcfRc.NOT_RUNNING and r.raw_rc == 3
            r = await op("stop")  # already stopped: the script's stop is not even called
            assert r.ok and "already stopped" in r.reason
            r = await op("start")
            assert r.ok and pidfile.exists()
            r = await op("start")  # the script would fail; status says it runs: success
            assert r.ok and "already running" in r.reason
            r = await op("status", interval_s=10, expected_rc=0)
            assert r.ok and r.observed is Observed.RUNNING
            pid = int(pidfile.read_text())
            os.kill(pid, 9)  # crash: the pid file stays (LSB status 1)
            while pid_alive(pid):
                await asyncio.sleep(0.02)
            r = await op("monitor", interval_s=10, expected_rc=0)
            assert not r.ok and r.raw_rc == 1 and r.rc == OcfRc.NOT_RUNNING
            override.write_text("4")  # status unknown
            r = await op("monitor", interval_s=10, expected_rc=0)
            assert not r.ok and r.rc == OcfRc.ERR_GENERIC
            override.unlink()
            pidfile.unlink()
            r = await op("meta-data")
            assert r.ok
            r = await op("promote")
            assert not r.ok and r.rc == OcfRc.UNIMPLEMENTED

    asyncio.run(scenario())
    md = catalog.metadata("lsb:hademo")
    assert md.shortdesc == "a demo service for hactl's tests"
    assert [lsb_status_to_ocf(rc) for rc in range(6)] == [0, 7, 7, 7, 1, 1]


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create a network namespace")
    name = f"hactl-t-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        link = ["ip", "-n", name, "link"]
        subprocess.run([*link, "add", "eth0", "type", "veth", "peer", "name", "eth1"], check=True)
        subprocess.run([*link, "set", "eth0", "up"], check=True)
        subprocess.run([*link, "set", "eth1", "up"], check=True)
        subprocess.run(
            ["ip", "-n", name, "addr", "add", "192.168.77.1/24", "dev", "eth0"], check=True
        )
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _addresses(ns: str) -> str:
    return subprocess.run(
        ["ip", "-n", ns, "-o", "addr", "show", "dev", "eth0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@needs_ocf("heartbeat", "IPaddr2")
def test_ipaddr2_in_a_network_namespace(netns: str, tmp_path: Path, catalog: AgentCatalog) -> None:
    ref = AgentRef.parse("ocf:heartbeat:IPaddr2")
    params = {"ip": "192.168.77.50", "cidr_netmask": "24", "nic": "eth0"}

    async def scenario() -> None:
        async with running(
            tmp_path / "n1", catalog, command_prefix=("ip", "netns", "exec", netns)
        ) as ex:

            async def op(action: str, **kw: object) -> object:
                return await ex.run(OpRequest("vip", ref, action, params=params, **kw))  # type: ignore[arg-type]

            r = await op("monitor")
            assert r.ok and r.rc == OcfRc.NOT_RUNNING, r.summary() + r.stderr_tail
            r = await op("start")
            assert r.ok, r.summary() + r.stderr_tail
            assert "192.168.77.50/24" in _addresses(netns)
            r = await op("monitor", interval_s=10, expected_rc=0)
            assert r.ok, r.summary()
            # removed behind our back: the monitor notices
            subprocess.run(
                ["ip", "-n", netns, "addr", "del", "192.168.77.50/24", "dev", "eth0"], check=True
            )
            r = await op("monitor", interval_s=10, expected_rc=0)
            assert not r.ok and r.rc == OcfRc.NOT_RUNNING
            assert (await op("start")).ok
            r = await op("stop")
            assert r.ok, r.summary() + r.stderr_tail
            assert "192.168.77.50" not in _addresses(netns)
            # a nic that does not exist in the namespace
            r = await ex.run(
                OpRequest(
                    "bad", ref, "start", params={**params, "nic": "nope0", "ip": "192.168.77.51"}
                )
            )
            assert not r.ok and r.status is ExecStatus.DONE and r.reason

    asyncio.run(scenario())
