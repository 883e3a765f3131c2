"""systemd units through D-Bus, against a real systemd user manager.

The test machine has no systemd as PID 1, so a user manager runs as root inside a
private mount namespace that fakes /run/systemd/system; it answers on
$XDG_RUNTIME_DIR/systemd/private, where the runner talks to it as it would to the system
manager's /run/systemd/private.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents_kit import running, wait_for

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.request import AgentRef, OpRequest
from reconciler.agents.results import ExecStatus, Observed, OcfRc
from reconciler.agents.systemd import SystemdManager, UnitState, monitor_rc

SYSTEMD = Path("/lib/systemd/systemd")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not SYSTEMD.exists() or shutil.which("unshare") is None,
    reason="needs root, /lib/systemd/systemd and unshare (a user manager in a private "
    "mount namespace)",
)

UNITS = {
    "hasleep.service": "[Service]\nExecStart=/bin/sleep 300\nExecReload=/bin/true\n"
    "Restart=always\nRestartSec=0\n",
    "hafail.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/false\n",
    "haslow.service": "[Service]\nExecStartPre=/bin/sleep 3\nExecStart=/bin/sleep 300\n",
}


@pytest.fixture(scope="module")
def user_manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("sd")
    runtime = base / "rt"
    runtime.mkdir(mode=0o700)
    units = runtime / "systemd" / "user"
    units.mkdir(parents=True)
    for name, text in UNITS.items():
        (units / name).write_text(text)
    env = dict(
        os.environ,
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(base / "config"),
        XDG_DATA_HOME=str(base / "data"),
    )
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    log = (base / "systemd.log").open("wb")
    # a user bus first, so the manager is also reachable through a message bus
    bus: subprocess.Popen[bytes] | None = None
    if shutil.which("dbus-daemon"):
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", f"--address=unix:path={runtime / 'bus'}", "--nofork",
             "--nopidfile"],
            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        bus_deadline = time.monotonic() + 10
        while not (runtime / "bus").exists() and time.monotonic() < bus_deadline:
            time.sleep(0.02)
    proc = subprocess.Popen(
        [
            "unshare", "-m", "--propagation", "private", "sh", "-c",
            "mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && "
            f"exec {SYSTEMD} --user",
        ],
        env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    sock = runtime / "systemd" / "private"
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.skip(
                f"the systemd user manager did not start: {(base / 'systemd.log').read_text()[-500:]}"
            )
        time.sleep(0.05)
    try:
        yield runtime
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if bus is not None:
            bus.terminate()
            bus.wait(10)
        log.close()


def _ref(unit: str) -> AgentRef:
    return AgentRef.parse(f"systemd:{unit}")


def test_state_mapping() -> None:
    assert monitor_rc(UnitState("loaded", "active", "running", 0))[0] == OcfRc.OK
    assert monitor_rc(UnitState("loaded", "reloading", "reload", 0))[0] == OcfRc.OK
    assert monitor_rc(UnitState("loaded", "inactive", "dead", 0))[0] == OcfRc.NOT_RUNNING
    assert monitor_rc(UnitState("loaded", "failed", "failed", 0))[0] == OcfRc.NOT_RUNNING
    assert monitor_rc(UnitState("not-found", "inactive", "dead", 0))[0] == OcfRc.NOT_RUNNING
    rc, why = monitor_rc(UnitState("loaded", "activating", "start-pre", 1))
    assert rc == OcfRc.ERR_GENERIC and "activating" in why


def test_units_start_stop_fail_crash(
    user_manager: Path, tmp_path: Path, catalog: AgentCatalog
) -> None:
    manager = SystemdManager.user(user_manager)

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog, systemd=manager) as ex:

            async def op(unit: str, action: str, **kw: object) -> object:
                return await ex.run(OpRequest(unit, _ref(unit), action, **kw))  # type: ignore[arg-type]

            r = await op("hasleep", "monitor")
            assert r.ok and r.rc == OcfRc.NOT_RUNNING and r.observed is Observed.STOPPED
            r = await op("hasleep", "start")
            assert r.ok and "active (running)" in r.reason, r.summary()
            # the drop-in that keeps systemd from restarting it behind the cluster
            dropin = user_manager / "systemd/user/hasleep.service.d/50-hactl.conf"
            assert "Restart=no" in dropin.read_text()
            r = await op("hasleep", "monitor", interval_s=10, expected_rc=0)
            assert r.ok and r.observed is Observed.RUNNING
            r = await op("hasleep", "reload")
            assert r.ok, r.summary()
            # crash: kill the main process; Restart=always is overridden, so it stays down
            path = await manager.unit_path("hasleep.service")
            pid = await manager.prop(path, "org.freedesktop.systemd1.Service", "MainPID")
            assert pid > 0
            os.kill(pid, signal.SIGKILL)
            last: list[object] = []

            async def probe_rc() -> int:
                r = await op("hasleep", "monitor", interval_s=10, expected_rc=0)
                last.append(r)
                return r.rc

            loop_deadline = time.monotonic() + 10
            while await probe_rc() != OcfRc.NOT_RUNNING:
                assert time.monotonic() < loop_deadline
                await asyncio.sleep(0.05)
            r = last[-1]
            assert not r.ok and ("failed" in r.reason or "inactive" in r.reason)
            r = await op("hasleep", "stop")
            assert r.ok
            # a unit whose start fails
            r = await op("hafail", "start")
            assert not r.ok and "did not become active" in r.reason and "failed" in r.reason
            r = await op("hafail", "monitor")
            assert r.ok and r.rc == OcfRc.NOT_RUNNING
            # a unit that does not exist
            r = await op("hanone", "start")
            assert not r.ok and r.rc == OcfRc.NOT_INSTALLED
            r = await op("hanone", "stop")
            assert r.ok
            # activating: a start that takes longer than its timeout, then a pending monitor
            r = await op("haslow", "start", timeout_s=0.5)
            assert not r.ok and "timed out" in r.meaning
            r = await op("haslow", "monitor", timeout_s=0.3)
            assert not r.ok and "activating" in r.reason
            r = await op("haslow", "monitor", timeout_s=10)
            assert r.ok and r.rc == 0
            r = await op("haslow", "stop")
            assert r.ok
            r = await op("haslow", "meta-data")
            assert r.ok
            assert r.status is ExecStatus.DONE

    async def main() -> None:
        try:
            await scenario()
        finally:
            await manager.close()

    asyncio.run(main())


def test_through_the_user_message_bus(
    user_manager: Path, tmp_path: Path, catalog: AgentCatalog
) -> None:
    """The same runner through a D-Bus message bus (Hello, destination names), as it
    would talk to the system bus."""
    if not (user_manager / "bus").exists():
        pytest.skip("dbus-daemon is not installed")
    manager = SystemdManager(user_manager / "bus", message_bus=True)

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog, systemd=manager) as ex:
            ref = _ref("hasleep.service")
            deadline = time.monotonic() + 10
            while (r := await ex.run(OpRequest("s", ref, "start"))).reason.startswith(
                "lost systemd"
            ) or "org.freedesktop.DBus.Error.ServiceUnknown" in r.reason:
                assert time.monotonic() < deadline, r.reason  # the manager joins the bus
                await asyncio.sleep(0.1)
            assert r.ok, r.summary()
            r = await ex.run(OpRequest("s", ref, "monitor"))
            assert r.ok and r.rc == 0
            r = await ex.run(OpRequest("s", ref, "stop"))
            assert r.ok
            r = await ex.run(OpRequest("s", ref, "monitor"))
            assert r.rc == OcfRc.NOT_RUNNING

    async def main() -> None:
        try:
            await scenario()
        finally:
            await manager.close()

    asyncio.run(main())


def test_hactl_agents_list_systemd(user_manager: Path) -> None:
    argv = [sys.executable, "-m", "reconciler.cli.main", "agents", "list", "--class", "systemd"]
    out = subprocess.run(
        [*argv, "--systemd-user", str(user_manager)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert {"systemd:hasleep.service", "systemd:hafail.service"} <= set(out.stdout.split())
    out = subprocess.run(
        [*argv, "--systemd-user", "/nonexistent"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and "cannot reach systemd" in out.stderr


def test_unreachable_manager_is_a_clear_result(tmp_path: Path, catalog: AgentCatalog) -> None:
    manager = SystemdManager(tmp_path / "nothing" / "private")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog, systemd=manager) as ex:
            r = await ex.run(OpRequest("x", _ref("x"), "start"))
            assert r.status is ExecStatus.ERROR and "cannot reach systemd" in r.reason
            await wait_for(lambda: True)

    asyncio.run(scenario())
