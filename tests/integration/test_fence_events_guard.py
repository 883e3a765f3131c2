"""The coordinator's events are written only while it holds the election (real etcd).

Every coordinator write compares the election key's create revision with the
coordinator's fencing token; its events do too, so a deposed coordinator (the key
deleted, or re-created by the next one) writes no event. Ports 25684-25685.
"""

from __future__ import annotations

import asyncio
import json
import time

from reconciler.daemon import keys
from reconciler.daemon.coordinator import Coordinator
from reconciler.daemon.events import EventLog
from reconciler.statestore.etcd import EtcdKv

CLIENT, PEER = 25684, 25685


async def ready(kv: EtcdKv) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            await kv.range(keys.ELECTION)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def events(kv: EtcdKv) -> list[str]:
    entries, _ = await kv.range(keys.EVENTS)
    return [json.loads(e.value)["message"] for e in entries]


def test_a_deposed_coordinator_writes_no_event(etcd: str) -> None:
    async def main() -> None:
        kv = EtcdKv([etcd], timeout=5)
        await ready(kv)
        await kv.put(keys.ELECTION, b"node1")
        first = await kv.get(keys.ELECTION)
        assert first is not None
        coord = Coordinator(
            kv,
            node="node1",
            token=first.create_revision,
            configured=["node1", "node2"],
            fence_agent="",
            fence_params={},
            events=EventLog(kv, "node1"),
        )
        assert await coord.events.emit("Normal", "x", "while coordinating")
        await kv.delete(keys.ELECTION)
        assert not await coord.events.emit("Normal", "x", "after losing the key")
        await kv.put(keys.ELECTION, b"node2")  # the next coordinator: a newer token
        assert not await coord.events.emit("Normal", "x", "after the next one won")
        assert await events(kv) == ["while coordinating"]
        unguarded = EventLog(kv, "hactl")  # not a coordinator's: no guard
        assert await unguarded.emit("Normal", "x", "from elsewhere")
        assert await events(kv) == ["while coordinating", "from elsewhere"]
        await coord.agents.close()
        await kv.close()

    asyncio.run(main())
