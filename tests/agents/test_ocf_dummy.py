"""ocf:pacemaker:Dummy and ocf:heartbeat:Dummy through every action, with the real agents."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from agents_kit import needs_ocf, running

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.request import AgentRef, OpRequest, clone_meta, notify_meta
from reconciler.agents.results import ExecStatus, Observed, OcfRc, Severity

DUMMIES = [
    pytest.param("pacemaker", marks=needs_ocf("pacemaker", "Dummy")),
    pytest.param("heartbeat", marks=needs_ocf("heartbeat", "Dummy")),
]


@pytest.mark.parametrize("provider", DUMMIES)
def test_every_action(provider: str, tmp_path: Path, catalog: AgentCatalog) -> None:
    ref = AgentRef("ocf", "Dummy", provider)

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:

            async def op(action: str, **kw: object) -> object:
                return await ex.run(OpRequest("d", ref, action, **kw))  # type: ignore[arg-type]

            r = await op("monitor")
            assert r.ok and r.rc == OcfRc.NOT_RUNNING and r.observed is Observed.STOPPED
            assert r.is_probe
            r = await op("start")
            assert r.ok and r.rc == 0 and r.observed is Observed.RUNNING
            r = await op("monitor", interval_s=10, expected_rc=0)
            assert r.ok and r.observed is Observed.RUNNING
            for action in ("reload", "validate-all", "migrate_to", "migrate_from", "monitor"):
                r = await op(action)
                assert r.status is ExecStatus.DONE, (action, r)
                assert r.rc == 0, (action, r.summary(), r.stderr_tail)
            r = await op("meta-data")
            assert r.ok and "<resource-agent" in r.stdout_tail
            r = await op("stop")
            assert r.ok and r.observed is Observed.STOPPED
            r = await op("stop")  # stopping a stopped resource succeeds
            assert r.ok
            r = await op("monitor", interval_s=10, expected_rc=0)
            assert not r.ok and r.rc == 7 and r.severity is Severity.SOFT
            r = await op("no-such-action")
            assert not r.ok and r.rc == OcfRc.UNIMPLEMENTED
            # the agent's state lives in this node's own directory
            assert (tmp_path / "n1" / "run").is_dir()

    asyncio.run(scenario())


@needs_ocf("pacemaker", "Dummy")
def test_environment_is_pacemakers(tmp_path: Path, catalog: AgentCatalog) -> None:
    """Dummy's envfile dumps the environment it was given: check Pacemaker's variables."""
    envfile = tmp_path / "env.txt"
    notify_env = tmp_path / "notify-env.txt"
    ref = AgentRef.parse("ocf:pacemaker:Dummy")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog, node_uuid="uuid-1") as ex:
            meta = clone_meta(clone=1, clone_max=3, notify=True)
            r = await ex.run(
                OpRequest(
                    "d:1", ref, "start", params={"envfile": str(envfile)}, meta=meta, timeout_s=25
                )
            )
            assert r.ok, r.summary()
            notify = notify_meta(
                notify_type="pre",
                operation="start",
                resources={"start": ["d:2"], "active": ["d:0", "d:1"]},
                unames={"start": ["n3"], "active": ["n1", "n2"]},
            )
            await ex.run(
                OpRequest("d:1", ref, "notify", params={"envfile": str(notify_env)}, meta=notify)
            )
            r = await ex.run(
                OpRequest(
                    "d:1",
                    ref,
                    "monitor",
                    params={"envfile": str(envfile)},
                    interval_s=5,
                    expected_rc=0,
                    check_level=0,
                )
            )
            assert r.ok

    asyncio.run(scenario())
    blocks = envfile.read_text().split("### monitor")
    start_env = dict(
        line.split("=", 1)
        for line in blocks[0].splitlines()
        if "=" in line and " " not in line.split("=", 1)[0]
    )
    assert start_env["OCF_ROOT"] == "/usr/lib/ocf"
    assert start_env["OCF_RA_VERSION_MAJOR"] == "1"
    assert start_env["OCF_RA_VERSION_MINOR"] == "1"
    assert start_env["OCF_RESOURCE_INSTANCE"] == "d:1"
    assert start_env["OCF_RESOURCE_TYPE"] == "Dummy"
    assert start_env["OCF_RESOURCE_PROVIDER"] == "pacemaker"
    assert start_env["OCF_RESKEY_envfile"] == str(envfile)
    assert start_env["OCF_RESKEY_CRM_meta_timeout"] == "25000"
    assert start_env["OCF_RESKEY_CRM_meta_interval"] == "0"
    assert start_env["OCF_RESKEY_CRM_meta_on_node"] == "n1"
    assert start_env["OCF_RESKEY_CRM_meta_on_node_uuid"] == "uuid-1"
    assert start_env["OCF_RESKEY_CRM_meta_clone"] == "1"
    assert start_env["OCF_RESKEY_CRM_meta_clone_max"] == "3"
    assert start_env["OCF_RESKEY_CRM_meta_notify"] == "true"
    assert start_env["HA_RSCTMP"] == str(tmp_path / "n1" / "rsctmp")
    assert start_env["HA_VARRUN"] == str(tmp_path / "n1" / "run")
    assert start_env["HA_SBIN_DIR"] == str(tmp_path / "n1" / "sbin")
    monitor_env = dict(line.split("=", 1) for line in blocks[1].splitlines() if "=" in line)
    assert monitor_env["OCF_RESKEY_CRM_meta_interval"] == "5000"
    assert monitor_env["OCF_RESKEY_CRM_meta_timeout"] == "20000"  # from Dummy's meta-data
    assert monitor_env["OCF_CHECK_LEVEL"] == "0"
    notified = dict(
        line.split("=", 1) for line in notify_env.read_text().splitlines() if "=" in line
    )
    assert notified["OCF_RESKEY_CRM_meta_notify_type"] == "pre"
    assert notified["OCF_RESKEY_CRM_meta_notify_operation"] == "start"
    assert notified["OCF_RESKEY_CRM_meta_notify_start_resource"] == "d:2"
    assert notified["OCF_RESKEY_CRM_meta_notify_active_uname"] == "n1 n2"
    assert notified["OCF_RESKEY_CRM_meta_notify_promoted_resource"] == ""


@needs_ocf("pacemaker", "Dummy")
def test_timeout_then_executor_keeps_working(tmp_path: Path, catalog: AgentCatalog) -> None:
    ref = AgentRef.parse("ocf:pacemaker:Dummy")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            assert (await ex.run(OpRequest("d", ref, "start"))).ok
            # OCF_CHECK_LEVEL 10 makes Dummy's monitor sleep 30 s
            r = await ex.run(
                OpRequest(
                    "d", ref, "monitor", interval_s=10, expected_rc=0, check_level=10, timeout_s=0.5
                )
            )
            assert r.status is ExecStatus.TIMED_OUT and not r.ok
            assert r.severity is Severity.SOFT and "timed out after 0.5s" in r.reason
            assert r.duration_s < 5
            # a sleeping op (op_sleep) killed by its timeout too
            r = await ex.run(OpRequest("d", ref, "start", params={"op_sleep": "30"}, timeout_s=0.5))
            assert r.status is ExecStatus.TIMED_OUT
            r = await ex.run(OpRequest("d", ref, "monitor", interval_s=10, expected_rc=0))
            assert r.ok, r.summary()

    asyncio.run(scenario())


@needs_ocf("pacemaker", "Dummy")
def test_failures_with_exit_reasons(tmp_path: Path, catalog: AgentCatalog) -> None:
    ref = AgentRef.parse("ocf:pacemaker:Dummy")
    state = tmp_path / "dummy.state"

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            p = {"state": str(state)}
            assert (await ex.run(OpRequest("d", ref, "start", params=p))).ok
            r = await ex.run(
                OpRequest(
                    "d", ref, "monitor", params=p, interval_s=5, expected_rc=0, check_level=30
                )
            )
            assert not r.ok and r.rc == 1 and r.reason == "hyperdrive quota reached"
            # level 40 exits with the rc written in the state file: 6 is fatal, 5 hard
            state.write_text("6")
            r = await ex.run(
                OpRequest(
                    "d", ref, "monitor", params=p, interval_s=5, expected_rc=0, check_level=40
                )
            )
            assert r.rc == OcfRc.NOT_CONFIGURED and r.severity is Severity.FATAL
            state.write_text("5")
            r = await ex.run(
                OpRequest(
                    "d", ref, "monitor", params=p, interval_s=5, expected_rc=0, check_level=40
                )
            )
            assert r.rc == OcfRc.NOT_INSTALLED and r.severity is Severity.HARD
            # the resource "crashes": its state disappears behind our back
            state.unlink()
            r = await ex.run(OpRequest("d", ref, "monitor", params=p, interval_s=5, expected_rc=0))
            assert not r.ok and r.rc == 7 and r.observed is Observed.STOPPED
            # an invalid parameter is a configuration error
            r = await ex.run(OpRequest("d", ref, "validate-all", params={"op_sleep": "abc"}))
            assert r.rc == OcfRc.NOT_CONFIGURED and r.severity is Severity.FATAL

    asyncio.run(scenario())
