"""gRPC adapter of the node agent service (proto/agent.proto): servicer and client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

import grpc

from reconciler._proto import agent_pb2 as pb
from reconciler._proto import agent_pb2_grpc as pbg
from reconciler.controller.dispatch import Action, Outcome
from reconciler.controller.fencing import Port, PortEvent, port_step
from reconciler.transport.tls import peer_common_name

log = logging.getLogger("hacd.ports")
auth_log = logging.getLogger("hacd.agent")

Execute = Callable[[Action], Awaitable[Outcome]]


def _action(r: pb.ActionRequest) -> Action:
    return Action(
        token=r.token,
        action_id=r.action_id,
        resource=r.resource,
        operation=r.operation,
        agent=r.agent,
        interval_ms=r.interval_ms,
        timeout_ms=r.timeout_ms,
        params=dict(sorted(r.params.items())),
        meta=dict(sorted(r.meta.items())),
        expected_rc=r.expected_rc,
        target=r.target,
        coordinator=r.coordinator,
    )


class AgentServicer(pbg.NodeAgentServicer):
    def __init__(
        self,
        node: str,
        execute: Execute,
        highest: Callable[[], int],
        dispatchers: frozenset[str] | None = None,
    ) -> None:
        """``dispatchers``: with TLS client-certificate authentication, the certificate
        names (CN) allowed to dispatch actions: the cluster's nodes (None: anyone the
        port's TLS let in)."""
        self._node = node
        self._execute = execute
        self._highest = highest
        self._dispatchers = dispatchers

    async def Execute(
        self, request: pb.ActionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ActionResult:
        if self._dispatchers is not None:
            name = peer_common_name(context.auth_context())
            if name not in self._dispatchers:
                auth_log.warning(
                    "refused action %s from %s: certificate %r is not a cluster node's",
                    request.action_id, context.peer(), name,
                )  # fmt: skip
                return pb.ActionResult(
                    action_id=request.action_id, rc=1, op_status=4, refused=True,
                    reason=f"certificate {name!r} may not dispatch actions to {self._node}",
                )  # fmt: skip
        o = await self._execute(_action(request))
        return pb.ActionResult(
            action_id=request.action_id,
            rc=o.rc,
            op_status=o.op_status,
            output=o.output,
            duration_s=o.duration_s,
            refused=o.refused,
            reason=o.reason,
        )

    async def Ping(
        self, request: pb.PingRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.PingReply:
        return pb.PingReply(node=self._node, highest_token=self._highest())


def add_to_server(servicer: AgentServicer, server: grpc.aio.Server) -> None:
    pbg.add_NodeAgentServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]


class AgentClient:
    """The coordinator's connections to node agents, one channel per address
    (over TLS with the node's own certificate when ``credentials`` are given)."""

    def __init__(self, credentials: grpc.ChannelCredentials | None = None) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._credentials = credentials
        self._ports: PortWatch | None = None

    def port_watch(self, on_change: Callable[[], None]) -> PortWatch:
        """The watch of the agents' ports (one per client; closed with the client)."""
        if self._ports is None:
            self._ports = PortWatch(on_change, http2=self._credentials is None)
        return self._ports

    def _stub(self, address: str) -> pbg.NodeAgentStub:
        ch = self._channels.get(address)
        if ch is None:
            options = [
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 500),
            ]
            if self._credentials is None:
                ch = grpc.aio.insecure_channel(address, options=options)
            else:
                ch = grpc.aio.secure_channel(address, self._credentials, options=options)
            self._channels[address] = ch
        return pbg.NodeAgentStub(ch)  # type: ignore[no-untyped-call]

    async def execute(self, address: str, a: Action, timeout_s: float) -> Outcome:
        req = pb.ActionRequest(
            token=a.token,
            coordinator=a.coordinator,
            action_id=a.action_id,
            resource=a.resource,
            operation=a.operation,
            interval_ms=a.interval_ms,
            timeout_ms=a.timeout_ms,
            agent=a.agent,
            params=dict(a.params),
            meta=dict(a.meta),
            expected_rc=a.expected_rc,
            target=a.target,
        )
        try:
            r = await self._stub(address).Execute(req, timeout=timeout_s)
        except grpc.RpcError as e:
            code = e.code() if isinstance(e, grpc.aio.AioRpcError) else None
            return Outcome(
                rc=1, op_status=4, refused=True, reason=f"agent at {address} unreachable: {code}"
            )
        return Outcome(
            rc=r.rc,
            op_status=r.op_status,
            output=r.output,
            duration_s=r.duration_s,
            reason=r.reason,
            refused=r.refused,
        )

    async def close(self) -> None:
        if self._ports is not None:
            await self._ports.close()
        for ch in self._channels.values():
            await ch.close(None)
        self._channels.clear()


