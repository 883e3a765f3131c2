"""The coordinator election: etcd's recipe with one key under the node's lease.

Whoever creates ``/hactl/election/lock`` (create revision 0 → put, in one
transaction) is the coordinator; the key's create revision is its fencing
token, larger than every earlier coordinator's. The key vanishes with the
lease, so a node that stops renewing loses the role without doing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from reconciler.base.errors import StoreError
from reconciler.daemon import keys
from reconciler.statestore.etcd import Cmp, Kv, Put

log = logging.getLogger("hacd.election")


async def campaign(
    kv: Kv, node: str, lease: int, poll_s: float = 0.25, watch_s: float = 1.0
) -> int:
    """Block until this node holds the election key; return the fencing token.

    While another node holds it, watch for its deletion and retry the moment it goes
    (at most ``watch_s`` apart); after a store error, retry every ``poll_s``.
    """
    value = json.dumps({"node": node}).encode()
    task = asyncio.current_task()
    while True:
        if task is not None and task.cancelling():
            # a cancellation swallowed further up (Python 3.11's wait_for can lose one that
            # races with its inner future: the coordinator then returns normally instead
            # of raising) must still end the campaign, or a node that lost its lease
            # would campaign with the dead lease for ever instead of rejoining
            raise asyncio.CancelledError
        try:
            ok, _ = await kv.txn(
                [Cmp(keys.ELECTION, "create", "==", 0)], [Put(keys.ELECTION, value, lease=lease)]
            )
            cur = await kv.get(keys.ELECTION)
            if cur is not None and cur.lease == lease:
                return cur.create_revision
            del ok
        except StoreError as e:
            log.debug("campaign: %s", e)
            await asyncio.sleep(poll_s)
            continue
        if cur is None:
            continue  # gone between the transaction and the read: try again at once
        await _until_deleted(kv, cur.mod_revision + 1, watch_s)


async def _until_deleted(kv: Kv, start_revision: int, timeout: float) -> None:
    """Wait until the election key is deleted (its holder's lease ended), at most
    ``timeout``: the campaign then retries at once instead of at its next poll."""

    async def deleted() -> None:
        async for events in kv.watch(keys.ELECTION, start_revision):
            if any(e.kind == "delete" and e.key == keys.ELECTION for e in events):
                return

    with contextlib.suppress(TimeoutError, StoreError):
        await asyncio.wait_for(deleted(), timeout)


async def still_leader(kv: Kv, token: int) -> bool:
    cur = await kv.get(keys.ELECTION)
    return cur is not None and cur.create_revision == token


def holder(value: bytes) -> str:
    try:
        return str(json.loads(value).get("node", ""))
    except ValueError:
        return ""
