"""The store as the daemon and the CLI use it: a small async key/value port.

This is the slice of etcd's v3 API the live cluster needs (get, prefix range,
put, delete, compare-and-swap transactions, leases, prefix watches), behind a
``Protocol`` so the backend is invisible above it. :class:`EtcdKv` speaks the
etcd v3 gRPC API with the generated modules aetcd ships, to any endpoint that
serves it: real etcd or hactl's builtin store. Keys and values are ``str``/``bytes``.
Foreign errors become :mod:`reconciler.base.errors` here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from aetcd.rpc import rpc_pb2 as pb
from aetcd.rpc import rpc_pb2_grpc as pbg

from reconciler.base.errors import Compacted, StoreError, StoreUnavailable


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "put" | "delete"
    key: str
    value: bytes
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Cmp:
    """A transaction compare: ``target`` in version, create, mod, value; ``op`` in ==, !=, <, >."""

    key: str
    target: str
    op: str
    value: int | bytes


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Delete:
    key: str
    prefix: bool = False


Op = Put | Delete


class Kv(Protocol):
    async def get(self, key: str) -> Entry | None: ...
    async def range(self, prefix: str) -> tuple[list[Entry], int]: ...
    async def put(self, key: str, value: bytes, lease: int = 0) -> int: ...
    async def delete(self, key: str, prefix: bool = False) -> int: ...
    async def txn(
        self, compares: Sequence[Cmp], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> tuple[bool, int]: ...
    async def grant(self, ttl: float) -> int: ...
    async def keepalive(self, lease: int) -> int: ...
    async def revoke(self, lease: int) -> None: ...
    def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[Event]]: ...
    async def close(self) -> None: ...


def prefix_end(prefix: bytes) -> bytes:
    b = bytearray(prefix)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\0"


def _never_sent(e: grpc.RpcError) -> bool:
    """The call failed before reaching the member (no connection): safe to send elsewhere."""
    code = e.code() if hasattr(e, "code") else None
    detail = (e.details() if hasattr(e, "details") else "") or ""
    return code == grpc.StatusCode.UNAVAILABLE and "failed to connect" in detail.lower()


_STUBS: dict[str, Any] = {"kv": pbg.KVStub, "lease": pbg.LeaseStub}


def _translate(e: grpc.RpcError) -> StoreError:
    code = e.code() if hasattr(e, "code") else None
    detail = e.details() if hasattr(e, "details") else str(e)
    if code in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
    ):
        return StoreUnavailable(f"store unavailable: {detail}")
    if detail and "compacted" in detail:
        return Compacted(0)
    return StoreError(f"store error: {code}: {detail}")


_TARGET = {
    "version": pb.Compare.VERSION,
    "create": pb.Compare.CREATE,
    "mod": pb.Compare.MOD,
    "value": pb.Compare.VALUE,
}
_RESULT = {
    "==": pb.Compare.EQUAL,
    "!=": pb.Compare.NOT_EQUAL,
    "<": pb.Compare.LESS,
    ">": pb.Compare.GREATER,
}


def _entry(kv: Any) -> Entry:
    return Entry(
        key=kv.key.decode(),
        value=bytes(kv.value),
        create_revision=kv.create_revision,
        mod_revision=kv.mod_revision,
        version=kv.version,
        lease=kv.lease,
    )


def tls_credentials(
    ca_file: str | None, cert_file: str | None, key_file: str | None
) -> grpc.ChannelCredentials | None:
    """Client credentials for a store with TLS (``--client-cert-auth``), or None."""
    if not ca_file:
        return None

    def read(path: str | None) -> bytes | None:
        if not path:
            return None
        with open(path, "rb") as f:
            return f.read()

    return grpc.ssl_channel_credentials(read(ca_file), read(key_file), read(cert_file))


class EtcdKv:
    """The port over etcd's v3 gRPC API (real etcd or the builtin store)."""

    def __init__(
        self,
        endpoints: Sequence[str],
        timeout: float = 5.0,
        credentials: grpc.ChannelCredentials | None = None,
        *,
        keepalive_s: float = 5.0,
        keepalive_timeout_s: float = 1.0,
        prefer_first: bool = False,
    ) -> None:
        """``keepalive_s``: HTTP/2 ping interval, so a connection to a member cut off
        silently (no RST, no ICMP) is found dead after ``keepalive_s + keepalive_timeout_s``
        and left out, instead of stalling every request routed to it. Real etcd refuses
        pings more often than its ``--grpc-keepalive-min-time`` (5 s by default), hence
        the default; the builtin store and an etcd started with a lower flag allow 1 s.
        ``prefer_first``: use the first endpoint that answers, in the order given (the
        node's own builtin member first); otherwise spread requests round-robin.
        """
        if not endpoints:
            raise StoreError("no store endpoints configured")
        hosts = [e.removeprefix("http://").removeprefix("https://") for e in endpoints]
        spread = len(hosts) > 1 and not prefer_first
        options: list[tuple[str, Any]] = [
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 500),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.keepalive_time_ms", int(keepalive_s * 1000)),
            ("grpc.keepalive_timeout_ms", int(keepalive_timeout_s * 1000)),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
        ]
        if credentials is None:
            # one channel over every address: gRPC balances and skips dead members
            target = "ipv4:" + ",".join(hosts) if len(hosts) > 1 else hosts[0]
            lb = [("grpc.lb_policy_name", "round_robin" if spread else "pick_first")]
            self._channels = [grpc.aio.insecure_channel(target, options=options + lb)]
        else:
            # TLS checks a member's certificate against the name it was dialled by, and a
            # channel over several addresses has one name for all: one channel per member
            self._channels = [
                grpc.aio.secure_channel(h, credentials, options=options) for h in hosts
            ]
        self._spread = spread
        self._next = 0
        self._timeout = timeout

    def _order(self) -> list[int]:
        """Channels to try, best first: in the order given (``prefer_first``) or in turn,
        members whose connection is known to be failing last."""
        n = len(self._channels)
        if n == 1:
            return [0]
        start = self._next if self._spread else 0
        if self._spread:
            self._next = (self._next + 1) % n
        bad = (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)
        ring = [(start + i) % n for i in range(n)]
        failing = {i for i in ring if self._channels[i].get_state(try_to_connect=True) in bad}
        return [i for i in ring if i not in failing] + [i for i in ring if i in failing]

    def _pick(self) -> grpc.aio.Channel:
        return self._channels[self._order()[0]]

    async def _unary(self, service: str, method: str, req: Any) -> Any:
        """One call; a member that could not be reached at all (the request never left)
        is passed over for the next one; anything else is the answer."""
        last: grpc.RpcError | None = None
        for i in self._order():
            stub = _STUBS[service](self._channels[i])
            try:
                return await getattr(stub, method)(req, timeout=self._timeout)
            except grpc.RpcError as e:
                if not _never_sent(e):
                    raise _translate(e) from None
                last = e
        assert last is not None
        raise _translate(last) from None

    @property
    def _lease(self) -> pbg.LeaseStub:
        return pbg.LeaseStub(self._pick())

    @property
    def _watch(self) -> pbg.WatchStub:
        return pbg.WatchStub(self._pick())

    async def close(self) -> None:
        for ch in self._channels:
            await ch.close(None)

    async def get(self, key: str) -> Entry | None:
        try:
            r = await self._unary("kv", "Range", pb.RangeRequest(key=key.encode()))
        except grpc.RpcError as e:
            raise _translate(e) from None
        return _entry(r.kvs[0]) if r.kvs else None

    async def range(self, prefix: str) -> tuple[list[Entry], int]:
        k = prefix.encode()
        try:
            r = await self._unary("kv", "Range", pb.RangeRequest(key=k, range_end=prefix_end(k)))
        except grpc.RpcError as e:
            raise _translate(e) from None
        return [_entry(kv) for kv in r.kvs], r.header.revision

    async def put(self, key: str, value: bytes, lease: int = 0) -> int:
        try:
            req = pb.PutRequest(key=key.encode(), value=value, lease=lease)
            r = await self._unary("kv", "Put", req)
        except grpc.RpcError as e:
            raise _translate(e) from None
        return int(r.header.revision)

    async def delete(self, key: str, prefix: bool = False) -> int:
        k = key.encode()
        req = pb.DeleteRangeRequest(key=k, range_end=prefix_end(k) if prefix else b"")
        try:
            r = await self._unary("kv", "DeleteRange", req)
        except grpc.RpcError as e:
            raise _translate(e) from None
        return int(r.deleted)

    @staticmethod
    def _op(op: Op) -> Any:
        if isinstance(op, Put):
            return pb.RequestOp(
                request_put=pb.PutRequest(key=op.key.encode(), value=op.value, lease=op.lease)
            )
        k = op.key.encode()
        return pb.RequestOp(
            request_delete_range=pb.DeleteRangeRequest(
                key=k, range_end=prefix_end(k) if op.prefix else b""
            )
        )

    async def txn(
        self, compares: Sequence[Cmp], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> tuple[bool, int]:
        cmps = []
        for c in compares:
            m = pb.Compare(key=c.key.encode(), target=_TARGET[c.target], result=_RESULT[c.op])
            if c.target == "version":
                m.version = int(c.value)
            elif c.target == "create":
                m.create_revision = int(c.value)
            elif c.target == "mod":
                m.mod_revision = int(c.value)
            else:
                m.value = bytes(c.value)
            cmps.append(m)
        req = pb.TxnRequest(
            compare=cmps,
            success=[self._op(o) for o in success],
            failure=[self._op(o) for o in failure],
        )
        try:
            r = await self._unary("kv", "Txn", req)
        except grpc.RpcError as e:
            raise _translate(e) from None
        return bool(r.succeeded), int(r.header.revision)

    async def grant(self, ttl: float) -> int:
        try:
            r = await self._unary(
                "lease", "LeaseGrant", pb.LeaseGrantRequest(TTL=max(1, round(ttl)))
            )
        except grpc.RpcError as e:
            raise _translate(e) from None
        if r.error:
            raise StoreError(f"lease grant failed: {r.error}")
        return int(r.ID)

    async def keepalive(self, lease: int) -> int:
        """Renew once; returns the remaining TTL (0: the lease is gone)."""
        try:
            call = self._lease.LeaseKeepAlive(
                iter([pb.LeaseKeepAliveRequest(ID=lease)]), timeout=self._timeout
            )
            async for reply in call:
                return int(reply.TTL)
        except grpc.RpcError as e:
            raise _translate(e) from None
        # a lease that is gone is answered with TTL 0; no answer at all is no news
        raise StoreUnavailable("store unavailable: lease keep-alive ended without an answer")

    async def revoke(self, lease: int) -> None:
        with contextlib.suppress(StoreError):
            await self._unary("lease", "LeaseRevoke", pb.LeaseRevokeRequest(ID=lease))

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[Event]]:
        """Events under ``prefix`` from ``start_revision`` on, one list per response."""
        k = prefix.encode()
        create = pb.WatchRequest(
            create_request=pb.WatchCreateRequest(
                key=k, range_end=prefix_end(k), start_revision=start_revision
            )
        )
        queue: asyncio.Queue[Any] = asyncio.Queue()
        await queue.put(create)

        async def requests() -> AsyncIterator[Any]:
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item

        call = self._watch.Watch(requests())
        try:
            async for resp in call:
                if resp.compact_revision:
                    raise Compacted(int(resp.compact_revision))
                if resp.canceled:
                    raise StoreUnavailable(f"watch cancelled: {resp.cancel_reason}")
                if not resp.events:
                    continue
                yield [
                    Event(
                        kind="delete" if ev.type == 1 else "put",
                        key=ev.kv.key.decode(),
                        value=bytes(ev.kv.value),
                        mod_revision=ev.kv.mod_revision,
                    )
                    for ev in resp.events
                ]
        except grpc.RpcError as e:
            raise _translate(e) from None
        finally:
            await queue.put(None)
            call.cancel()
