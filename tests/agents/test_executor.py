"""The executor's guarantees: one op per resource in order, bounded concurrency, recurring
monitors reporting changes and confirmations, cancellation on stop/demote, probes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from agents_kit import needs_ocf, running, wait_for

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.executor import MonitorEvent
from reconciler.agents.request import AgentRef, OpRequest
from reconciler.agents.results import Observed, OcfRc
from reconciler.base.errors import AgentError

# records "<begin|end> <resource> <action> <epoch-ns>" lines in $OCF_RESKEY_log
TRACER = """#!/bin/sh
echo "begin $OCF_RESOURCE_INSTANCE $1 $(date +%s%N)" >> "$OCF_RESKEY_log"
sleep "${OCF_RESKEY_sleep:-0}"
echo "end $OCF_RESOURCE_INSTANCE $1 $(date +%s%N)" >> "$OCF_RESKEY_log"
case "$1" in
  monitor) [ -f "$OCF_RESKEY_flag" ] && exit 0; exit 7;;
esac
exit 0
"""


def _intervals(log: Path) -> dict[str, list[tuple[int, int]]]:
    begins: dict[tuple[str, str], list[int]] = {}
    spans: dict[str, list[tuple[int, int]]] = {}
    for line in log.read_text().splitlines():
        kind, rsc, action, ns = line.split()
        if kind == "begin":
            begins.setdefault((rsc, action), []).append(int(ns))
        else:
            spans.setdefault(rsc, []).append((begins[(rsc, action)].pop(0), int(ns)))
    return spans


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_one_op_per_resource_in_order(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("tracer", TRACER)
    log = tmp_path / "ops.log"
    ref = AgentRef("ocf", "tracer", "test")
    params = {"log": str(log), "sleep": "0.2", "flag": str(tmp_path / "flag")}

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog, max_concurrency=4) as ex:
            actions = ["start", "monitor", "reload", "stop"]
            results = await asyncio.gather(
                *(ex.run(OpRequest("r", ref, a, params=params)) for a in actions)
            )
            assert [r.action for r in results] == actions
            assert [r.call_id for r in results] == sorted(r.call_id for r in results)

    asyncio.run(scenario())
    lines = [line.split() for line in log.read_text().splitlines()]
    # strictly begin/end pairs in request order: never two at once on one resource
    assert [(k, a) for k, _, a, _ in lines] == [
        (k, a) for a in ("start", "monitor", "reload", "stop") for k in ("begin", "end")
    ]


def test_bounded_concurrency_per_node(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("tracer", TRACER)
    log = tmp_path / "ops.log"
    ref = AgentRef("ocf", "tracer", "test")
    params = {"log": str(log), "sleep": "0.3"}

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog, max_concurrency=2) as ex:
            await asyncio.gather(
                *(ex.run(OpRequest(f"r{i}", ref, "start", params=params)) for i in range(5))
            )

    asyncio.run(scenario())
    spans = sorted(s for v in _intervals(log).values() for s in v)
    assert len(spans) == 5
    for i, span in enumerate(spans):  # at no instant do three ops overlap
        others = [o for o in spans[i + 1 :] if _overlap(span, o)]
        assert not any(_overlap(a, b) for a in others for b in others if a < b)
    assert any(_overlap(a, b) for a in spans for b in spans if a < b)  # but two do


def test_recurring_monitor_reports_changes_and_confirmations(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("tracer", TRACER)
    flag = tmp_path / "flag"
    ref = AgentRef("ocf", "tracer", "test")
    params = {"log": str(tmp_path / "ops.log"), "flag": str(flag)}

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog, confirm_every=3) as ex:
            flag.touch()
            assert (await ex.run(OpRequest("r", ref, "start", params=params))).ok
            ex.start_monitor(
                OpRequest("r", ref, "monitor", params=params, interval_s=0.1, expected_rc=0)
            )
            ev = await ex.next_event(5)
            assert isinstance(ev, MonitorEvent) and ev.kind == "changed"
            assert ev.result is not None and ev.result.ok
            ev = await ex.next_event(5)  # 3 unchanged results later
            assert isinstance(ev, MonitorEvent) and ev.kind == "confirmed"
            flag.unlink()  # the resource dies
            ev = await ex.next_event(5)
            while isinstance(ev, MonitorEvent) and ev.kind == "confirmed":
                ev = await ex.next_event(5)
            assert isinstance(ev, MonitorEvent) and ev.kind == "changed"
            assert ev.result is not None and not ev.result.ok and ev.result.rc == 7
            assert ev.result.observed is Observed.STOPPED
            # stop cancels the monitor
            assert (await ex.run(OpRequest("r", ref, "stop", params=params))).ok
            assert ex.monitors() == []
            while (ev := await ex.next_event(0.5)) is not None:
                last = ev
            assert isinstance(last, MonitorEvent) and last.kind == "cancelled"

    asyncio.run(scenario())


def test_probe_all_and_bad_requests(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("tracer", TRACER)
    ref = AgentRef("ocf", "tracer", "test")
    (tmp_path / "a.flag").touch()

    def req(name: str) -> OpRequest:
        p = {"log": str(tmp_path / "ops.log"), "flag": str(tmp_path / f"{name}.flag")}
        return OpRequest(name, ref, "start", params=p)

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            results = await ex.probe_all([req("b"), req("a"), req("c")])
            assert [r.resource for r in results] == ["a", "b", "c"]
            assert [r.action for r in results] == ["monitor"] * 3
            assert [r.rc for r in results] == [0, 7, 7] and all(r.ok for r in results)
            assert results[0].observed is Observed.RUNNING
            with pytest.raises(AgentError):
                ex.start_monitor(OpRequest("a", ref, "monitor", interval_s=0))

    asyncio.run(scenario())


@needs_ocf("pacemaker", "Stateful")
def test_stateful_promotion_score_through_crm_attribute(
    tmp_path: Path, catalog: AgentCatalog
) -> None:
    """start → promote → demote → stop; the promotion score arrives as attribute events."""
    ref = AgentRef.parse("ocf:pacemaker:Stateful")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:

            async def op(action: str, **kw: object) -> None:
                r = await ex.run(OpRequest("db:0", ref, action, **kw))  # type: ignore[arg-type]
                assert r.ok, r.summary() + r.stderr_tail

            async def score() -> str | None:
                ev = await ex.next_event(10)
                while isinstance(ev, MonitorEvent):
                    ev = await ex.next_event(10)
                assert ev is not None and ev.node == "n1" and ev.name == "master-db"
                assert ev.lifetime == "reboot" and ev.resource == "db:0"
                return ev.value

            await op("monitor")
            await op("start")
            assert await score() == "5"
            ex.start_monitor(OpRequest("db:0", ref, "monitor", interval_s=5, expected_rc=0))
            await op("promote")
            assert await score() == "10"
            ex.start_monitor(
                OpRequest(
                    "db:0",
                    ref,
                    "monitor",
                    interval_s=3,
                    expected_rc=OcfRc.RUNNING_PROMOTED,
                    role="Promoted",
                )
            )
            await op("demote")  # cancels the promoted-role monitor only
            assert [m.interval_s for m in ex.monitors()] == [5]
            assert await score() == "5"
            await op("stop")
            assert await score() is None  # deleted
            assert ex.monitors() == []
            assert ex.attributes.known() == {}

    asyncio.run(scenario())


def test_running_operations_are_recorded_for_fencing(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    """While an op runs, <state_dir>/pids/op-N holds "PID STARTTIME"; it is gone after."""
    write_agent("tracer", TRACER)
    ref = AgentRef("ocf", "tracer", "test")
    pids = tmp_path / "n1" / "pids"

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            params = {"log": str(tmp_path / "ops.log"), "sleep": "1"}
            task = asyncio.ensure_future(ex.run(OpRequest("r", ref, "start", params=params)))
            await wait_for(lambda: any(pids.iterdir()), 5)
            (record,) = list(pids.iterdir())
            pid, start = record.read_text().split()
            with open(f"/proc/{pid}/stat") as f:
                assert f.read().rsplit(")", 1)[1].split()[19] == start
            assert (await task).ok
            assert list(pids.iterdir()) == []

    asyncio.run(scenario())


@needs_ocf("pacemaker", "Dummy")
def test_probes_after_a_restart_find_what_runs(tmp_path: Path, catalog: AgentCatalog) -> None:
    """A new executor on the same node directory (a restarted daemon) probes and finds the
    resource the old one started, so it is not started twice."""
    ref = AgentRef.parse("ocf:pacemaker:Dummy")
    configured = [OpRequest(name, ref, "start") for name in ("b", "a")]

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as first:
            assert (await first.run(configured[1])).ok
        async with running(tmp_path / "n1", catalog) as second:
            results = await second.probe_all(configured)
            assert [(r.resource, r.observed) for r in results] == [
                ("a", Observed.RUNNING),
                ("b", Observed.STOPPED),
            ]
            assert all(r.ok and r.is_probe for r in results)

    asyncio.run(scenario())
