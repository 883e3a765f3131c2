"""Pending ReadIndex requests on the leader, confirmed by a heartbeat round (etcd's readOnly).

The leader records ``committed`` when a read arrives, broadcasts a heartbeat carrying the
read's context, and releases the read (and every read queued before it) once a quorum of
voters has answered that heartbeat. No lease is relied on.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ReadIndexStatus:
    index: int
    requester: int  # NONE (0) or the leader's own id: local; otherwise a follower to answer
    ctx: bytes
    acks: set[int] = field(default_factory=set)


class ReadOnly:
    def __init__(self) -> None:
        self.pending: dict[bytes, ReadIndexStatus] = {}
        self.queue: list[bytes] = []

    def add_request(self, index: int, requester: int, ctx: bytes) -> None:
        if ctx in self.pending:
            return
        self.pending[ctx] = ReadIndexStatus(index=index, requester=requester, ctx=ctx)
        self.queue.append(ctx)

    def recv_ack(self, node_id: int, ctx: bytes) -> set[int] | None:
        status = self.pending.get(ctx)
        if status is None:
            return None
        status.acks.add(node_id)
        return status.acks

    def advance(self, ctx: bytes) -> list[ReadIndexStatus]:
        """Release the read for ``ctx`` and all reads queued before it."""
        if ctx not in self.pending:
            return []
        n = self.queue.index(ctx) + 1
        released = [self.pending.pop(c) for c in self.queue[:n]]
        self.queue = self.queue[n:]
        return released

    def last_pending_ctx(self) -> bytes | None:
        return self.queue[-1] if self.queue else None
