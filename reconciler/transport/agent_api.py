"""gRPC adapter of the node agent service (proto/agent.proto): servicer and client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc

from reconciler._proto import agent_pb2 as pb
from reconciler._proto import agent_pb2_grpc as pbg
from reconciler.controller.dispatch import Action, Outcome

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
    def __init__(self, node: str, execute: Execute, highest: Callable[[], int]) -> None:
        self._node = node
        self._execute = execute
        self._highest = highest

    async def Execute(
        self, request: pb.ActionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ActionResult:
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
    """The coordinator's connections to node agents, one channel per address."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _stub(self, address: str) -> pbg.NodeAgentStub:
        ch = self._channels.get(address)
        if ch is None:
            ch = grpc.aio.insecure_channel(
                address,
                options=[
                    ("grpc.initial_reconnect_backoff_ms", 100),
                    ("grpc.max_reconnect_backoff_ms", 500),
                ],
            )
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
        for ch in self._channels.values():
            await ch.close(None)
        self._channels.clear()
