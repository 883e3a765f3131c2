"""One node's hacd: store client (or member), node agent, API server, and the coordinator.

The coordinator task exists only while this node holds the election key. The
node's liveness lease is also the election lease, so losing it stops all
coordinator work at once (the task is cancelled) and the node rejoins afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

# the scheduler is imported at start (about 1 s on a loaded machine), not in the first
# pass of a node that just became the coordinator, where it delayed every failover
import reconciler.daemon.scheduling  # noqa: F401
from reconciler.agents.attrd import AttributeUpdate
from reconciler.base.errors import ConfigError, StoreError
from reconciler.daemon import election, keys
from reconciler.daemon.api import Api
from reconciler.daemon.config import NodeConfig, tls_files
from reconciler.daemon.coordinator import Coordinator
from reconciler.daemon.events import EventLog
from reconciler.daemon.fencing_wait import watch_coordinator
from reconciler.daemon.node_agent import NodeAgent
from reconciler.daemon.runner import ExecutorRunner
from reconciler.gitops import config as gitops_config
from reconciler.gitops.storeport import PortOps, PortStore
from reconciler.gitops.watcher import run_watchers
from reconciler.statestore.etcd import Cmp, Delete, EtcdKv, Kv, Put, tls_credentials
from reconciler.system.clock import SystemClock
from reconciler.transport import agent_api, hactl_api
from reconciler.transport.tls import TlsFiles

if TYPE_CHECKING:
    from reconciler.daemon.store_raft import RaftEngine
    from reconciler.daemon.two_node import TwoNodeGuard

log = logging.getLogger("hacd")


class Hacd:
    def __init__(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        self.node_dir = cfg.node_state_dir()
        self.kv: Kv | None = None
        self.stopping = asyncio.Event()
        self.lease_lost = asyncio.Event()
        self._member: asyncio.Task[None] | None = None
        self._engine: RaftEngine | None = None  # the builtin member's (two-node guard)
        self._two_node: TwoNodeGuard | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._agent_creds: grpc.ChannelCredentials | None = None  # the coordinator's TLS

    async def _store(self) -> Kv:
        store = self.cfg.store
        creds = tls_credentials(store.ca_file, store.cert_file, store.key_file)
        if store.backend == "builtin":
            await self._start_member()
            endpoints = list(store.endpoints) or ([store.member.client] if store.member else [])
            if store.member is not None:  # this node's own member first: one hop fewer
                own = store.member.client
                endpoints = [own, *(e for e in endpoints if e != own)]
            return EtcdKv(endpoints, credentials=creds, prefer_first=True)
        return EtcdKv(list(store.endpoints), credentials=creds)

    async def _start_member(self) -> None:
        """Run this node's member of the builtin store inside hacd (same event loop)."""
        from reconciler.daemon import store_main

        store = self.cfg.store
        assert store.member is not None
        token = f"hactl-{self.cfg.cluster}"
        scheme = "https" if store.ca_file else "http"
        argv = [
            "--name", self.cfg.node,
            "--data-dir", str(Path(self.cfg.data_dir) / "store"),
            "--listen-client-urls", f"{scheme}://{store.member.client}",
            "--advertise-client-urls", f"{scheme}://{store.member.client}",
            "--listen-peer-urls", f"{scheme}://{store.member.peer}",
            "--initial-advertise-peer-urls", f"{scheme}://{store.member.peer}",
            "--initial-cluster",
            ",".join(f"{n}=http://{p}" for n, p in sorted(store.members.items())),
            "--initial-cluster-token", token,
            "--initial-cluster-clients",
            ",".join(f"{n}=http://{c}" for n, c in sorted(store.member_clients.items())),
        ]  # fmt: skip
        if store.ca_file and store.cert_file and store.key_file:
            tls = [store.cert_file, store.key_file, store.ca_file]
            argv += [
                "--cert-file", tls[0], "--key-file", tls[1], "--trusted-ca-file", tls[2],
                "--client-cert-auth",
                "--peer-cert-file", tls[0], "--peer-key-file", tls[1],
                "--peer-trusted-ca-file", tls[2], "--peer-client-cert-auth",
            ]  # fmt: skip
        args = store_main.parse_args(argv)
        self._member = asyncio.create_task(
            store_main.serve(args, on_engine=self._set_engine), name="store member"
        )
        host, _, port = store.member.client.rpartition(":")
        for _ in range(200):
            if self._member.done():
                self._member.result()  # raises what stopped it
            try:
                _, w = await asyncio.open_connection(host, int(port))
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # the member installs its signal handlers; ours go last

    def _tls(self) -> TlsFiles | None:
        return tls_files(self.cfg)

    def local_status(self) -> dict[str, Any]:
        """What this hacd knows without the store (the API's NodeStatus): its store
        member's role and leader, and the two-node guard's state and reason."""
        cfg = self.cfg
        store: dict[str, Any] = {"backend": cfg.store.backend}
        engine = self._engine
        if engine is not None:
            st = engine.node.status()
            names = {i: p.name for i, p in engine.peers.items()}
            store |= {
                "role": st.role.name.lower().replace("_", "-"),
                "leader": names.get(st.lead, str(st.lead)) if st.lead else "",
                "term": st.term,
                "voters": sorted(names.get(v, str(v)) for v in st.conf_state.voters),
            }
        out: dict[str, Any] = {"node": cfg.node, "cluster": cfg.cluster, "store": store}
        if cfg.two_node is not None:
            try:
                out["twoNode"] = json.loads((self.node_dir / "two-node.json").read_text())
            except (OSError, ValueError):
                out["twoNode"] = {"state": "not running"}
        return out

    def _attribute(self, update: AttributeUpdate) -> None:
        kv = self.kv
        if kv is None:
            return
        key = keys.attribute(self.cfg.node, update.name)

        async def write() -> None:
            with contextlib.suppress(StoreError):
                if update.value is None:
                    await kv.delete(key)
                else:
                    await kv.put(key, update.value.encode())

        t = asyncio.get_running_loop().create_task(write())
        self._pending.add(t)
        t.add_done_callback(self._pending.discard)

    async def run(self) -> None:
        cfg = self.cfg
        self.node_dir.mkdir(parents=True, exist_ok=True)
        (self.node_dir / "hacd.pid").write_text(f"{os.getpid()}\n")
        loop = asyncio.get_running_loop()
        self.kv = kv = await self._store()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        runner = ExecutorRunner(cfg.node, self.node_dir, on_attribute=self._attribute)
        await runner.start()
        guard = self._start_two_node(runner, kv)
        agent = NodeAgent(
            kv,
            node=cfg.node,
            address=cfg.listen,
            runner=runner,
            node_timeout=cfg.node_timeout,
            heartbeat=cfg.heartbeat,
            on_lease_lost=self.lease_lost.set,
            # two-node: noQuorumPolicy fence stops everything but does not exit, since the
            # guard must live to fence its peer (at a loss, both nodes would exit otherwise)
            exit_process=_stay if guard is not None else os._exit,
        )
        # no SO_REUSEPORT: a second hacd on a taken port fails instead of sharing it
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        tls = self._tls()
        self._agent_creds = tls.channel_credentials() if tls else None
        dispatchers = frozenset(cfg.nodes) if tls and tls.client_cert_auth else None
        agent_api.add_to_server(
            agent_api.AgentServicer(
                cfg.node, agent.execute, lambda: agent.highest_token, dispatchers
            ),
            server,
        )
        api = Api(kv, cfg.node, self.local_status)
        hactl_api.add_to_server(hactl_api.ApiServicer(api), server)
        if tls is None:
            server.add_insecure_port(cfg.listen)
        else:
            server.add_secure_port(cfg.listen, tls.server_credentials())
        await server.start()
        mode = "plaintext" if tls is None else "TLS"
        if tls is not None and tls.client_cert_auth:
            mode += ", client certificates from the cluster CA required"
        log.info("hacd %s listening on %s (%s)", cfg.node, cfg.listen, mode)
        fence_agent = cfg.fencing.agent if cfg.fencing else ""
        fence_params = dict(cfg.fencing.params) if cfg.fencing else {}
        if fence_agent and not fence_agent.startswith("stonith:"):
            fence_agent = "stonith:" + fence_agent
        try:
            while not self.stopping.is_set():
                await self._join(agent)
                self.lease_lost.clear()
                member = asyncio.create_task(
                    self._member_loop(agent, kv, fence_agent, fence_params)
                )
                stop = asyncio.create_task(self.stopping.wait())
                lost = asyncio.create_task(self.lease_lost.wait())
                await asyncio.wait({stop, lost}, return_when=asyncio.FIRST_COMPLETED)
                member.cancel()
                stop.cancel()
                lost.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await member
                if self.lease_lost.is_set() and not self.stopping.is_set():
                    log.error("lease lost: stopping coordinator work and rejoining")
        finally:
            log.info("hacd %s shutting down", cfg.node)
            if guard is not None:  # a node stopping must not fence its peer
                guard.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(agent.leave(stop_resources=True), 60)
            if self._two_node is not None:
                await self._two_node.leave()
            await server.stop(1)
            await runner.close()
            await kv.close()
            if self._member is not None:
                self._member.cancel()
                with contextlib.suppress(BaseException):
                    await self._member
            with contextlib.suppress(OSError):
                (self.node_dir / "hacd.pid").unlink()

    def _set_engine(self, engine: RaftEngine) -> None:
        self._engine = engine

    def _start_two_node(self, runner: ExecutorRunner, kv: Kv) -> asyncio.Task[None] | None:
        """``twoNode:`` with the builtin store: the guard (two_node + wait_for_all)."""
        two = self.cfg.two_node
        if two is None or self.cfg.fencing is None or self.cfg.store.backend != "builtin":
            return None  # store: etcd keeps its own quorum: the coordinator fences as usual
        if self._engine is None:
            log.error("two-node: this node's store member is not running: no guard")
            return None
        from reconciler.daemon.two_node import TwoNodeGuard

        peer = next(n for n in sorted(self.cfg.nodes) if n != self.cfg.node)
        agent = self.cfg.fencing.agent
        guard = TwoNodeGuard(
            self._engine,
            node=self.cfg.node,
            peer=peer,
            runner=runner,
            kv=kv,
            fence_agent=agent if agent.startswith("stonith:") else "stonith:" + agent,
            fence_params=self.cfg.fencing.params,
            fence_delay=two.fence_delay.get(peer, 0.0),
            loss_timeout=two.loss_timeout,
            wait_for_all=two.wait_for_all,
            status_file=self.node_dir / "two-node.json",
            confirm_file=self.node_dir / "two-node-confirm",
        )
        self._two_node = guard
        return asyncio.create_task(guard.run(), name="two-node guard")

    async def _join(self, agent: NodeAgent) -> None:
        while not self.stopping.is_set():
            try:
                await agent.join()
                return
            except StoreError as e:
                log.warning("cannot join yet: %s", e)
                await asyncio.sleep(0.5)

    async def _member_loop(
        self, agent: NodeAgent, kv: Kv, fence_agent: str, fence_params: dict[str, str]
    ) -> None:
        keeper = asyncio.create_task(agent.keep_alive())
        follower = asyncio.create_task(agent.follow_elections())
        # a coordinator whose hacd died (refused agent port) loses its lease at once
        dead_coord = asyncio.create_task(watch_coordinator(kv, self.cfg.node, self._agent_client()))
        try:
            while True:
                token = await election.campaign(kv, self.cfg.node, agent.lease)
                coord = Coordinator(
                    kv,
                    node=self.cfg.node,
                    token=token,
                    configured=sorted(self.cfg.nodes),
                    fence_agent=fence_agent,
                    fence_params=fence_params,
                    events=EventLog(kv, self.cfg.node),
                    planner=self.cfg.planner,
                    lease_ttl=self.cfg.node_timeout,
                    agents=self._agent_client(),
                )
                await self._lead(coord, kv, token)
                log.warning("no longer the coordinator")
                await asyncio.sleep(0.5)
        finally:
            keeper.cancel()
            follower.cancel()
            dead_coord.cancel()

    def _agent_client(self) -> agent_api.AgentClient:
        """The coordinator's client of the agents: with TLS, it presents this node's
        certificate (the agents accept only cluster nodes' certificates)."""
        return agent_api.AgentClient(self._agent_creds)

    async def _lead(self, coord: Coordinator, kv: Kv, token: int) -> None:
        """The coordinator's work, and the directory watchers (``syncs:``) beside it.

        Both stop together when leadership ends; every watcher transaction is guarded
        by the election key's revision (the fencing token), so a deposed coordinator's
        watcher cannot write.
        """
        if not self.cfg.syncs:
            await coord.run()
            return
        configs = [
            dataclasses.replace(
                gitops_config.from_mapping(entry, node=self.cfg.node, where=f"syncs[{i}]"),
                fence_key=keys.ELECTION,
                fence_revision=token,
            )
            for i, entry in enumerate(self.cfg.syncs)
        ]
        stop = asyncio.Event()
        watchers = asyncio.create_task(
            run_watchers(configs, PortStore(kv, PortOps(Cmp, Put, Delete)), SystemClock(), stop)
        )
        try:
            await coord.run()
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watchers, 10)


def _stay(code: int) -> None:
    log.warning("two-node: noQuorumPolicy fence applied without exiting (exit code %d)", code)


def serve(cfg: NodeConfig) -> None:
    logging.basicConfig(
        level=getattr(logging, cfg.log_level.upper(), logging.INFO),
        format=f"%(asctime)s {cfg.node} %(name)s %(levelname)s %(message)s",
    )
    Path(cfg.data_dir).mkdir(parents=True, exist_ok=True)
    try:
        tls_files(cfg)  # before anything starts
        asyncio.run(Hacd(cfg).run())
    except ConfigError as e:  # a certificate file missing or not PEM
        log.error("%s", e)
        sys.exit(2)
