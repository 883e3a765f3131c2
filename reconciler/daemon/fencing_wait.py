"""Without fencing: wait out a lost node's lease before recovering its resources.

With ``fencingEnabled: false`` nothing powers a lost node off, so the only
guarantee that it stopped its resources is its own: a node agent that cannot
renew its liveness lease stops its resources before the lease runs out (the
no-quorum-policy self-stop). The coordinator therefore recovers a lost node's
resources only once that lease has *provably* expired plus a margin:

    not before  lost_at + lease_ttl + margin

where ``lost_at`` is the moment this coordinator first read a state without
the node's liveness key — the last moment the node may still have believed
itself a member (a coordinator that just took over counts from its first
look). The node's own deadline (its last successful renewal + the lease TTL)
lies before ``lost_at + lease_ttl``, and its agent stops its resources before
that deadline, so once the wait is over nothing of it still runs. Until then
the node is treated as still present: its resources stay where they are and
nothing is started elsewhere. Measured on this process's monotonic clock, so
wall-clock jumps change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class LeaseWatch:
    lease_ttl: float
    margin: float
    lost_at: dict[str, float] = field(default_factory=dict)

    def observe(self, live: Iterable[str], known: Iterable[str], now: float | None = None) -> None:
        """Note which of the ``known`` nodes are live now (a node newly absent starts its wait)."""
        t = time.monotonic() if now is None else now
        present = set(live)
        for n in present:
            self.lost_at.pop(n, None)
        for n in sorted(set(known) - present):
            self.lost_at.setdefault(n, t)

    def waiting(self, lost: Iterable[str], now: float | None = None) -> Mapping[str, float]:
        """Lost nodes still inside their wait: node → seconds left."""
        t = time.monotonic() if now is None else now
        out: dict[str, float] = {}
        for n in sorted(set(lost)):
            left = self.lost_at.get(n, t) + self.lease_ttl + self.margin - t
            if left > 0:
                out[n] = left
        return out
