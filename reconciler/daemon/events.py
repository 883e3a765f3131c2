"""Events (``hactl events``): short JSON records under one lease that expires after an hour."""

from __future__ import annotations

import contextlib
import json
import time

from reconciler.base.errors import StoreError
from reconciler.daemon import keys
from reconciler.statestore.etcd import Kv

EVENT_TTL_S = 3600.0


class EventLog:
    def __init__(self, kv: Kv, source: str) -> None:
        self.kv = kv
        self.source = source
        self._lease = 0
        self._lease_at = 0.0

    async def emit(self, kind: str, obj: str, message: str) -> None:
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
            await self.kv.put(
                keys.event(int(now * 1e6)), json.dumps(ev).encode(), lease=self._lease
            )
