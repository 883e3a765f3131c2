"""The peer link over real gRPC sockets on 127.0.0.1 (ports 23970-23971).

* A sender whose peer restarted reopens its stream at once, so the first message after
  the restart (an idle follower's vote, say) arrives, instead of finding the old stream
  broken and being lost with it (which cost a whole election timeout).
* The receiving side reports which peer's stream ended, and a port with no listener is
  told apart from a live one (the store's check that a crashed leader is gone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest

from reconciler._proto import peer_pb2_grpc
from reconciler.daemon.store_peers import port_refuses
from reconciler.raft.types import Message, MsgType
from reconciler.transport.peer import GRPC_OPTIONS, PeerSender, PeerServicer

PORT, FREE_PORT = 23970, 23971
CLUSTER, SENDER, RECEIVER = 7, 1, 2


async def serve(
    got: asyncio.Queue[Message], ended: list[int]
) -> tuple[grpc.aio.Server, PeerServicer]:
    async def lease_call(what: str, lease_id: int) -> int | None:
        return None

    servicer = PeerServicer(
        CLUSTER,
        RECEIVER,
        got.put_nowait,
        lease_call,
        lambda peer: peer == SENDER,
        stream_ended=ended.append,
    )
    server = grpc.aio.server(options=GRPC_OPTIONS)
    peer_pb2_grpc.add_PeerServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"127.0.0.1:{PORT}")
    await server.start()
    return server, servicer


async def until(cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.01)


def vote(term: int) -> Message:
    return Message(MsgType.MsgVoteResp, to=RECEIVER, frm=SENDER, term=term)


async def first_message_after_restart() -> None:
    got: asyncio.Queue[Message] = asyncio.Queue()
    ended: list[int] = []
    server, _ = await serve(got, ended)
    sender = PeerSender(
        CLUSTER,
        SENDER,
        RECEIVER,
        target=f"127.0.0.1:{PORT}",
        credentials=None,
        on_unreachable=lambda _: None,
    )
    sender.start()
    try:
        sender.send(vote(1))
        assert (await asyncio.wait_for(got.get(), 5)).term == 1
        await server.stop(None)  # the peer goes away...
        await until(lambda: ended == [SENDER], "the receiver reports the stream's end")
        server, _ = await serve(got, ended)  # ...and comes back; the sender stays idle
        await asyncio.sleep(1.0)  # idle: nothing to send for a while after the restart
        sender.send(vote(2))  # the first message after the restart
        m = await asyncio.wait_for(got.get(), 5)
        assert m.term == 2, m
    finally:
        await sender.close()
        await server.stop(None)


def test_the_first_message_after_a_peer_restart_arrives() -> None:
    asyncio.run(first_message_after_restart())


@pytest.mark.parametrize(
    ("listening", "refuses"), [(True, False), (False, True)], ids=["listening", "closed"]
)
def test_port_refuses_only_without_a_listener(listening: bool, refuses: bool) -> None:
    async def check() -> bool:
        server = None
        if listening:
            server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", FREE_PORT)
        try:
            return await port_refuses(f"127.0.0.1:{FREE_PORT}")
        finally:
            if server is not None:
                server.close()
                await server.wait_closed()

    assert asyncio.run(check()) is refuses
