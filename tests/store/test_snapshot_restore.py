"""`etcdctl snapshot save` -> restore, for both backends.

Real etcd: `etcdctl snapshot save` then `etcdctl snapshot restore` (the oracle: the
restored cluster serves the same keys, values and revisions). Builtin: `etcdctl snapshot
save` works against our members, but `etcdctl snapshot restore` reads only etcd's bbolt
format (checked here: it refuses our file), so `hactl store restore` restores it into a
new cluster directory and `hactl store up` starts it; the restored cluster must serve
the same keys, values, revisions, compaction point and leases. An etcd snapshot given to
`hactl store restore` is refused with a message naming the way to restore it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G
from storekit import hactl

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

PORTS = {"builtin": 23600, "etcd": 23620}  # restored clusters: +40
DEADLINE_S = 60.0


def _etcdctl(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ETCDCTL_API="3")
    return subprocess.run(["etcdctl", *args], capture_output=True, text=True, env=env, timeout=60)


def _dump(endpoint: str) -> list[tuple[bytes, bytes, int, int, int, bool]]:
    with grpc.insecure_channel(endpoint) as ch:
        r = G.KVStub(ch).Range(R.RangeRequest(key=b"/r/", range_end=b"/r0"), timeout=10)
    return [
        (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease != 0)
        for kv in r.kvs
    ]


def _up(directory: Path, backend: str, port: int) -> list[str]:
    out = hactl("store", "up", "--members", "3", "--dir", str(directory),
                "--backend", backend, "--base-port", str(port))  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().split(",")


def _fill(endpoint: str) -> tuple[int, list[Any]]:
    with grpc.insecure_channel(endpoint) as ch:
        kv, lease = G.KVStub(ch), G.LeaseStub(ch)
        for n in range(30):
            kv.Put(R.PutRequest(key=b"/r/k%02d" % n, value=b"v%d" % n), timeout=10)
        for n in range(10):
            kv.Put(R.PutRequest(key=b"/r/k%02d" % n, value=b"w%d" % n), timeout=10)
        kv.DeleteRange(R.DeleteRangeRequest(key=b"/r/k29"), timeout=10)
        lid = lease.LeaseGrant(R.LeaseGrantRequest(TTL=600), timeout=10).ID
        rev = kv.Put(R.PutRequest(key=b"/r/leased", value=b"l", lease=lid), timeout=10)
        kv.Compact(R.CompactionRequest(revision=rev.header.revision - 5, physical=True))
        return lid, _dump(endpoint)


@pytest.mark.parametrize("backend", ["etcd", "builtin"])
def test_snapshot_save_then_restore(backend: str, tmp_path: Path) -> None:
    if shutil.which("etcd") is None or shutil.which("etcdctl") is None:
        pytest.skip("Debian's etcd-server and etcd-client are needed")
    src, dst = tmp_path / "src", tmp_path / "dst"
    endpoints = _up(src, backend, PORTS[backend])
    try:
        lid, before = _fill(endpoints[0])
        snap = tmp_path / "snap.db"
        out = _etcdctl(f"--endpoints={endpoints[0]}", "snapshot", "save", str(snap))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Snapshot saved" in out.stdout + out.stderr
    finally:
        hactl("store", "down", "--dir", str(src), "--grace", "1")
    restored_port = PORTS[backend] + 40
    if backend == "etcd":
        peers = ",".join(f"m{i + 1}=http://127.0.0.1:{restored_port + 2 * i + 1}" for i in range(3))
        # the oracle: etcd restores its own file with etcdctl, one data dir per member
        for i in range(3):
            out = _etcdctl("snapshot", "restore", str(snap), f"--name=m{i + 1}",
                           f"--data-dir={dst / f'm{i + 1}'}", f"--initial-cluster={peers}",
                           "--initial-cluster-token=restored",
                           f"--initial-advertise-peer-urls=http://127.0.0.1:{restored_port + 2 * i + 1}")  # fmt: skip
            assert out.returncode == 0, out.stdout + out.stderr
        layout = {"backend": "etcd", "members": 3, "base_port": restored_port}
        (dst / "store.json").write_text(json.dumps({**layout, "token": "restored"}) + "\n")
        # and our restore refuses etcd's file, naming the way to restore it
        out = hactl("store", "restore", "--snapshot", str(snap), "--dir", str(tmp_path / "x"))
        assert out.returncode == 2
        assert "etcdctl snapshot restore" in out.stderr, out.stderr
    else:
        out = _etcdctl("snapshot", "restore", str(snap), f"--data-dir={tmp_path / 'etcd-x'}")
        assert out.returncode != 0  # etcdctl reads only bbolt files
        out = hactl("store", "restore", "--snapshot", str(snap), "--dir", str(dst),
                    "--members", "3", "--base-port", str(restored_port))  # fmt: skip
        assert out.returncode == 0, out.stderr
        again = hactl("store", "restore", "--snapshot", str(snap), "--dir", str(dst))
        assert again.returncode == 2 and "already holds a store" in again.stderr
        bad = tmp_path / "bad.db"
        bad.write_bytes(snap.read_bytes()[:-100])
        out = hactl("store", "restore", "--snapshot", str(bad), "--dir", str(tmp_path / "y"))
        assert out.returncode == 2 and "not a builtin store snapshot" in out.stderr, out.stderr
        assert not (tmp_path / "y" / "store.json").exists()
    try:
        endpoints = _up(dst, backend, restored_port)
        deadline = time.monotonic() + DEADLINE_S
        for ep in endpoints:
            while _dump(ep) != before:
                assert time.monotonic() < deadline, (ep, _dump(ep), before)
                time.sleep(0.1)
        with grpc.insecure_channel(endpoints[1]) as ch:
            kv = G.KVStub(ch)
            ttl = G.LeaseStub(ch).LeaseTimeToLive(R.LeaseTimeToLiveRequest(ID=lid), timeout=10)
            assert ttl.TTL > 0 and ttl.grantedTTL == 600
            # the restored cluster takes writes, continuing the revisions
            top = max(b[3] for b in before)
            assert kv.Put(R.PutRequest(key=b"/r/new", value=b"n"), timeout=10).header.revision > top
    finally:
        hactl("store", "down", "--dir", str(dst), "--grace", "1")
