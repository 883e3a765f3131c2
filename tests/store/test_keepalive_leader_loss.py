"""A lease keep-alive through a follower while the leader dies is never "the lease is gone".

A follower forwards keep-alives to the leader. With the leader killed, the forward fails;
that must reach the client as unavailable (or, after the election, as a renewal), never
as an empty stream that the store port once read as TTL 0: every hacd whose own member
was a follower then believed its liveness lease expired and stopped its resources.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from storekit import hactl, start_store, wait_leader

from reconciler.base.errors import StoreUnavailable
from reconciler.statestore.etcd import EtcdKv

pytestmark = [pytest.mark.slow]

PORT = 23930


def test_keepalive_through_a_follower_while_the_leader_dies(tmp_path: Path) -> None:
    store = start_store("builtin", tmp_path, 3, PORT)
    try:
        lead = wait_leader(store.endpoints)
        follower = store.endpoints[(lead + 1) % 3]

        async def go() -> tuple[int, list[int]]:
            kv = EtcdKv([follower], timeout=2.0)
            try:
                lease = await kv.grant(30)
                assert await kv.keepalive(lease) > 0
                os.kill(int((tmp_path / f"m{lead + 1}.pid").read_text()), signal.SIGKILL)
                unavailable, ttls = 0, []
                end = time.monotonic() + 6
                while time.monotonic() < end:
                    try:
                        ttls.append(await kv.keepalive(lease))
                    except StoreUnavailable:
                        unavailable += 1
                    await asyncio.sleep(0.05)
                return unavailable, ttls
            finally:
                await kv.close()

        unavailable, ttls = asyncio.run(go())
        assert 0 not in ttls, f"a live lease was reported gone: {ttls}"
        assert ttls and ttls[-1] > 0, "no renewal after the new leader was elected"
        print(f"unavailable answers during the election: {unavailable}, renewals: {len(ttls)}")
    finally:
        hactl("store", "down", "--dir", str(tmp_path), "--grace", "1")
