"""The NOSPACE alarm, both backends: past ``--quota-backend-bytes`` writes fail with etcd's
error, the alarm is listed (and shown by Status), deletes still work, lease grants don't."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from aetcd.rpc import rpc_pb2 as R
from aetcd.rpc import rpc_pb2_grpc as G
from storekit import hactl

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

PORTS = {"etcd": 23980, "builtin": 23984}
NOSPACE = "etcdserver: mvcc: database space exceeded"


@pytest.fixture(params=["etcd", "builtin"])
def endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    backend = request.param
    if backend == "etcd" and shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed")
    out = hactl("store", "up", "--members", "1", "--dir", str(tmp_path), "--backend", backend,
                "--base-port", str(PORTS[backend]), "--quota-backend-bytes", "262144")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        yield out.stdout.strip()
    finally:
        hactl("store", "down", "--dir", str(tmp_path), "--grace", "1")


def test_quota_raises_nospace(endpoint: str) -> None:
    with grpc.insecure_channel(endpoint) as ch:
        kv = G.KVStub(ch)
        failed_at = None
        # etcd checks the quota against its bbolt file size, which grows only at a backend
        # commit (every 100 ms): on a fast machine 100 puts can all land before the first one,
        # so keep writing (up to 20 MB) until the refusal comes
        for i in range(2000):
            try:
                kv.Put(R.PutRequest(key=b"/q/%03d" % i, value=b"x" * 10_000), timeout=10)
            except grpc.RpcError as e:
                assert (e.code(), e.details()) == (grpc.StatusCode.RESOURCE_EXHAUSTED, NOSPACE)
                failed_at = i
                break
        # etcd counts bbolt pages, we count stored bytes: both refuse somewhere past the quota
        assert failed_at is not None and failed_at > 10, failed_at
        with pytest.raises(grpc.RpcError) as exc:
            kv.Put(R.PutRequest(key=b"/q/more", value=b"y"), timeout=10)
        assert exc.value.details() == NOSPACE
        alarms = G.MaintenanceStub(ch).Alarm(R.AlarmRequest(action=R.AlarmRequest.GET), timeout=10)
        assert [a.alarm for a in alarms.alarms] == [R.NOSPACE]
        st = G.MaintenanceStub(ch).Status(R.StatusRequest(), timeout=10)
        assert [e.endswith("alarm:NOSPACE ") for e in st.errors] == [True]
        assert kv.DeleteRange(R.DeleteRangeRequest(key=b"/q/001"), timeout=10).deleted == 1
        with pytest.raises(grpc.RpcError) as exc:
            G.LeaseStub(ch).LeaseGrant(R.LeaseGrantRequest(TTL=10), timeout=10)
        assert exc.value.details() == NOSPACE
