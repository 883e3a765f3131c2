"""The peer service of the builtin store: Raft messages over one gRPC stream per peer.

* :class:`PeerServicer` receives batches, refuses (and logs) a wrong cluster id or a
  malformed message, and hands each message to the member's ``step``.
* :class:`PeerSender` keeps one outbound stream to one peer and sends whatever is queued
  as one batch per write (so a busy leader sends few, large batches); when the peer is
  unreachable the queue is dropped (Raft retransmits) and the stream is reopened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from reconciler._proto import peer_pb2, peer_pb2_grpc
from reconciler.raft.types import Message
from reconciler.transport import peer_codec

log = logging.getLogger(__name__)
Ctx = grpc.aio.ServicerContext[Any, Any]

MAX_QUEUE = 4096  # messages waiting for one peer; more are dropped (Raft retransmits)
MAX_BATCH_BYTES = 8 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 10000),
    ("grpc.keepalive_timeout_ms", 5000),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # never answer a peer's pings with GOAWAY "too_many_pings" (seen under load, with
    # flow-control pings): a broken stream costs a reconnect and a replication hiccup
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    # a second member started on a taken port must fail, not share it with the first
    # (gRPC sets SO_REUSEPORT by default; the kernel then splits connections between them)
    ("grpc.so_reuseport", 0),
]


class PeerServicer(peer_pb2_grpc.PeerServicer):
    def __init__(
        self,
        cluster_id: int,
        member_id: int,
        step: Callable[[Message], None],
        lease_call: Callable[[str, int], Awaitable[int | None]],
        known_peer: Callable[[int], bool],
        *,
        stream_ended: Callable[[int], None] | None = None,
    ) -> None:
        self.cluster_id = cluster_id
        self.member_id = member_id
        self.step = step
        self.lease_call = lease_call
        self.known_peer = known_peer
        self.stream_ended = stream_ended  # told which peer's stream ended (crash detection)

    async def Raft(self, request_iterator: AsyncIterator[Any], context: Ctx) -> AsyncIterator[Any]:
        peer = context.peer()
        frm = 0
        try:
            async for batch in request_iterator:
                if batch.cluster_id != self.cluster_id:
                    log.warning(
                        "refused Raft batch from %s: cluster id %x, ours is %x",
                        peer,
                        batch.cluster_id,
                        self.cluster_id,
                    )
                    yield peer_pb2.Refusal(reason="cluster id mismatch")
                    return
                try:
                    msgs = peer_codec.decode_many(batch.frames)
                except ValueError as exc:
                    log.warning("refused a malformed Raft message from %s: %s", peer, exc)
                    yield peer_pb2.Refusal(reason=f"malformed message: {exc}")
                    return
                for m in msgs:
                    if m.to != self.member_id or not self.known_peer(m.frm):
                        log.warning("dropped Raft message for %x from %x (%s)", m.to, m.frm, peer)
                        continue
                    frm = m.frm
                    try:
                        self.step(m)
                    except Exception:
                        log.exception("stepping a Raft message from %x failed", m.frm)
        finally:
            if frm and self.stream_ended is not None:
                self.stream_ended(frm)

    async def Lease(self, request: Any, context: Ctx) -> Any:
        if request.cluster_id != self.cluster_id:
            log.warning("refused lease call from %s: wrong cluster id", context.peer())
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "cluster id mismatch")
        ttl = await self.lease_call(request.what, request.lease_id)
        if ttl is None:
            return peer_pb2.LeaseReply(error="etcdserver: not leader")
        return peer_pb2.LeaseReply(ttl=ttl)


class PeerSender:
    """The outbound half of the link to one peer."""

    def __init__(
        self,
        cluster_id: int,
        member_id: int,
        peer_id: int,
        *,
        target: str,
        credentials: grpc.ChannelCredentials | None,
        on_unreachable: Callable[[int], None],
    ) -> None:
        self.cluster_id = cluster_id
        self.member_id = member_id
        self.peer_id = peer_id
        self.target = target
        self.credentials = credentials
        self.on_unreachable = on_unreachable
        self._queue: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._channel: grpc.aio.Channel | None = None
        self._task: asyncio.Task[None] | None = None

    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            if self.credentials is not None:
                self._channel = grpc.aio.secure_channel(
                    self.target, self.credentials, options=GRPC_OPTIONS
                )
            else:
                self._channel = grpc.aio.insecure_channel(self.target, options=GRPC_OPTIONS)
        return self._channel

    def send(self, m: Message) -> None:
        if len(self._queue) >= MAX_QUEUE:
            self._queue.clear()
            self.on_unreachable(self.peer_id)
        self._queue.append(peer_codec.encode(m))
        self._ready.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._channel is not None:
            await self._channel.close(None)

    def _take_frames(self) -> bytes:
        q = self._queue
        if len(q) == 1:
            return q.popleft()
        msgs, size = [], 0
        while q and size < MAX_BATCH_BYTES:
            m = q.popleft()
            msgs.append(m)
            size += len(m)
        return b"".join(msgs)

    async def _refusals(self, call: Any) -> None:
        """Read the peer's answers until the stream ends (then the sender reopens it)."""
        try:
            async for refusal in call:
                log.error("peer %x refused our messages: %s", self.peer_id, refusal.reason)
        except grpc.aio.AioRpcError as exc:
            log.debug("stream to peer %x ended: %s", self.peer_id, exc.code())

    async def _run(self) -> None:
        """Keep one stream open to the peer and write the queue into it.

        A stream that ends (the peer restarted, the connection broke) is reopened at once,
        not when the next message finds it broken: an idle follower's first message after
        its peer restarted (a vote, say) must not be the one that discovers the break and
        is lost with it. Messages that could not be written stay queued for the next
        stream (Raft tolerates the duplicates and the reordering this may cause).
        """
        stub = peer_pb2_grpc.PeerStub(self.channel())  # type: ignore[no-untyped-call]
        while True:
            call = stub.Raft()
            reader = asyncio.get_running_loop().create_task(self._refusals(call))
            reader.add_done_callback(lambda _: self._ready.set())
            frames = b""
            try:
                while not reader.done():
                    await self._ready.wait()
                    self._ready.clear()
                    while self._queue and not reader.done():
                        frames = self._take_frames()
                        await call.write(
                            peer_pb2.Batch(
                                cluster_id=self.cluster_id, frm=self.member_id, frames=frames
                            )
                        )
                        frames = b""
            except asyncio.CancelledError:
                raise
            except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError) as exc:
                log.debug("stream to peer %x broke: %s", self.peer_id, exc)
            except Exception:
                log.exception("stream to peer %x failed", self.peer_id)
            finally:
                reader.cancel()
                call.cancel()
            if frames:
                self._queue.appendleft(frames)
            self.on_unreachable(self.peer_id)
            await asyncio.sleep(0.1)  # back off before reopening the stream

    async def lease_call(self, what: str, lease_id: int, timeout: float) -> tuple[int, str]:
        stub = peer_pb2_grpc.PeerStub(self.channel())  # type: ignore[no-untyped-call]
        reply = await stub.Lease(
            peer_pb2.LeaseCall(cluster_id=self.cluster_id, what=what, lease_id=lease_id),
            timeout=timeout,
        )
        return reply.ttl, reply.error
