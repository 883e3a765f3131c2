"""The store port over TLS with every member's endpoint: a TLS name per member.

A channel over several addresses gives them all one name, and TLS checks each member's
certificate against it ("Hostname Verification Check failed"). The port dials each
member by its own address instead: all endpoints work, and with the first member killed
the others keep serving.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from storekit import hactl

from reconciler.base.errors import StoreError
from reconciler.statestore.etcd import EtcdKv, tls_credentials

pytestmark = [pytest.mark.slow]

PORT = 23990


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("store-tls3")
    out = hactl("store", "up", "--members", "3", "--dir", str(d), "--tls", "--base-port", str(PORT))
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        yield d
    finally:
        hactl("store", "down", "--dir", str(d), "--grace", "1")


def _kv(d: Path, prefer_first: bool) -> EtcdKv:
    tls = d / "tls"
    creds = tls_credentials(str(tls / "ca.crt"), str(tls / "client.crt"), str(tls / "client.key"))
    endpoints = (d / "endpoints").read_text().strip().split(",")
    assert len(endpoints) == 3
    return EtcdKv(endpoints, timeout=3.0, credentials=creds, prefer_first=prefer_first)


def test_every_endpoint_over_tls_then_one_member_killed(tls_cluster: Path) -> None:
    async def go() -> None:
        for prefer_first in (False, True):
            kv = _kv(tls_cluster, prefer_first)
            try:
                for i in range(6):  # round robin visits every member
                    await kv.put(f"/tls/{prefer_first}/{i}", b"v")
                    got = await kv.get(f"/tls/{prefer_first}/{i}")
                    assert got is not None and got.value == b"v"
            finally:
                await kv.close()
        os.kill(int((tls_cluster / "m1.pid").read_text()), signal.SIGKILL)
        kv = _kv(tls_cluster, prefer_first=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await kv.put("/tls/after", b"x")
                    break
                except StoreError:
                    assert time.monotonic() < deadline, "no member answered after m1 died"
                    await asyncio.sleep(0.2)
            got = await kv.get("/tls/after")
            assert got is not None and got.value == b"x"
        finally:
            await kv.close()

    asyncio.run(go())


def test_hactl_sync_over_tls(tls_cluster: Path, tmp_path: Path) -> None:
    tls = tls_cluster / "tls"
    eps = (tls_cluster / "endpoints").read_text().strip()
    site = tmp_path / "site"
    site.mkdir()
    (site / "dummy.yaml").write_text(
        "apiVersion: hactl.io/v1\nkind: Resource\nmetadata: {name: d1}\n"
        "spec: {agent: 'ocf:pacemaker:Dummy'}\n"
    )
    certs = ["--cacert", str(tls / "ca.crt"), "--cert", str(tls / "client.crt")]
    certs += ["--key", str(tls / "client.key")]
    out = hactl("sync", str(site), "--once", "--endpoints", eps, *certs)
    assert out.returncode == 0, out.stdout + out.stderr
    listed = hactl("sync", "--list", "-o", "json", "--endpoints", eps, *certs)
    assert listed.returncode == 0 and '"site"' in listed.stdout, listed.stdout + listed.stderr
    plain = hactl("sync", "--list", "--endpoints", eps)  # no certificate: refused
    assert plain.returncode != 0
    half = hactl("sync", "--list", "--endpoints", eps, "--cert", str(tls / "client.crt"))
    assert half.returncode == 2 and "--key" in half.stderr, half.stderr
