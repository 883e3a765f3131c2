"""etcd's Lease, Cluster and Maintenance services over a backend."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

from reconciler.base.errors import StoreUnavailable
from reconciler.kv import types as t
from reconciler.transport import etcd_codec as codec
from reconciler.transport.etcd_backend import (
    AlarmInfo,
    EtcdBackend,
    MemberInfo,
    etcd_errors,
    status_of,
)

log = logging.getLogger(__name__)
Ctx = grpc.aio.ServicerContext[Any, Any]

SNAPSHOT_CHUNK = 32 * 1024
ALARM_GET, ALARM_ACTIVATE, ALARM_DEACTIVATE = 0, 1, 2


class _Base:
    def __init__(self, backend: EtcdBackend) -> None:
        self.b = backend

    def _hdr(self, revision: int | None = None) -> Any:
        rev = self.b.kv.revision if revision is None else revision
        return codec.header(self.b.cluster_id, self.b.member_id, rev, self.b.raft_term())


class LeaseServicer(_Base, rpc_pb2_grpc.LeaseServicer):  # type: ignore[misc]
    @etcd_errors
    async def LeaseGrant(self, request: Any, context: Ctx) -> Any:
        lease_id = request.ID or self.b.new_lease_id()
        resp = await self.b.write(t.LeaseGrantRequest(id=lease_id, ttl=request.TTL), None)
        assert isinstance(resp, t.LeaseGrantResponse)
        return rpc_pb2.LeaseGrantResponse(header=self._hdr(resp.revision), ID=resp.id, TTL=resp.ttl)

    @etcd_errors
    async def LeaseRevoke(self, request: Any, context: Ctx) -> Any:
        resp = await self.b.write(t.LeaseRevokeRequest(id=request.ID), None)
        return rpc_pb2.LeaseRevokeResponse(header=self._hdr(resp.revision))

    async def LeaseKeepAlive(
        self, request_iterator: AsyncIterator[Any], context: Ctx
    ) -> AsyncIterator[Any]:
        try:
            async for req in request_iterator:
                try:
                    ttl = await self.b.lease_keepalive(req.ID)
                except grpc.aio.AioRpcError as e:
                    # the leader this member forwarded to is gone: unavailable, never a
                    # silent end (a client reads an empty stream as "the lease is gone")
                    raise StoreUnavailable(f"leader unreachable: {e.code().name}") from None
                yield rpc_pb2.LeaseKeepAliveResponse(header=self._hdr(), ID=req.ID, TTL=ttl)
        except grpc.aio.AioRpcError:
            return  # the client's side of the stream failed: nobody to answer
        except Exception as exc:
            st = status_of(exc)
            if st is None:
                log.exception("lease keepalive stream failed")
                st = (grpc.StatusCode.INTERNAL, "internal error")
            await context.abort(st[0], st[1])

    @etcd_errors
    async def LeaseTimeToLive(self, request: Any, context: Ctx) -> Any:
        rec = self.b.kv.leases.get(request.ID)
        remaining = await self.b.lease_remaining(request.ID)
        if rec is None or remaining < 0:
            return rpc_pb2.LeaseTimeToLiveResponse(header=self._hdr(), ID=request.ID, TTL=-1)
        keys = sorted(rec.keys) if request.keys else []
        return rpc_pb2.LeaseTimeToLiveResponse(
            header=self._hdr(), ID=request.ID, TTL=remaining, grantedTTL=rec.ttl, keys=keys
        )

    @etcd_errors
    async def LeaseLeases(self, request: Any, context: Ctx) -> Any:
        ids = sorted(self.b.kv.leases)
        return rpc_pb2.LeaseLeasesResponse(
            header=self._hdr(), leases=[rpc_pb2.LeaseStatus(ID=i) for i in ids]
        )


def member_to_pb(m: MemberInfo) -> Any:
    return rpc_pb2.Member(
        ID=m.id,
        name=m.name,
        peerURLs=list(m.peer_urls),
        clientURLs=list(m.client_urls),
        isLearner=m.is_learner,
    )


class ClusterServicer(_Base, rpc_pb2_grpc.ClusterServicer):  # type: ignore[misc]
    def _hdr(self, revision: int | None = None) -> Any:
        # etcd's cluster responses carry no revision
        return codec.header(self.b.cluster_id, self.b.member_id, 0, self.b.raft_term())

    async def _list(self) -> list[Any]:
        return [member_to_pb(m) for m in await self.b.members()]

    @etcd_errors
    async def MemberList(self, request: Any, context: Ctx) -> Any:
        return rpc_pb2.MemberListResponse(header=self._hdr(), members=await self._list())

    @etcd_errors
    async def MemberAdd(self, request: Any, context: Ctx) -> Any:
        m = await self.b.member_add(list(request.peerURLs), request.isLearner)
        return rpc_pb2.MemberAddResponse(
            header=self._hdr(), member=member_to_pb(m), members=await self._list()
        )

    @etcd_errors
    async def MemberRemove(self, request: Any, context: Ctx) -> Any:
        await self.b.member_remove(request.ID)
        return rpc_pb2.MemberRemoveResponse(header=self._hdr(), members=await self._list())

    @etcd_errors
    async def MemberPromote(self, request: Any, context: Ctx) -> Any:
        await self.b.member_promote(request.ID)
        return rpc_pb2.MemberPromoteResponse(header=self._hdr(), members=await self._list())

    @etcd_errors
    async def MemberUpdate(self, request: Any, context: Ctx) -> Any:
        await self.b.member_update(request.ID, list(request.peerURLs))
        return rpc_pb2.MemberUpdateResponse(header=self._hdr(), members=await self._list())


class MaintenanceServicer(_Base, rpc_pb2_grpc.MaintenanceServicer):  # type: ignore[misc]
    @etcd_errors
    async def Status(self, request: Any, context: Ctx) -> Any:
        st = await self.b.status()
        return rpc_pb2.StatusResponse(
            header=self._hdr(),
            version=st.version,
            dbSize=st.db_size,
            dbSizeInUse=st.db_size_in_use,
            leader=st.leader,
            raftIndex=st.raft_index,
            raftTerm=st.raft_term,
            raftAppliedIndex=st.raft_applied_index,
            errors=list(st.errors),
            isLearner=st.is_learner,
        )

    @etcd_errors
    async def Alarm(self, request: Any, context: Ctx) -> Any:
        if request.action == ALARM_DEACTIVATE:
            await self.b.disarm(AlarmInfo(request.memberID, request.alarm))
        elif request.action == ALARM_ACTIVATE:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "alarms are raised by the store")
        alarms = [
            rpc_pb2.AlarmMember(memberID=a.member_id, alarm=a.alarm)
            for a in self.b.alarms()
            if request.action != ALARM_GET
            or not request.memberID
            or a.member_id == request.memberID
        ]
        return rpc_pb2.AlarmResponse(header=self._hdr(), alarms=alarms)

    async def Snapshot(self, request: Any, context: Ctx) -> AsyncIterator[Any]:
        data = self.b.snapshot_bytes()
        # etcd streams its database (whole 512-byte pages) followed by its SHA-256, and
        # etcdctl checks that shape; pad our image to whole pages the same way
        data += b"\0" * (-len(data) % 512)
        data += hashlib.sha256(data).digest()
        hdr = self._hdr()
        for off in range(0, len(data), SNAPSHOT_CHUNK):
            blob = data[off : off + SNAPSHOT_CHUNK]
            remaining = len(data) - off - len(blob)
            yield rpc_pb2.SnapshotResponse(header=hdr, remaining_bytes=remaining, blob=blob)

    @etcd_errors
    async def MoveLeader(self, request: Any, context: Ctx) -> Any:
        await self.b.move_leader(request.targetID)
        return rpc_pb2.MoveLeaderResponse(header=self._hdr())

    @etcd_errors
    async def Defragment(self, request: Any, context: Ctx) -> Any:
        """A no-op, answered as etcd 3.4 answers (an empty response, not even a header).

        etcd rewrites its bbolt file to return the free pages of deleted revisions to the
        file system. Our state lives in memory (freed as compaction drops revisions) and
        on disk as WAL segments and snapshots, which a snapshot already releases
        (every ``--snapshot-count`` entries): there is no free-page list to reclaim."""
        return rpc_pb2.DefragmentResponse()

    @etcd_errors
    async def HashKV(self, request: Any, context: Ctx) -> Any:
        """etcd's HashKV: a hash of the history up to ``revision``, equal on every member.

        Computed in pieces with the loop given back between them; if a compaction or a
        snapshot changed the state meanwhile, computed again."""
        from reconciler.kv import kvhash

        while True:
            kv = self.b.kv
            compact = kv.compact_revision
            steps = kvhash.hash_steps(kv, request.revision)
            while True:
                try:
                    next(steps)
                except StopIteration as done:
                    value: int = done.value
                    break
                await asyncio.sleep(0)
            if kv is self.b.kv and kv.compact_revision == compact:
                return rpc_pb2.HashKVResponse(  # etcd: -1 before the first compaction
                    header=self._hdr(), hash=value, compact_revision=compact or -1
                )


def add_etcd_services(server: grpc.aio.Server, backend: EtcdBackend, progress: float) -> None:
    """Register KV, Watch, Lease, Cluster and Maintenance on ``server``."""
    from reconciler.transport.etcd_kv import KVServicer, WatchServicer

    rpc_pb2_grpc.add_KVServicer_to_server(KVServicer(backend), server)
    rpc_pb2_grpc.add_WatchServicer_to_server(WatchServicer(backend, progress), server)
    rpc_pb2_grpc.add_LeaseServicer_to_server(LeaseServicer(backend), server)
    rpc_pb2_grpc.add_ClusterServicer_to_server(ClusterServicer(backend), server)
    rpc_pb2_grpc.add_MaintenanceServicer_to_server(MaintenanceServicer(backend), server)