# --------------------------------------------------------------------------- port watch
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
CONNECT_TIMEOUT_S = 1.0
RETRY_S = (0.05, 0.1, 0.2, 0.5)  # pauses between reconnects (the last one repeats)


class PortWatch:
    """One idle connection to each watched agent port; a refused reconnect is reported.

    The connection is a well-behaved idle HTTP/2 client (preface, empty SETTINGS,
    and the ACKs the gRPC server expects), so the server keeps it open without a
    call on it. When it ends, the watch reconnects at once: ECONNREFUSED means
    the node's kernel answered and nothing listens on the port — its ``hacd`` is
    gone. Each watched key (the caller's incarnation id) moves through
    :func:`~reconciler.controller.fencing.port_step`; ``refused`` holds the keys that
    reached REFUSED, and ``on_change`` is called when one does. On a TLS port
    (``http2=False``) the connection sends nothing: the server drops it after its
    handshake timeout and the watch reconnects, which changes nothing.
    """

    def __init__(self, on_change: Callable[[], None], *, http2: bool = True) -> None:
        self._on_change = on_change
        self._http2 = http2
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.state: dict[str, Port] = {}
        self.refused_at: dict[str, float] = {}  # key -> wall time of the refusal

    @property
    def refused(self) -> set[str]:
        return {k for k, s in self.state.items() if s is Port.REFUSED}

    def watch(self, targets: Mapping[str, str]) -> None:
        """Watch exactly these keys (key -> host:port); others are dropped."""
        for k in sorted(set(self._tasks) - set(targets)):
            self._tasks.pop(k).cancel()
            self.state.pop(k, None)
            self.refused_at.pop(k, None)
        for k in sorted(set(targets) - set(self._tasks)):
            self.state[k] = Port.NEVER
            self._tasks[k] = asyncio.create_task(self._run(k, targets[k]), name=f"port {k}")

    def _step(self, key: str, event: PortEvent, address: str) -> Port:
        before = self.state.get(key, Port.NEVER)
        after = port_step(before, event)
        self.state[key] = after
        if after is Port.REFUSED and before is not Port.REFUSED:
            self.refused_at[key] = time.time()
            log.warning("agent port %s refused connections after the connection broke", address)
            self._on_change()
        elif after is Port.BROKEN and before is Port.UP:
            log.info("connection to agent port %s broke (%s)", address, event)
        return after

    async def _run(self, key: str, address: str) -> None:
        host, _, port = address.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        failures = 0
        while self.state.get(key) is not Port.REFUSED:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, int(port)), CONNECT_TIMEOUT_S
                )
            except ConnectionRefusedError:
                self._step(key, PortEvent.REFUSED, address)
            except (OSError, TimeoutError):
                self._step(key, PortEvent.NO_ANSWER, address)
            else:
                self._step(key, PortEvent.CONNECTED, address)
                since = time.monotonic()
                try:
                    await self._idle(reader, writer, self._http2)
                finally:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()
                self._step(key, PortEvent.CLOSED, address)
                if time.monotonic() - since > 1.0:
                    failures = 0
                    continue  # reconnect at once: the refusal is what we wait for
            if self.state.get(key) is Port.REFUSED:
                return
            await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
            failures += 1

    @staticmethod
    async def _idle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, http2: bool
    ) -> None:
        """Hold an idle HTTP/2 connection until it ends: ACK SETTINGS and PINGs, drop the rest."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            if not http2:
                while await reader.read(4096):
                    pass
                return
            writer.write(PREFACE)
            await writer.drain()
            while True:
                head = await reader.readexactly(9)
                length = int.from_bytes(head[:3], "big")
                kind, flags = head[3], head[4]
                payload = await reader.readexactly(length) if length else b""
                if kind == 0x4 and not flags & 0x1:
                    writer.write(SETTINGS_ACK)
                elif kind == 0x6 and not flags & 0x1:
                    writer.write(b"\x00\x00\x08\x06\x01\x00\x00\x00\x00" + payload)
                elif kind == 0x7:  # GOAWAY: the server is going away; wait for the close
                    pass
                await writer.drain()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
