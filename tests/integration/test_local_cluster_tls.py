"""``hactl cluster up --tls``: the local cluster with TLS everywhere, as etcd does it.

Real processes: ``hactl cluster up --nodes 3 --tls`` (builtin store, and etcd when
Debian's etcd-server is installed) writes a cluster CA, node certificates and hactl's admin
certificate, runs the store's client and peer ports and hacd's API/agent port over TLS
with client-certificate auth, and points the current context at the admin certificate:
plain ``hactl apply``/``get``/``status`` work. A plaintext client and a client whose
certificate another CA signed (made here with ``cryptography``) are refused on every port;
``hactl cluster down`` stops everything.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import yaml

from reconciler.daemon import localcluster
from reconciler.transport.certs import make_ca, make_cert

pytestmark = [pytest.mark.slow]

BASE_PORT = 28200  # node i: API 282i1, etcd 282i2/282i3, builtin member 282i4/282i5
HACTL = [sys.executable, "-m", "reconciler.cli.main"]
DUMMY = Path("/usr/lib/ocf/resource.d/pacemaker/Dummy")
RSC = """apiVersion: hactl.io/v1
kind: Resource
metadata: {name: tls-dummy}
spec:
  agent: ocf:pacemaker:Dummy
  operations:
    - {name: monitor, interval: 1s}
"""


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HACTL_")}
    return env | {"XDG_CONFIG_HOME": str(tmp / "config"), "HACTL_CLUSTER_DIR": str(tmp / "c")}


def _hactl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HACTL, *args], capture_output=True, text=True, env=env, timeout=90)


def _ready(targets: dict[str, grpc.ChannelCredentials | None], timeout: float) -> set[str]:
    """Which of ``{address: credentials}`` finish a connection (TLS handshake included)
    within ``timeout`` seconds, all tried at once."""
    chans = {
        a: grpc.secure_channel(a, c) if c is not None else grpc.insecure_channel(a)
        for a, c in targets.items()
    }
    futs = {a: grpc.channel_ready_future(ch) for a, ch in chans.items()}
    ok: set[str] = set()
    deadline = time.monotonic() + timeout
    for a, f in sorted(futs.items()):
        try:
            f.result(timeout=max(0.01, deadline - time.monotonic()))
            ok.add(a)
        except grpc.FutureTimeoutError:
            f.cancel()
    for ch in chans.values():
        ch.close()
    return ok


def _tls_accepts(address: str, ca: Path, cert: Path | None, key: Path | None) -> bool:
    """A raw TLS connection (the peer ports: etcd's is not gRPC) with this client
    certificate: True if the server keeps it open, False if it refuses it (an alert or
    a close once the handshake is done; TLS 1.3 reports a refused certificate then)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                s.settimeout(2.0)
                try:
                    return s.recv(1) != b""  # a server that speaks first accepted us
                except TimeoutError:
                    return True  # waiting for our request: accepted
        except (ssl.SSLError, ConnectionError):
            return False


@pytest.mark.parametrize("backend", ["builtin", "etcd"])
def test_cluster_up_tls_apply_refuses_strangers_down(tmp_path: Path, backend: str) -> None:
    if not DUMMY.exists():
        pytest.skip("pacemaker-resource-agents (ocf:pacemaker:Dummy) is not installed")
    if backend == "etcd" and shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed (make install as root)")
    env = _env(tmp_path)
    d = tmp_path / "c"
    base = BASE_PORT + (0 if backend == "builtin" else 50)
    up = _hactl(env, "cluster", "up", "--nodes", "3", "--tls", "--store", backend,
                "--base-port", str(base), "--timeout", "45")  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        lay = localcluster.load_layout(d)
        assert lay.tls
        assert not (d / "servers").exists(), "a plaintext hint for a TLS cluster"
        ctx = yaml.safe_load((tmp_path / "config" / "hactl" / "contexts.yaml").read_text())
        assert ctx["current"] == "local"
        assert ctx["contexts"]["local"]["clientCertificate"] == str(d / "tls" / "admin.crt")

        # plain hactl, through the context and the admin certificate
        (tmp_path / "rsc.yaml").write_text(RSC)
        out = _hactl(env, "apply", "-f", str(tmp_path / "rsc.yaml"))
        assert out.returncode == 0, out.stdout + out.stderr
        deadline = time.monotonic() + 30
        while True:
            got = _hactl(env, "get", "resources")
            line = next((x for x in got.stdout.splitlines() if x.startswith("tls-dummy")), "")
            if got.returncode == 0 and " Started " in line and "node" in line:
                break
            assert time.monotonic() < deadline, got.stdout + got.stderr
            time.sleep(0.2)
        st = _hactl(env, "status")
        assert st.returncode == 0 and "3 nodes configured, 3 online" in st.stdout, st.stdout

        # every port of node1: the admin certificate connects, strangers do not
        ports = [lay.api(0), lay.etcd_client(0) if backend == "etcd" else lay.member_client(0)]
        peer = lay.etcd_peer(0) if backend == "etcd" else lay.member_peer(0)
        ca = (d / "tls" / "ca.crt").read_bytes()
        admin = grpc.ssl_channel_credentials(
            ca, (d / "tls" / "admin.key").read_bytes(), (d / "tls" / "admin.crt").read_bytes()
        )
        assert _ready(dict.fromkeys(ports, admin), 20) == set(ports)
        make_ca(tmp_path / "foreign", "not the cluster CA")
        make_cert(tmp_path / "foreign", "admin", ["admin", "127.0.0.1"])
        foreign = grpc.ssl_channel_credentials(
            ca,
            (tmp_path / "foreign" / "admin.key").read_bytes(),
            (tmp_path / "foreign" / "admin.crt").read_bytes(),
        )
        assert _ready(dict.fromkeys(ports, foreign), 3) == set(), "a foreign certificate"
        assert _ready(dict.fromkeys(ports, None), 3) == set(), "a plaintext client"
        tls = d / "tls"
        assert _tls_accepts(peer, tls / "ca.crt", tls / "node2.crt", tls / "node2.key")
        assert not _tls_accepts(peer, tls / "ca.crt", None, None), "peer port: no certificate"
        f = tmp_path / "foreign"
        assert not _tls_accepts(peer, tls / "ca.crt", f / "admin.crt", f / "admin.key")
        plain = _hactl(env, "status", "--server", lay.api(0))
        assert plain.returncode == 3 and "TLS" in plain.stderr, plain.stderr
        stranger = _hactl(
            env, "status", "--server", lay.api(0),
            "--certificate-authority", str(d / "tls" / "ca.crt"),
            "--client-certificate", str(tmp_path / "foreign" / "admin.crt"),
            "--client-key", str(tmp_path / "foreign" / "admin.key"),
        )  # fmt: skip
        assert stranger.returncode == 3, stranger.stdout + stranger.stderr
    finally:
        down = _hactl(env, "cluster", "down")
    assert down.returncode == 0, down.stdout + down.stderr
    lay = localcluster.load_layout(d)
    pidfiles = [lay.pidfile(n) for n in lay.nodes] + [d / "etcd" / f"{n}.pid" for n in lay.nodes]
    for f in pidfiles:
        pid = localcluster.read_pid(f)
        if pid is not None:
            assert not Path(f"/proc/{pid}").exists(), f"{f}: {pid} still running"
