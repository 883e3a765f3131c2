"""Linearizable reads of a builtin member: ReadIndex, batched, answered once applied.

A mixin of ``RaftEngine`` (``store_raft``). ``read_index`` queues the reader and wakes the
ready loop, which issues one ReadIndex for every reader queued since the last one
(``_issue_reads``: one heartbeat round on the leader, one forwarded request on a
follower), hands the core's answers over (``_read_states_in``) and answers the readers
once the member has applied up to the confirmed index (``_answer_reads``).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable

from reconciler.base.errors import StoreUnavailable
from reconciler.daemon.store_member import StoreMember, time_out
from reconciler.raft.errors import ProposalDropped
from reconciler.raft.node import RaftNode
from reconciler.raft.types import ReadState
from reconciler.transport.etcd_backend import NO_LEADER

READ_TIMEOUT_S = 5.0


class ReadIndexMixin:
    """Needs the engine's node, member, wake event and applied index."""

    node: RaftNode
    member: StoreMember
    _wake: asyncio.Event
    _applied: int

    def _init_reads(self) -> None:
        self._read_seq = 0
        self._read_queue: list[asyncio.Future[None]] = []
        self._read_inflight: dict[bytes, list[asyncio.Future[None]]] = {}
        self._read_ready: list[tuple[int, list[asyncio.Future[None]]]] = []

    async def read_index(self) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._read_queue.append(fut)
        self._wake.set()
        timer = loop.call_later(READ_TIMEOUT_S, time_out, fut)
        try:
            await fut
        except TimeoutError:
            raise StoreUnavailable("etcdserver: request timed out") from None
        finally:
            timer.cancel()

    def _issue_reads(self) -> None:
        if not self._read_queue:
            return
        self._read_seq += 1
        ctx = struct.pack(">QQ", self.member.member_id, self._read_seq)
        futs, self._read_queue = self._read_queue, []
        try:
            self.node.read_index(ctx)
        except ProposalDropped:
            for f in futs:
                if not f.done():
                    f.set_exception(StoreUnavailable(NO_LEADER))
            return
        self._read_inflight[ctx] = futs

    def _read_states_in(self, read_states: Iterable[ReadState]) -> None:
        for rs in read_states:
            futs = self._read_inflight.pop(rs.ctx, None)
            if futs:
                self._read_ready.append((rs.index, futs))

    def _answer_reads(self) -> None:
        still = []
        for index, futs in self._read_ready:
            if index <= self._applied:
                for f in futs:
                    if not f.done():
                        f.set_result(None)
            else:
                still.append((index, futs))
        self._read_ready = still

    def _fail_inflight_reads(self) -> None:
        """Reads whose ReadIndex went to the old leader will never be answered: fail them
        now as etcd does ("leader changed"), so clients retry at once instead of waiting
        out the request timeout."""
        inflight, self._read_inflight = self._read_inflight, {}
        for futs in inflight.values():
            for f in futs:
                if not f.done():
                    f.set_exception(StoreUnavailable("etcdserver: leader changed"))
