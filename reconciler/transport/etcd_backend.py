"""The port the etcd v3 servicers are served from: one store member (``EtcdBackend``).

The servicers in this package translate protobuf to the pure ``reconciler.kv`` values and
call a backend; ``reconciler.daemon.store_member`` implements it (Raft, persistence,
forwarding to the leader). Errors are translated here, once, to etcd's gRPC status codes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Protocol, TypeVar

import grpc

from reconciler.base.errors import NoSpace, StoreError, StoreUnavailable
from reconciler.kv import errors as kv_errors
from reconciler.kv.store import KVStore
from reconciler.kv.types import Command, RangeRequest, RangeResponse, Response

log = logging.getLogger(__name__)

NO_LEADER = "etcdserver: no leader"
TIMED_OUT = "etcdserver: request timed out"
NOT_CAPABLE = "etcdserver: not capable"
MEMBER_NOT_FOUND = "etcdserver: member not found"


@dataclass(frozen=True, slots=True)
class MemberInfo:
    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool = False


@dataclass(frozen=True, slots=True)
class StatusInfo:
    version: str
    db_size: int
    db_size_in_use: int
    leader: int
    raft_index: int
    raft_term: int
    raft_applied_index: int
    is_learner: bool = False
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmInfo:
    member_id: int
    alarm: int  # etcdserverpb.AlarmType: 1 NOSPACE, 2 CORRUPT


class EtcdBackend(Protocol):
    """One member of a store, as the etcd API servicers need it."""

    cluster_id: int
    member_id: int
    kv: KVStore  # the local applied state: watches and serializable reads are served from it

    def raft_term(self) -> int: ...

    async def write(self, cmd: Command, pb: Any | None) -> Response:
        """Commit a write through the leader and return its result (raises KvError)."""
        ...

    async def read(self, req: RangeRequest) -> RangeResponse:
        """Linearizable unless ``req.serializable`` (then from this member's state)."""
        ...

    async def wait_applied(self, revision: int, timeout: float) -> None:
        """Return once the local store's revision exceeds ``revision`` (or on timeout)."""
        ...

    def new_lease_id(self) -> int: ...

    async def lease_keepalive(self, lease_id: int) -> int:
        """Refresh on the leader; the TTL, or 0 if the lease does not exist."""
        ...

    async def lease_remaining(self, lease_id: int) -> int:
        """Seconds left as the leader sees it, -1 if unknown."""
        ...

    async def members(self) -> list[MemberInfo]: ...

    async def member_add(self, peer_urls: list[str], is_learner: bool) -> MemberInfo: ...

    async def member_remove(self, member_id: int) -> None: ...

    async def member_promote(self, member_id: int) -> None: ...

    async def member_update(self, member_id: int, peer_urls: list[str]) -> None: ...

    async def move_leader(self, target: int) -> None: ...

    async def status(self) -> StatusInfo: ...

    def alarms(self) -> list[AlarmInfo]: ...

    async def disarm(self, alarm: AlarmInfo) -> None: ...

    def snapshot_bytes(self) -> bytes: ...


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """etcd's status code and text for one of our errors, None if it is not one."""
    if isinstance(exc, kv_errors.KvError):
        return grpc.StatusCode[exc.code], str(exc)
    if isinstance(exc, NoSpace):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, kv_errors.NoSpace.message
    if isinstance(exc, StoreUnavailable):
        return grpc.StatusCode.UNAVAILABLE, str(exc) or NO_LEADER
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.UNAVAILABLE, TIMED_OUT
    if isinstance(exc, StoreError):
        return grpc.StatusCode.UNKNOWN, str(exc)
    return None


def etcd_errors(fn: F) -> F:
    """Wrap a unary servicer method: our errors become etcd's status, others are logged."""

    @wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await fn(self, request, context)
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            st = status_of(exc)
            if st is None:
                log.exception("%s failed", fn.__name__)
                st = (grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
            await context.abort(st[0], st[1])

    return wrapper  # type: ignore[return-value]
