"""One member of the builtin store: the etcd v3 API over the kv state machine.

The member owns the applied state (``KVStore``), the leader-local lease deadlines
(``Lessor``) and the futures of writes it proposed. Writes are encoded as log entries
(``proposer id | sequence | command``) and handed to a *log engine*: the Raft engine
(``store_raft``) replicates and commits them; every member applies committed entries in
order through :meth:`StoreMember.apply_entry`, and the proposer resolves its client's
future there. Linearizable reads wait for a read index from the engine first.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.base.clock import Clock
from reconciler.base.errors import StoreUnavailable
from reconciler.kv import snapshot as kv_snapshot
from reconciler.kv.lessor import Lessor
from reconciler.kv.store import KVStore
from reconciler.kv.types import (
    Applied,
    Command,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseRevokeRequest,
    RangeRequest,
    RangeResponse,
    Response,
)
from reconciler.transport import etcd_codec
from reconciler.transport.etcd_backend import AlarmInfo, MemberInfo, StatusInfo

log = logging.getLogger(__name__)

VERSION = "3.4.23"  # the etcd API level we serve (what `etcdctl endpoint status` shows)
_ENTRY = struct.Struct(">QQ")
WRITE_TIMEOUT_S = 7.0  # etcd's request timeout is 5 s + 2 s of election slack
LEASE_CHECK_S = 0.25
ALARM_NOSPACE = 1


def member_id_of(name: str, token: str) -> int:
    """A stable member id from its name and the cluster token (never 0)."""
    h = hashlib.sha256(f"{token}/{name}".encode()).digest()
    return (int.from_bytes(h[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF) or 1


def cluster_id_of(names: list[str], token: str) -> int:
    h = hashlib.sha256(f"{token}|{','.join(sorted(names))}".encode()).digest()
    return (int.from_bytes(h[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF) or 1


class LogEngine(Protocol):
    """What the member needs from consensus (the Raft engine implements it)."""

    def is_leader(self) -> bool: ...

    def leader_id(self) -> int: ...

    def term(self) -> int: ...

    def commit_index(self) -> int: ...

    def applied_index(self) -> int: ...

    async def propose(self, data: bytes) -> None:
        """Hand an entry to the leader (forwarding if needed); raises StoreUnavailable."""
        ...

    async def read_index(self) -> None:
        """Return once this member has applied everything committed before the call."""
        ...

    async def members(self) -> list[MemberInfo]: ...

    async def member_add(self, peer_urls: list[str], is_learner: bool) -> MemberInfo: ...

    async def member_remove(self, member_id: int) -> None: ...

    async def member_promote(self, member_id: int) -> None: ...

    async def member_update(self, member_id: int, peer_urls: list[str]) -> None: ...

    async def move_leader(self, target: int) -> None: ...

    async def leader_call(self, what: str, lease_id: int) -> int:
        """Ask the leader for a lease keepalive (``keepalive``) or its TTL (``ttl``)."""
        ...


@dataclass(frozen=True, slots=True)
class MemberConfig:
    name: str
    cluster_token: str
    cluster_id: int
    member_id: int
    quota_bytes: int = 2 * 1024 * 1024 * 1024  # etcd's default backend quota
    lease_extend_s: float = 1.0  # a new leader's grace on every lease (election timeout)


class StoreMember:
    """The ``EtcdBackend`` of one member."""

    def __init__(self, cfg: MemberConfig, clock: Clock, rng: random.Random) -> None:
        self.cfg = cfg
        self.cluster_id = cfg.cluster_id
        self.member_id = cfg.member_id
        self.kv = KVStore()
        self.lessor = Lessor()
        self.clock = clock
        self.rng = rng
        self.engine: LogEngine | None = None
        self._seq = 0
        self._waiting: dict[int, asyncio.Future[Applied]] = {}
        self._applied = asyncio.Event()
        self._was_leader = False
        self._revoking: set[int] = set()
        self._alarms: set[int] = set()
        self.on_applied: Callable[[], None] | None = None

    # --- applying committed entries -----------------------------------------------------

    def apply_entry(self, data: bytes) -> None:
        """Apply one committed normal entry (every member, in log order)."""
        for _ in self.apply_entry_steps(data):
            pass

    @staticmethod
    def proposer_of(data: bytes) -> int:
        """The member id that proposed a log entry (0 for a new leader's empty entry)."""
        return _ENTRY.unpack_from(data)[0] if len(data) >= _ENTRY.size else 0

    def apply_entry_steps(self, data: bytes) -> Generator[None, None, None]:
        """:meth:`apply_entry` in steps (see ``KVStore.apply_steps``): the caller may serve
        other work between two steps; readers see none of the entry's writes until the
        last step."""
        if len(data) < _ENTRY.size:
            return  # an empty entry: a new leader's no-op
        proposer, seq = _ENTRY.unpack_from(data)
        try:
            cmd = etcd_codec.decode_command(data[_ENTRY.size :])
        except ValueError:
            log.error("skipping an undecodable committed entry (proposer %x)", proposer)
            return
        result = yield from self.kv.apply_steps(cmd)
        self._after_apply(cmd, result)
        if proposer == self.member_id:
            fut = self._waiting.pop(seq, None)
            if fut is not None and not fut.done():
                fut.set_result(result)

    def _after_apply(self, cmd: Command, result: Applied) -> None:
        now = self.clock.monotonic()
        if isinstance(cmd, LeaseGrantRequest) and isinstance(result.response, LeaseGrantResponse):
            self.lessor.granted(cmd.id, result.response.ttl, now)
        elif isinstance(cmd, LeaseRevokeRequest):
            self.lessor.revoked(cmd.id)
            self._revoking.discard(cmd.id)
        if self.kv.size_bytes > self.cfg.quota_bytes:
            self._alarms.add(ALARM_NOSPACE)
        self.notify_applied()

    def fail_waiting(self, exc: Exception) -> None:
        """Fail every write this member is waiting for (e.g. its disk is full)."""
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(exc)
        self._waiting.clear()

    def notify_applied(self) -> None:
        self._applied.set()
        self._applied = asyncio.Event()

    def restore(self, data: bytes, decoded: KVStore | None = None) -> None:
        """Replace the state by a snapshot's (at start, or one sent by the leader);
        ``decoded``: ``data`` already decoded (elsewhere than on the loop)."""
        if decoded is not None:
            self.kv = decoded
        else:
            self.kv = kv_snapshot.decode(data) if data else KVStore()
        now = self.clock.monotonic()
        self.lessor = Lessor()
        for rec in self.kv.leases.values():
            self.lessor.granted(rec.id, rec.ttl, now)
        self.notify_applied()

    def snapshot_bytes(self) -> bytes:
        return kv_snapshot.encode(self.kv)

    # --- the EtcdBackend port -----------------------------------------------------------

    def raft_term(self) -> int:
        return self.engine.term() if self.engine else 0

    def _engine(self) -> LogEngine:
        if self.engine is None:
            raise StoreUnavailable("etcdserver: not started")
        return self.engine

    async def write(self, cmd: Command, pb: Any | None) -> Response:
        if ALARM_NOSPACE in self._alarms and not isinstance(cmd, LeaseRevokeRequest):
            from reconciler.kv.errors import NoSpace

            if not _frees_space(cmd):
                raise NoSpace()
        self._seq += 1
        seq = self._seq
        data = _ENTRY.pack(self.member_id, seq) + etcd_codec.encode_command(cmd, pb)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Applied] = loop.create_future()
        self._waiting[seq] = fut
        # one timer per write instead of asyncio.wait_for (which adds a waiter future and
        # callbacks per call: measurable CPU at thousands of writes per second)
        timer = loop.call_later(WRITE_TIMEOUT_S, time_out, fut)
        try:
            await self._engine().propose(data)
            result = await fut
        finally:
            timer.cancel()
            self._waiting.pop(seq, None)
        if result.error is not None:
            raise result.error
        assert result.response is not None
        return result.response

    async def read(self, req: RangeRequest) -> RangeResponse:
        if not req.serializable:
            await self._engine().read_index()
        return self.kv.range(req)

    async def wait_applied(self, revision: int, timeout: float) -> None:
        if self.kv.revision > revision:
            return
        ev = self._applied
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            return

    def new_lease_id(self) -> int:
        while True:
            lid = self.rng.getrandbits(62) | 1
            if lid not in self.kv.leases:
                return lid

    async def lease_keepalive(self, lease_id: int) -> int:
        eng = self._engine()
        if eng.is_leader():
            await eng.read_index()
            if lease_id not in self.kv.leases:
                return 0
            return self.lessor.keepalive(lease_id, self.clock.monotonic())
        return await eng.leader_call("keepalive", lease_id)

    async def lease_remaining(self, lease_id: int) -> int:
        eng = self._engine()
        if eng.is_leader():
            if lease_id not in self.kv.leases:
                return -1
            return self.lessor.remaining(lease_id, self.clock.monotonic())
        return await eng.leader_call("ttl", lease_id)

    async def members(self) -> list[MemberInfo]:
        return await self._engine().members()

    async def member_add(self, peer_urls: list[str], is_learner: bool) -> MemberInfo:
        return await self._engine().member_add(peer_urls, is_learner)

    async def member_remove(self, member_id: int) -> None:
        await self._engine().member_remove(member_id)

    async def member_promote(self, member_id: int) -> None:
        await self._engine().member_promote(member_id)

    async def member_update(self, member_id: int, peer_urls: list[str]) -> None:
        await self._engine().member_update(member_id, peer_urls)

    async def move_leader(self, target: int) -> None:
        await self._engine().move_leader(target)

    async def status(self) -> StatusInfo:
        eng = self._engine()
        return StatusInfo(
            version=VERSION,
            db_size=self.kv.size_bytes + 4096,
            db_size_in_use=self.kv.size_bytes + 4096,
            leader=eng.leader_id(),
            raft_index=eng.commit_index(),
            raft_term=eng.term(),
            raft_applied_index=eng.applied_index(),
            errors=tuple(f"memberID:{self.member_id} alarm:NOSPACE " for _ in self._alarms),
        )

    def alarms(self) -> list[AlarmInfo]:
        return [AlarmInfo(self.member_id, a) for a in sorted(self._alarms)]

    def raise_alarm(self, alarm: int) -> None:
        self._alarms.add(alarm)

    async def disarm(self, alarm: AlarmInfo) -> None:
        if alarm.member_id in (0, self.member_id):
            self._alarms.discard(alarm.alarm)

    # --- leader duties ------------------------------------------------------------------

    async def lease_expiry_loop(self) -> None:
        """On the leader only: revoke expired leases (expiry is a replicated command)."""
        while True:
            await asyncio.sleep(LEASE_CHECK_S)
            eng = self.engine
            if eng is None:
                continue
            leader = eng.is_leader()
            now = self.clock.monotonic()
            if leader and not self._was_leader:
                ttls = {i: r.ttl for i, r in self.kv.leases.items()}
                self.lessor.promote(ttls, now, self.cfg.lease_extend_s)
                self._revoking.clear()
            self._was_leader = leader
            if not leader:
                continue
            for lid in self.lessor.expired(now):
                if lid in self._revoking or lid not in self.kv.leases:
                    continue
                self._revoking.add(lid)
                asyncio.get_running_loop().create_task(self._revoke(lid))

    async def _revoke(self, lease_id: int) -> None:
        try:
            await self.write(LeaseRevokeRequest(lease_id), None)
        except Exception as exc:
            log.info("lease %x: revoke on expiry failed (%s); will retry", lease_id, exc)
            self._revoking.discard(lease_id)


def time_out(fut: asyncio.Future[Any]) -> None:
    """A ``call_later`` callback: fail ``fut`` with TimeoutError unless it is done."""
    if not fut.done():
        fut.set_exception(TimeoutError())


def _frees_space(cmd: Command) -> bool:
    from reconciler.kv.types import CompactionRequest, DeleteRangeRequest

    return isinstance(cmd, DeleteRangeRequest | CompactionRequest)
