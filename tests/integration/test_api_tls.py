"""TLS on hacd's own port (hactl API + node agent service), as etcd does it.

A real two-node cluster made by ``hactl cluster init --tls`` (the nodes on 127.0.0.1 and
127.0.0.2, ports moved into this module's range, certificate paths pointed at the test
directory), two real hacd processes with their builtin store members, real agents:

- hactl with the admin certificate from the generated context works, the coordinator
  dispatches a real start to an agent over TLS with its node certificate;
- hactl without TLS, with the CA but no client certificate, or with a certificate from
  another CA is refused (exit 3, a hint), and the node logs the refused handshake;
- a client certificate from the cluster CA that is not a node's cannot dispatch actions;
- garbage on the port does not crash hacd;
- a config naming a missing certificate file is refused at start with the field named.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.controller.dispatch import Action
from reconciler.daemon import localcluster
from reconciler.transport.agent_api import AgentClient
from reconciler.transport.tls import TlsFiles, client_credentials

pytestmark = [pytest.mark.slow]

BASE_PORT = 25300  # API 25300/25301... per node; store client 253x2, peer 253x3
NODES = {"n1": "127.0.0.1", "n2": "127.0.0.2"}
HACTL = [sys.executable, "-m", "reconciler.cli.main"]
DUMMY = Path("/usr/lib/ocf/resource.d/pacemaker/Dummy")


@dataclass
class TlsCluster:
    d: Path
    context: str
    env: dict[str, str]
    api: dict[str, str]
    pids: dict[str, int]

    def hactl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HACTL, *args], capture_output=True, text=True, env=self.env, timeout=timeout
        )

    def status(self) -> dict[str, Any] | None:
        out = self.hactl("status", "-o", "json", "--context", self.context, timeout=20)
        return json.loads(out.stdout) if out.returncode == 0 else None

    def wait(self, pred: Any, what: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.status()
            if v is not None and pred(v):
                return v
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}; last status: {v}")

    def admin_args(self) -> list[str]:
        tls = self.d / "tls"
        return [
            "--certificate-authority", str(tls / "ca.crt"),
            "--client-certificate", str(tls / "admin.crt"),
            "--client-key", str(tls / "admin.key"),
        ]  # fmt: skip

    def log(self, node: str) -> str:
        return (self.d / f"{node}.log").read_text(errors="replace")

    def alive(self, node: str) -> bool:
        try:
            os.kill(self.pids[node], 0)
        except ProcessLookupError:
            return False
        return True


def _configure(d: Path, env: dict[str, str]) -> str:
    args = [*HACTL, "cluster", "init", "--tls", "--dir", str(d), "--port", str(BASE_PORT)]
    for n, h in NODES.items():
        args += ["--node", f"{n}={h}"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    context = next(w for w in out.stdout.split() if w.startswith("hactl-")).rstrip(";")
    for n, h in NODES.items():
        cfg = yaml.safe_load((d / f"{n}.yaml").read_text())
        ports = {mh: (BASE_PORT + 10 * j + 2, BASE_PORT + 10 * j + 3)
                 for j, mh in enumerate(NODES.values())}  # fmt: skip
        store = cfg["store"]
        assert store["endpoints"] == [f"{mh}:2379" for mh in NODES.values()]
        store["endpoints"] = [f"{mh}:{ports[mh][0]}" for mh in NODES.values()]  # all, over TLS
        store["member"] = {"client": f"{h}:{ports[h][0]}", "peer": f"{h}:{ports[h][1]}"}
        store["members"] = {m: f"{mh}:{ports[mh][1]}" for m, mh in NODES.items()}
        store["memberClients"] = {m: f"{mh}:{ports[mh][0]}" for m, mh in NODES.items()}
        for section in (store, cfg["tls"]):
            for k in ("caFile", "certFile", "keyFile"):
                section[k] = str(d / "tls" / Path(section[k]).name)
        cfg["dataDir"] = str(d / n / "data")
        cfg["stateDir"] = str(d / "state")
        (d / f"{n}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return context


def _start(d: Path, node: str) -> int:
    with open(d / f"{node}.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler.daemon.main", "--config", str(d / f"{node}.yaml")],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    return proc.pid


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    if not DUMMY.exists():
        pytest.skip("pacemaker-resource-agents (ocf:pacemaker:Dummy) is not installed")
    d = tmp_path_factory.mktemp("api-tls")
    env = dict(os.environ, XDG_CONFIG_HOME=str(d / "xdg"), HACTL_CLUSTER_DIR=str(d / "none"))
    env.pop("HACTL_SERVER", None)
    context = _configure(d, env)
    api = {n: f"{h}:{BASE_PORT}" for n, h in NODES.items()}
    pids = {n: _start(d, n) for n in NODES}
    c = TlsCluster(d, context, env, api, pids)
    try:
        c.wait(
            lambda v: (
                sorted(n["name"] for n in v["nodes"] if n["state"] == "online") == sorted(NODES)
                and v["coordinator"]["node"] is not None
            ),
            "both nodes online and a coordinator",
            timeout=90,
        )
        yield c
    finally:
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
        for pid in pids.values():
            localcluster.stop_pid(pid, 15, 60)


def test_hactl_with_the_admin_certificate_and_a_start_dispatched_over_tls(
    tls_cluster: TlsCluster,
) -> None:
    c = tls_cluster
    (c.d / "rsc.yaml").write_text(
        "apiVersion: hactl.io/v1\nkind: Resource\nmetadata: {name: tls-dummy}\n"
        "spec:\n  agent: ocf:pacemaker:Dummy\n"
    )
    out = c.hactl("apply", "-f", str(c.d / "rsc.yaml"), "--context", c.context)
    assert out.returncode == 0, out.stdout + out.stderr
    v = c.wait(
        lambda v: any(
            r["name"] == "tls-dummy" and r["state"] == "Started" and r["nodes"]
            for r in v["resources"]
        ),
        "tls-dummy started",
    )
    rsc = next(r for r in v["resources"] if r["name"] == "tls-dummy")
    assert len(rsc["nodes"]) == 1 and rsc["nodes"][0] in NODES
    # the coordinator reached both agents: a probe on each node, the start on one
    ran = {(o["node"], o["operation"]) for o in rsc["operations"]}
    assert (rsc["nodes"][0], "start") in ran
    assert {n for n, _ in ran} == set(NODES), ran
    # the same with the files given on the command line, against each node
    for node, address in sorted(c.api.items()):
        out = c.hactl("get", "resources", "-o", "json", "--server", address, *c.admin_args())
        assert out.returncode == 0, f"{node}: {out.stderr}"
        assert [o["metadata"]["name"] for o in json.loads(out.stdout)["items"]] == ["tls-dummy"]


def _refused(c: TlsCluster, *tls_args: str) -> str:
    out = c.hactl("get", "nodes", "--server", c.api["n1"], *tls_args, timeout=30)
    assert out.returncode == 3, out.stdout + out.stderr
    return out.stderr


def test_clients_without_a_valid_certificate_are_refused(tls_cluster: TlsCluster) -> None:
    c = tls_cluster
    tls = c.d / "tls"
    before = c.log("n1").count("Handshake failed")
    err = _refused(c)  # plaintext
    assert "may serve TLS" in err
    err = _refused(c, "--certificate-authority", str(tls / "ca.crt"))  # no client cert
    assert "handshake" in err.lower()
    other = c.d / "other-ca"
    out = c.hactl("certs", "--dir", str(other), "--name", "intruder", "--host", "127.0.0.1")
    assert out.returncode == 0, out.stderr
    err = _refused(
        c, "--certificate-authority", str(tls / "ca.crt"),
        "--client-certificate", str(other / "intruder.crt"),
        "--client-key", str(other / "intruder.key"),
    )  # fmt: skip
    # and a client that trusts another CA does not accept hacd's certificate either
    _refused(c, "--certificate-authority", str(other / "ca.crt"))
    deadline = time.monotonic() + 10
    while c.log("n1").count("Handshake failed") < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert c.log("n1").count("Handshake failed") >= before + 3
    assert c.alive("n1") and c.status() is not None


def test_only_node_certificates_may_dispatch_actions(tls_cluster: TlsCluster) -> None:
    c = tls_cluster
    tls = c.d / "tls"
    # token 0: a node's certificate gets past the check and the agent then refuses the
    # stale token (a high token would make it refuse the real coordinator afterwards)
    action = Action(token=0, action_id="tls-probe", resource="tls-nothing",
                    operation="monitor", agent="ocf:pacemaker:Dummy", expected_rc=7)  # fmt: skip

    async def run(creds: Any) -> Any:
        client = AgentClient(creds)
        try:
            return await client.execute(c.api["n1"], action, 10)
        finally:
            await client.close()

    admin = client_credentials(tls / "ca.crt", tls / "admin.crt", tls / "admin.key")
    o = asyncio.run(run(admin))
    assert o.refused and "may not dispatch" in o.reason, o
    o = asyncio.run(run(client_credentials(tls / "ca.crt")))
    assert o.refused and "unreachable" in o.reason, o
    o = asyncio.run(run(None))
    assert o.refused and "unreachable" in o.reason, o
    assert "refused action tls-probe" in c.log("n1")
    assert c.alive("n1")
    node = TlsFiles(tls / "n2.crt", tls / "n2.key", tls / "ca.crt").channel_credentials()
    o = asyncio.run(run(node))
    assert o.refused and "stale fencing token" in o.reason, o


def test_garbage_on_the_port_does_not_crash_hacd(tls_cluster: TlsCluster) -> None:
    c = tls_cluster
    host, _, port = c.api["n2"].rpartition(":")
    junk = [
        b"\x00" * 64,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(512),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(300),  # a broken ClientHello
        os.urandom(8192),
    ]
    for data in junk:
        with socket.create_connection((host, int(port)), timeout=3) as s:
            with contextlib.suppress(OSError):
                s.sendall(data)
            s.settimeout(2)
            with contextlib.suppress(TimeoutError, OSError):
                s.recv(100)
    assert c.alive("n2")
    out = c.hactl("get", "nodes", "--server", c.api["n2"], *c.admin_args())
    assert out.returncode == 0, out.stderr


def test_a_missing_certificate_file_is_named_at_start(tls_cluster: TlsCluster) -> None:
    c = tls_cluster
    cfg = yaml.safe_load((c.d / "n1.yaml").read_text())
    cfg["tls"]["certFile"] = str(c.d / "missing.crt")
    bad = c.d / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    out = subprocess.run(
        [sys.executable, "-m", "reconciler.daemon.main", "--config", str(bad)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 2
    assert "tls.certFile" in out.stderr and "missing.crt" in out.stderr
    assert "Traceback" not in out.stderr
