"""A builtin store member as an OS process, with etcd's flag names.

``python -m reconciler.daemon.store_main --name m1 --data-dir D --listen-client-urls
http://127.0.0.1:23001 --listen-peer-urls http://127.0.0.1:23002 --initial-cluster
m1=http://127.0.0.1:23002,...`` -- what ``hactl store up`` runs for every member.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import grpc

from reconciler._proto import peer_pb2_grpc
from reconciler.base.errors import ConfigError, HactlError
from reconciler.daemon.store_member import MemberConfig, StoreMember, cluster_id_of, member_id_of
from reconciler.daemon.store_peers import PeerInfo
from reconciler.daemon.store_raft import RaftEngine
from reconciler.persist.durable import RaftDisk
from reconciler.system.clock import SystemClock
from reconciler.transport.etcd_admin import add_etcd_services
from reconciler.transport.peer import GRPC_OPTIONS, PeerServicer
from reconciler.transport.tls import TlsFiles

log = logging.getLogger("hactl.store")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hactl-store-member")
    p.add_argument("--name", required=True)
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--listen-client-urls", required=True)
    p.add_argument("--advertise-client-urls", default="")
    p.add_argument("--listen-peer-urls", required=True)
    p.add_argument("--initial-advertise-peer-urls", default="")
    p.add_argument("--initial-cluster", required=True)
    p.add_argument("--initial-cluster-token", default="hactl-store")
    p.add_argument(
        "--initial-cluster-clients",
        default="",
        help="name=client-url,... of the founders (ours: shown by MemberList before they speak)",
    )
    p.add_argument("--initial-cluster-state", default="new", choices=["new", "existing"])
    p.add_argument("--heartbeat-interval", type=int, default=100, help="ms per Raft tick")
    p.add_argument(
        "--election-timeout",
        type=int,
        default=int(os.environ.get("HACTL_STORE_ELECTION_MS", "500")),
        help="ms (etcd: 1000)",
    )
    p.add_argument("--quota-backend-bytes", type=int, default=2 * 1024**3)
    p.add_argument("--snapshot-count", type=int, default=100_000, help="entries between snapshots")
    p.add_argument("--progress-notify-interval", type=float, default=600.0, help="seconds")
    p.add_argument("--cert-file")
    p.add_argument("--key-file")
    p.add_argument("--trusted-ca-file")
    p.add_argument("--client-cert-auth", action="store_true")
    p.add_argument("--peer-cert-file")
    p.add_argument("--peer-key-file")
    p.add_argument("--peer-trusted-ca-file")
    p.add_argument("--peer-client-cert-auth", action="store_true")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def _hostport(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def _tls(cert: str | None, key: str | None, ca: str | None, auth: bool) -> TlsFiles | None:
    if not cert:
        return None
    if not key or not ca:
        raise ConfigError("TLS needs the certificate, key and trusted CA files together")
    return TlsFiles(Path(cert), Path(key), Path(ca), auth)


async def serve(
    args: argparse.Namespace, on_engine: Callable[[RaftEngine], None] | None = None
) -> None:
    """Run one member until SIGTERM; ``on_engine`` receives its Raft engine once it runs
    (hacd's two-node guard watches and, after a fencing, forces it)."""
    founders: list[PeerInfo] = []
    token = args.initial_cluster_token
    for item in args.initial_cluster.split(","):
        name, _, url = item.partition("=")
        if not name or not url:
            raise ConfigError(f"--initial-cluster: {item!r} is not name=peer-url")
        founders.append(PeerInfo(member_id_of(name, token), name, (url,)))
    me = next((f for f in founders if f.name == args.name), None)
    if me is None:
        raise ConfigError(f"--initial-cluster does not name this member ({args.name})")
    client_urls = tuple((args.advertise_client_urls or args.listen_client_urls).split(","))
    clients = {me.name: client_urls}
    for item in filter(None, args.initial_cluster_clients.split(",")):
        name, _, url = item.partition("=")
        clients.setdefault(name, (url,))
    founders = [PeerInfo(f.id, f.name, f.peer_urls, clients.get(f.name, ())) for f in founders]
    cid = cluster_id_of([f.name for f in founders], token)
    cfg = MemberConfig(
        name=args.name,
        cluster_token=token,
        cluster_id=cid,
        member_id=me.id,
        quota_bytes=args.quota_backend_bytes,
        lease_extend_s=args.election_timeout / 1000.0,
    )
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    member = StoreMember(cfg, SystemClock(), rng)
    peer_tls = _tls(
        args.peer_cert_file,
        args.peer_key_file,
        args.peer_trusted_ca_file,
        args.peer_client_cert_auth,
    )
    client_tls = _tls(args.cert_file, args.key_file, args.trusted_ca_file, args.client_cert_auth)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    disk = RaftDisk(args.data_dir / "raft")
    storage = disk.open()
    fresh = disk.fresh
    engine = RaftEngine(
        member,
        storage,
        rng,
        tick_s=args.heartbeat_interval / 1000.0,
        election_tick=max(2, args.election_timeout // args.heartbeat_interval),
        snapshot_count=max(1, args.snapshot_count),
        disk=disk,
        credentials=peer_tls.channel_credentials() if peer_tls else None,
    )
    member.engine = engine
    if fresh and args.initial_cluster_state == "new":
        engine.bootstrap(founders)
    # the founders' addresses are known from the flags even before their entries apply
    for f in founders:
        engine.peers.setdefault(f.id, f)

    async def lease_call(what: str, lease_id: int) -> int | None:
        if not engine.is_leader():
            return None
        if what == "keepalive":
            return await member.lease_keepalive(lease_id)
        return await member.lease_remaining(lease_id)

    peer_server = grpc.aio.server(options=GRPC_OPTIONS)
    peer_pb2_grpc.add_PeerServicer_to_server(  # type: ignore[no-untyped-call]
        PeerServicer(
            cid,
            me.id,
            engine.step,
            lease_call,
            engine.known_peer,
            stream_ended=engine.peer_stream_ended,
        ),
        peer_server,
    )
    for url in args.listen_peer_urls.split(","):
        if peer_tls:
            peer_server.add_secure_port(_hostport(url), peer_tls.server_credentials())
        else:
            peer_server.add_insecure_port(_hostport(url))
    client_server = grpc.aio.server(options=GRPC_OPTIONS)
    add_etcd_services(client_server, member, args.progress_notify_interval)
    for url in args.listen_client_urls.split(","):
        if client_tls:
            client_server.add_secure_port(_hostport(url), client_tls.server_credentials())
        else:
            client_server.add_insecure_port(_hostport(url))
    await peer_server.start()
    engine.start()
    if on_engine is not None:
        on_engine(engine)
    for f in founders:
        if f.id != me.id:
            engine.set_peer(f)
    await client_server.start()
    expiry = asyncio.get_running_loop().create_task(member.lease_expiry_loop())
    log.info("member %s (%x) of cluster %x serving %s", args.name, me.id, cid, client_urls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("member %s stopping", args.name)
    expiry.cancel()
    await client_server.stop(0.5)
    await engine.stop()
    await peer_server.stop(0.2)
    disk.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s {args.name} %(levelname)s %(name)s: %(message)s",
    )
    # gRPC's poller thread hands its events to the loop's thread through the GIL. A short
    # switch interval (0.2 ms was tried) forces a switch at nearly every hand-off: with
    # 16 clients on this loaded 2-core machine it cost 30-40% more CPU per write and
    # halved throughput, for no gain with one client. Python's default (5 ms) is kept.
    sys.setswitchinterval(float(os.environ.get("HACTL_SWITCH_INTERVAL", "0.005")))
    # garbage collection is set up by the engine (reconciler.daemon.store_gc)
    try:
        asyncio.run(serve(args))
    except HactlError as exc:
        print(f"hactl store member {args.name}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
