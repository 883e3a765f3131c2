"""TLS like etcd's: client-certificate authentication on the client and the peer ports.

A builtin member started by ``hactl store up --tls``: a client with a certificate from
the cluster CA works (our stubs and Debian's etcdctl); a client without one, a plaintext
client, raw garbage on the peer port and a peer batch naming another cluster are all
refused, and the member keeps serving.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G
from storekit import hactl

from reconciler._proto import peer_pb2, peer_pb2_grpc

pytestmark = [pytest.mark.slow]

PORT = 23960


@pytest.fixture(scope="module")
def tls_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("store-tls")
    out = hactl("store", "up", "--members", "1", "--dir", str(d), "--tls", "--base-port", str(PORT))
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        yield d
    finally:
        hactl("store", "down", "--dir", str(d), "--grace", "1")


def _creds(d: Path, with_cert: bool = True) -> grpc.ChannelCredentials:
    tls = d / "tls"
    if not with_cert:
        return grpc.ssl_channel_credentials(root_certificates=(tls / "ca.crt").read_bytes())
    return grpc.ssl_channel_credentials(
        root_certificates=(tls / "ca.crt").read_bytes(),
        private_key=(tls / "client.key").read_bytes(),
        certificate_chain=(tls / "client.crt").read_bytes(),
    )


def _alive(d: Path) -> None:
    pid = int((d / "m1.pid").read_text())
    os.kill(pid, 0)
    with grpc.secure_channel(f"127.0.0.1:{PORT}", _creds(d)) as ch:
        G.KVStub(ch).Put(R.PutRequest(key=b"alive", value=b"yes"), timeout=5)


def test_client_with_certificate_works(tls_store: Path) -> None:
    with grpc.secure_channel(f"127.0.0.1:{PORT}", _creds(tls_store)) as ch:
        G.KVStub(ch).Put(R.PutRequest(key=b"k", value=b"v"), timeout=5)
        assert G.KVStub(ch).Range(R.RangeRequest(key=b"k"), timeout=5).kvs[0].value == b"v"


@pytest.mark.skipif(shutil.which("etcdctl") is None, reason="Debian's etcd-client is not installed")
def test_etcdctl_with_certificate_works(tls_store: Path) -> None:
    tls = tls_store / "tls"
    out = subprocess.run(
        ["etcdctl", f"--endpoints=https://127.0.0.1:{PORT}", f"--cacert={tls / 'ca.crt'}",
         f"--cert={tls / 'client.crt'}", f"--key={tls / 'client.key'}", "endpoint", "health"],
        capture_output=True, text=True, env=dict(os.environ, ETCDCTL_API="3"), timeout=30,
    )  # fmt: skip
    assert out.returncode == 0 and "is healthy" in out.stdout + out.stderr, out.stderr


def test_client_without_certificate_is_refused(tls_store: Path) -> None:
    with grpc.secure_channel(f"127.0.0.1:{PORT}", _creds(tls_store, with_cert=False)) as ch:
        with pytest.raises(grpc.RpcError) as exc:
            G.KVStub(ch).Range(R.RangeRequest(key=b"k"), timeout=3)
        assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(f"127.0.0.1:{PORT}") as ch, pytest.raises(grpc.RpcError):
        G.KVStub(ch).Range(R.RangeRequest(key=b"k"), timeout=3)
    _alive(tls_store)


def test_garbage_and_wrong_cluster_on_the_peer_port_are_refused(tls_store: Path) -> None:
    for junk in [b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n", os.urandom(4096)]:
        with socket.create_connection(("127.0.0.1", PORT + 1), timeout=3) as s:
            s.sendall(junk)
            s.settimeout(2)
            with contextlib.suppress(TimeoutError, ConnectionError):
                s.recv(100)
    with grpc.secure_channel(f"127.0.0.1:{PORT + 1}", _creds(tls_store)) as ch:
        stub = peer_pb2_grpc.PeerStub(ch)
        replies = list(stub.Raft(iter([peer_pb2.Batch(cluster_id=12345, frm=1)]), timeout=5))
        assert [r.reason for r in replies] == ["cluster id mismatch"]
    deadline = time.monotonic() + 5
    log = (tls_store / "m1.log").read_text()
    while "refused Raft batch" not in log and time.monotonic() < deadline:
        time.sleep(0.05)
        log = (tls_store / "m1.log").read_text()
    assert "refused Raft batch" in log and "cluster id" in log
    _alive(tls_store)
