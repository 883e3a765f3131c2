"""Lease deadlines: the leader-local, unreplicated half of leases (etcd's primary lessor).

As in etcd, only the granted TTL and the attached keys are replicated (``KVStore.leases``).
Deadlines live in the leader's memory: KeepAlive refreshes them there, and when one
passes the leader proposes a ``LeaseRevokeRequest`` (so expiry itself is a replicated
command). A new leader starts every lease afresh (:meth:`Lessor.promote`), which can
only lengthen a lease, never cut it short. Time is an argument: ``now`` in seconds.
"""

from __future__ import annotations

import math


class Lessor:
    def __init__(self) -> None:
        self._deadline: dict[int, float] = {}
        self._ttl: dict[int, int] = {}

    def granted(self, lease_id: int, ttl: int, now: float) -> None:
        self._ttl[lease_id] = ttl
        self._deadline[lease_id] = now + ttl

    def revoked(self, lease_id: int) -> None:
        self._deadline.pop(lease_id, None)
        self._ttl.pop(lease_id, None)

    def known(self, lease_id: int) -> bool:
        return lease_id in self._ttl

    def keepalive(self, lease_id: int, now: float) -> int:
        """Refresh a lease; returns its TTL, or 0 when it does not exist (etcd's reply)."""
        ttl = self._ttl.get(lease_id)
        if ttl is None:
            return 0
        self._deadline[lease_id] = now + ttl
        return ttl

    def remaining(self, lease_id: int, now: float) -> int:
        """Whole seconds left (etcd truncates), -1 when unknown."""
        deadline = self._deadline.get(lease_id)
        if deadline is None:
            return -1
        return max(0, math.floor(deadline - now))

    def expired(self, now: float, limit: int = 1000) -> list[int]:
        """Leases whose deadline has passed, oldest first then by id; at most ``limit``."""
        late = sorted((d, i) for i, d in self._deadline.items() if d <= now)
        return [i for _, i in late[:limit]]

    def promote(self, leases: dict[int, int], now: float, extend: float) -> None:
        """Become the primary: every lease ``leases`` (id -> ttl) restarts with ``extend``."""
        self._ttl = dict(leases)
        self._deadline = {i: now + ttl + extend for i, ttl in sorted(leases.items())}

    def next_deadline(self) -> float | None:
        return min(self._deadline.values()) if self._deadline else None
