"""Running a reboot plan: every device of a level off, then the rebooting ones on; every
attempt recorded in the real store (etcd). The agent call is a recording function here
(the order of the calls is what is tested); test_fast_fence.py runs the real local fence
agent on a live cluster. Ports 25686-25687.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from reconciler.controller.dispatch import Action, Outcome
from reconciler.controller.fence_plan import device_from_doc, plan_fencing, topology_from_doc
from reconciler.daemon import keys
from reconciler.daemon.fencing_run import HistorySeq, run_plan
from reconciler.statestore.etcd import EtcdKv

CLIENT, PEER = 25686, 25687


def dev(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"agent": "fence_dummy", "hostList": ["n3"], **spec},
    }


TOPO = {
    "metadata": {"name": "t"},
    "spec": {"node": "n3", "levels": [{"devices": ["pdu-a", "pdu-b"]}]},
}


async def setup(endpoint: str) -> tuple[EtcdKv, int]:
    kv = EtcdKv([endpoint], timeout=5)
    deadline = time.monotonic() + 30
    while True:
        try:
            await kv.put(keys.ELECTION, b"n1")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    e = await kv.get(keys.ELECTION)
    assert e is not None
    return kv, e.create_revision


async def records(kv: EtcdKv, node: str) -> list[dict[str, Any]]:
    entries, _ = await kv.range(f"{keys.FENCING_HISTORY}{node}/")
    return [json.loads(e.value) for e in sorted(entries, key=lambda e: e.key)]


def run(endpoint: str, devices: list[dict[str, Any]], failing: set[tuple[str, str]]) -> Any:
    calls: list[tuple[str, str]] = []

    async def execute(address: str, a: Action, timeout: float) -> Outcome:
        device = a.action_id.split("_")[3]
        calls.append((device, a.operation))
        return Outcome(rc=1 if (device, a.operation) in failing else 0)

    async def main() -> tuple[Any, list[dict[str, Any]]]:
        kv, token = await setup(endpoint)
        plan = plan_fencing(
            "n3",
            [device_from_doc(d) for d in devices],
            [topology_from_doc(TOPO)],
            {},
            rng=random.Random(1),
        )
        res = await run_plan(
            kv, execute, plan, executor="n1", address="x", token=token, coordinator="n1",
            seq=HistorySeq(),
        )  # fmt: skip
        recs = await records(kv, "n3")
        await kv.close()
        return res, recs

    res, recs = asyncio.run(main())
    return res, recs, calls


def test_a_two_pdu_level_reboots_as_all_off_then_on(etcd: str) -> None:
    res, recs, calls = run(etcd, [dev("pdu-a"), dev("pdu-b")], set())
    assert calls == [("pdu-a", "off"), ("pdu-b", "off"), ("pdu-a", "on"), ("pdu-b", "on")]
    assert res.ok and res.device == "pdu-a,pdu-b"
    assert [(r["kind"], r.get("device"), r["action"]) for r in recs] == [
        ("attempt", "pdu-a", "off"),
        ("attempt", "pdu-b", "off"),
        ("attempt", "pdu-a", "on"),
        ("attempt", "pdu-b", "on"),
        ("result", "pdu-a,pdu-b", "reboot"),
    ]


def test_a_failed_power_on_still_fences_and_a_failed_off_powers_nothing_on(etcd: str) -> None:
    res, recs, calls = run(etcd, [dev("pdu-a"), dev("pdu-b")], {("pdu-b", "on")})
    assert res.ok, "the node was off by every device: fenced"
    assert [r["ok"] for r in recs if r["kind"] == "attempt"] == [True, True, True, False]
    res, recs, calls = run(etcd, [dev("pdu-a"), dev("pdu-b")], {("pdu-b", "off")})
    assert not res.ok and calls == [("pdu-a", "off"), ("pdu-b", "off")]


def test_a_device_that_says_off_is_not_powered_on(etcd: str) -> None:
    res, _, calls = run(etcd, [dev("pdu-a"), dev("pdu-b", action="off")], set())
    assert res.ok and calls == [("pdu-a", "off"), ("pdu-b", "off"), ("pdu-a", "on")]
