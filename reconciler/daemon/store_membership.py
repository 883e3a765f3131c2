"""The Cluster API of a builtin member: MemberList/Add/Remove/Update/Promote, MoveLeader.

A mixin of ``RaftEngine`` (``store_raft``): membership changes are Raft conf changes
proposed by the leader (a follower forwards the client's call to the leader's client
port, as etcd does); the engine applies them to its peer table when they commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import grpc

from reconciler.base.errors import StoreUnavailable
from reconciler.daemon.store_member import StoreMember, member_id_of
from reconciler.daemon.store_peers import MembershipError, PeerInfo, peer_target
from reconciler.daemon.store_reads import READ_TIMEOUT_S
from reconciler.raft.errors import ProposalDropped
from reconciler.raft.node import RaftNode
from reconciler.raft.types import ConfChange, ConfChangeType
from reconciler.transport.etcd_backend import MEMBER_NOT_FOUND, NO_LEADER, MemberInfo


class MembershipMixin:
    """Needs the engine's node, peer table, leader id and conf-change waiters."""

    node: RaftNode
    member: StoreMember
    peers: dict[int, PeerInfo]
    credentials: object | None
    tick_s: float
    _lead: int
    _wake: asyncio.Event
    _conf_waiters: dict[int, asyncio.Future[None]]

    def is_leader(self) -> bool:
        raise NotImplementedError

    async def read_index(self) -> None:
        raise NotImplementedError

    async def members(self) -> list[MemberInfo]:
        cs = self.node.conf_state()
        out = []
        for nid in cs.members():
            p = self.peers.get(nid) or PeerInfo(nid, "", ())
            out.append(MemberInfo(nid, p.name, p.peer_urls, p.client_urls, nid in cs.learners))
        return out

    async def _conf_change(self, cc: ConfChange) -> None:
        if not self.is_leader():
            raise StoreUnavailable("etcdserver: not leader (send membership changes to it)")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._conf_waiters[cc.node_id] = fut
        try:
            self.node.propose_conf_change(cc)
        except ProposalDropped as exc:
            raise StoreUnavailable(str(exc) or NO_LEADER) from exc
        self._wake.set()
        await asyncio.wait_for(fut, READ_TIMEOUT_S)

    async def _forward_cluster(self, method: str, request: Any) -> Any:
        """A membership change sent to a follower goes to the leader's client port (etcd too)."""
        from aetcd.rpc import rpc_pb2_grpc

        lead = self.peers.get(self._lead)
        if lead is None or not lead.client_urls:
            raise StoreUnavailable(NO_LEADER)
        target = peer_target(lead.client_urls[0])
        creds = self.credentials
        async with (
            grpc.aio.secure_channel(target, creds)  # type: ignore[arg-type]
            if creds is not None
            else grpc.aio.insecure_channel(target)
        ) as ch:
            stub = rpc_pb2_grpc.ClusterStub(ch)
            try:
                resp = await getattr(stub, method)(request, timeout=READ_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                raise MembershipError(exc.code().name, exc.details() or "") from None
        # the change is committed: catch up with it, so what this member answers next
        # (the member list in the response) already shows it
        with contextlib.suppress(StoreUnavailable):
            await self.read_index()
        return resp

    async def member_add(self, peer_urls: list[str], is_learner: bool) -> MemberInfo:
        if not self.is_leader():
            from aetcd.rpc import rpc_pb2

            req = rpc_pb2.MemberAddRequest(peerURLs=peer_urls, isLearner=is_learner)
            r = await self._forward_cluster("MemberAdd", req)
            m = r.member
            return MemberInfo(m.ID, m.name, tuple(m.peerURLs), tuple(m.clientURLs), m.isLearner)
        nid = member_id_of(",".join(sorted(peer_urls)), str(self.member.cluster_id))
        if nid in self.node.conf_state().members():
            raise MembershipError("FAILED_PRECONDITION", "etcdserver: Peer URLs already exists")
        info = PeerInfo(nid, "", tuple(peer_urls))
        kind = ConfChangeType.ADD_LEARNER if is_learner else ConfChangeType.ADD_VOTER
        await self._conf_change(ConfChange(kind, nid, info.encode()))
        return MemberInfo(nid, "", tuple(peer_urls), (), is_learner)

    async def member_remove(self, member_id: int) -> None:
        if not self.is_leader():  # checked by the leader (this member may lag behind)
            from aetcd.rpc import rpc_pb2

            await self._forward_cluster("MemberRemove", rpc_pb2.MemberRemoveRequest(ID=member_id))
            return
        if member_id not in self.node.conf_state().members():
            raise MembershipError("NOT_FOUND", MEMBER_NOT_FOUND)
        await self._conf_change(ConfChange(ConfChangeType.REMOVE_NODE, member_id))

    async def member_update(self, member_id: int, peer_urls: list[str]) -> None:
        """New peer URLs for a member (etcd's MemberUpdate): a conf change of the same kind,
        which the core applies as a no-op and the engine as a new address for the peer."""
        if not self.is_leader():
            # checked by the leader: this member may not have applied a recent MemberAdd
            from aetcd.rpc import rpc_pb2

            req = rpc_pb2.MemberUpdateRequest(ID=member_id, peerURLs=peer_urls)
            await self._forward_cluster("MemberUpdate", req)
            return
        cs = self.node.conf_state()
        if member_id not in cs.members():
            raise MembershipError("NOT_FOUND", MEMBER_NOT_FOUND)
        urls = tuple(peer_urls)
        for nid, p in sorted(self.peers.items()):
            if nid != member_id and set(p.peer_urls) & set(urls):
                raise MembershipError("FAILED_PRECONDITION", "etcdserver: Peer URLs already exists")
        old = self.peers.get(member_id) or PeerInfo(member_id, "", ())
        info = PeerInfo(member_id, old.name, urls, old.client_urls)
        if member_id in cs.learners:
            kind = ConfChangeType.ADD_LEARNER
        elif self.node.is_witness(member_id):
            kind = ConfChangeType.ADD_WITNESS
        else:
            kind = ConfChangeType.ADD_VOTER
        await self._conf_change(ConfChange(kind, member_id, info.encode()))

    async def member_promote(self, member_id: int) -> None:
        if not self.is_leader():  # checked by the leader (this member may lag behind)
            from aetcd.rpc import rpc_pb2

            await self._forward_cluster("MemberPromote", rpc_pb2.MemberPromoteRequest(ID=member_id))
            return
        cs = self.node.conf_state()
        if member_id not in cs.members():
            raise MembershipError("NOT_FOUND", MEMBER_NOT_FOUND)
        if member_id not in cs.learners:
            raise MembershipError(
                "FAILED_PRECONDITION", "etcdserver: can only promote a learner member"
            )
        match = {p.id: p.match for p in self.node.status().progress}
        if match.get(member_id, 0) * 10 < self.node.log.committed * 9:
            raise MembershipError(
                "FAILED_PRECONDITION",
                "etcdserver: can only promote a learner member which is in sync with leader",
            )
        info = self.peers.get(member_id) or PeerInfo(member_id, "", ())
        await self._conf_change(ConfChange(ConfChangeType.ADD_VOTER, member_id, info.encode()))

    async def move_leader(self, target: int) -> None:
        if not self.is_leader():
            raise StoreUnavailable("etcdserver: not leader")
        self.node.transfer_leader(target)
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READ_TIMEOUT_S
        while self._lead != target:
            if loop.time() > deadline:
                raise StoreUnavailable(
                    "etcdserver: request timed out, leader transfer took too long"
                )
            await asyncio.sleep(self.tick_s)
