"""gRPC adapter of hactl's client API (proto/hactl_api.proto): servicer and client.

Objects travel as JSON text; the daemon's handler does the work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import grpc

from reconciler._proto import hactl_api_pb2 as pb
from reconciler._proto import hactl_api_pb2_grpc as pbg
from reconciler.base.errors import StoreError, StoreUnavailable


class ApiHandler(Protocol):
    async def apply(
        self, documents_json: str, dry_run: bool, prune: bool, selector: str, source: str
    ) -> tuple[str, int, str, str]: ...
    async def get(self, kind: str, name: str, selector: str) -> tuple[str, int, str]: ...
    async def delete(self, kind: str, name: str, selector: str) -> tuple[str, str]: ...
    async def view(self) -> tuple[str, int]: ...
    async def command(self, verb: str, args_json: str) -> tuple[str, str]: ...
    def changes(self, prefix: str) -> AsyncIterator[int]: ...
    def node_status(self) -> str: ...


class ApiServicer(pbg.HactlServicer):
    def __init__(self, handler: ApiHandler) -> None:
        self.h = handler

    async def Apply(self, r: pb.ApplyRequest, c: object) -> pb.ApplyReply:
        res, rev, err, transition = await self.h.apply(
            r.documents_json, r.dry_run, r.prune, r.selector, r.source
        )
        return pb.ApplyReply(result_json=res, revision=rev, error=err, transition=transition)

    async def Get(self, r: pb.GetRequest, c: object) -> pb.GetReply:
        objs, rev, err = await self.h.get(r.kind, r.name, r.selector)
        return pb.GetReply(objects_json=objs, revision=rev, error=err)

    async def Delete(self, r: pb.DeleteRequest, c: object) -> pb.DeleteReply:
        res, err = await self.h.delete(r.kind, r.name, r.selector)
        return pb.DeleteReply(result_json=res, error=err)

    async def View(
        self, r: pb.ViewRequest, c: grpc.aio.ServicerContext[object, object]
    ) -> pb.ViewReply:
        try:
            view, rev = await self.h.view()
        except StoreError as e:
            await c.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        return pb.ViewReply(view_json=view, revision=rev)

    async def Command(self, r: pb.CommandRequest, c: object) -> pb.CommandReply:
        res, err = await self.h.command(r.verb, r.args_json)
        return pb.CommandReply(result_json=res, error=err)

    async def Watch(
        self, r: pb.WatchRequest, c: grpc.aio.ServicerContext[object, object]
    ) -> AsyncIterator[pb.WatchEvent]:
        try:
            async for rev in self.h.changes(r.prefix):
                yield pb.WatchEvent(revision=rev)
        except StoreError as e:
            await c.abort(grpc.StatusCode.UNAVAILABLE, str(e))

    async def NodeStatus(self, r: pb.NodeStatusRequest, c: object) -> pb.NodeStatusReply:
        return pb.NodeStatusReply(status_json=self.h.node_status())


def add_to_server(servicer: ApiServicer, server: grpc.aio.Server) -> None:
    pbg.add_HactlServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]


def tls_hint(details: str, tls: bool) -> str:
    """What a closed connection most likely means, for the error message."""
    if "Socket closed" not in details and "handshake" not in details.lower():
        return ""
    if not tls:
        return (
            " (hacd may serve TLS: give --certificate-authority, --client-certificate and "
            "--client-key, or a context that has them)"
        )
    return (
        " (the TLS handshake failed: hacd accepts only client certificates signed by the "
        "cluster CA, and its certificate must be signed by --certificate-authority)"
    )


class ApiClient:
    """Used by hactl: one channel to one hacd (``--server host:port``), over TLS when
    ``credentials`` are given (see :func:`reconciler.transport.tls.client_credentials`)."""

    def __init__(
        self,
        address: str,
        timeout_s: float = 10.0,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._tls = credentials is not None
        if credentials is None:
            self._ch = grpc.aio.insecure_channel(address)
        else:
            self._ch = grpc.aio.secure_channel(address, credentials)
        self._stub = pbg.HactlStub(self._ch)  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await self._ch.close(None)

    def _unavailable(self, e: grpc.RpcError) -> StoreUnavailable:
        code = e.code() if isinstance(e, grpc.aio.AioRpcError) else None
        details = e.details() if isinstance(e, grpc.aio.AioRpcError) else str(e)
        return StoreUnavailable(
            f"cannot reach hacd at {self.address}: {code}: {details}"
            + tls_hint(details or "", self._tls)
        )

    async def apply(
        self, documents_json: str, dry_run: bool, prune: bool, selector: str, source: str
    ) -> tuple[str, int, str]:
        res, rev, err, _ = await self.apply_full(documents_json, dry_run, prune, selector, source)
        return res, rev, err

    async def apply_full(
        self, documents_json: str, dry_run: bool, prune: bool, selector: str, source: str
    ) -> tuple[str, int, str, str]:
        """As :meth:`apply`, plus the predicted Transition Summary of a dry run."""
        try:
            r = await self._stub.Apply(
                pb.ApplyRequest(
                    documents_json=documents_json,
                    dry_run=dry_run,
                    prune=prune,
                    selector=selector,
                    source=source,
                ),
                timeout=self.timeout_s,
            )
        except grpc.RpcError as e:
            raise self._unavailable(e) from None
        return r.result_json, r.revision, r.error, r.transition

    async def get(self, kind: str, name: str, selector: str) -> tuple[str, int, str]:
        try:
            r = await self._stub.Get(
                pb.GetRequest(kind=kind, name=name, selector=selector), timeout=self.timeout_s
            )
        except grpc.RpcError as e:
            raise self._unavailable(e) from None
        return r.objects_json, r.revision, r.error

    async def delete(self, kind: str, name: str, selector: str) -> tuple[str, str]:
        try:
            r = await self._stub.Delete(
                pb.DeleteRequest(kind=kind, name=name, selector=selector), timeout=self.timeout_s
            )
        except grpc.RpcError as e:
            raise self._unavailable(e) from None
        return r.result_json, r.error

    async def view(self) -> tuple[str, int]:
        try:
            r = await self._stub.View(pb.ViewRequest(), timeout=self.timeout_s)
        except grpc.RpcError as e:
            raise self._unavailable(e) from None
        return r.view_json, r.revision

    async def command(self, verb: str, args_json: str) -> tuple[str, str]:
        try:
            r = await self._stub.Command(
                pb.CommandRequest(verb=verb, args_json=args_json), timeout=self.timeout_s
            )
        except grpc.RpcError as e:
            raise self._unavailable(e) from None
        return r.result_json, r.error

    async def node_status(self) -> str:
        """This hacd's own view of its node (JSON), answered without the store."""
        try:
            r = await self._stub.NodeStatus(pb.NodeStatusRequest(), timeout=self.timeout_s)
        except grpc.RpcError as e:
            raise self._unavailable(e) from None
        return str(r.status_json)

    async def changes(self, prefix: str = "") -> AsyncIterator[int]:
        try:
            async for ev in self._stub.Watch(pb.WatchRequest(prefix=prefix)):
                yield ev.revision
        except grpc.RpcError as e:
            raise self._unavailable(e) from None


class SyncApiClient:
    """A blocking client for scripts and tests that poll (one channel, reused)."""

    def __init__(
        self,
        address: str,
        timeout_s: float = 10.0,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        if credentials is None:
            self._ch = grpc.insecure_channel(address)
        else:
            self._ch = grpc.secure_channel(address, credentials)
        self._stub = pbg.HactlStub(self._ch)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._ch.close()

    def view(self) -> tuple[str, int]:
        try:
            r = self._stub.View(pb.ViewRequest(), timeout=self.timeout_s)
        except grpc.RpcError as e:
            raise StoreUnavailable(f"cannot reach hacd at {self.address}: {e}") from None
        return r.view_json, r.revision
