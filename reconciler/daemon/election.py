"""The coordinator election: etcd's recipe with one key under the node's lease.

Whoever creates ``/hactl/election/lock`` (create revision 0 → put, in one
transaction) is the coordinator; the key's create revision is its fencing
token, larger than every earlier coordinator's. The key vanishes with the
lease, so a node that stops renewing loses the role without doing anything.
"""

from __future__ import annotations

import asyncio
import json
import logging

from reconciler.base.errors import StoreError
from reconciler.daemon import keys
from reconciler.daemon.kvport import Cmp, Kv, Put

log = logging.getLogger("hacd.election")


async def campaign(kv: Kv, node: str, lease: int, poll_s: float = 0.25) -> int:
    """Block until this node holds the election key; return the fencing token."""
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


async def still_leader(kv: Kv, token: int) -> bool:
    cur = await kv.get(keys.ELECTION)
    return cur is not None and cur.create_revision == token


def holder(value: bytes) -> str:
    try:
        return str(json.loads(value).get("node", ""))
    except ValueError:
        return ""
