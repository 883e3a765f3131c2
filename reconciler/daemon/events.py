"""Events (``hactl events``): short JSON records under one lease that expires after an hour.

The coordinator's log is guarded by its election (:meth:`EventLog.guarded_by`): each
event is written in a transaction that compares the election key's create revision
with the coordinator's fencing token, as every other coordinator write is, so a
deposed coordinator writes no event.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time

from reconciler.base.errors import StoreError
from reconciler.daemon import keys
from reconciler.statestore.etcd import Cmp, Kv, Put

log = logging.getLogger("hacd.events")

EVENT_TTL_S = 3600.0


class EventLog:
    def __init__(self, kv: Kv, source: str) -> None:
        self.kv = kv
        self.source = source
        self._lease = 0
        self._lease_at = 0.0
        self.token: int | None = None  # the election token every write is guarded by

    def guarded_by(self, token: int) -> EventLog:
        """Write only while the election key still carries ``token`` (its create revision)."""
        self.token = token
        return self

    async def emit(self, kind: str, obj: str, message: str) -> bool:
        """Record one event; False when it was not written (store error, or deposed)."""
        now = time.time()
        with contextlib.suppress(StoreError):
            if not self._lease or now - self._lease_at > EVENT_TTL_S / 2:
                self._lease = await self.kv.grant(EVENT_TTL_S)
                self._lease_at = now
            ev = {
                "time": now,
                "type": kind,
                "object": obj,
                "message": message,
                "source": self.source,
            }
            key, value = keys.event(int(now * 1e6)), json.dumps(ev).encode()
            if self.token is None:
                await self.kv.put(key, value, lease=self._lease)
                return True
            done, _ = await self.kv.txn(
                [Cmp(keys.ELECTION, "create", "==", self.token)],
                [Put(key, value, lease=self._lease)],
            )
            if not done:
                log.warning(
                    "event not written: the election key no longer has token %d", self.token
                )
            return bool(done)
        return False
