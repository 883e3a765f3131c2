"""A write sent to a follower while the leader is gone is answered at the leader change.

The follower forwards the proposal to the leader it knows. With that leader stopped the
proposal is lost (or, if the old leader had passed it on, committed later by the next
one), so no answer would ever come from where it went: the client used to wait out the
whole request timeout (5 s), and a new coordinator writing through its own member waited
that long before fencing the node it had just lost. The member now fails such a write
as indeterminate ("etcdserver: leader changed", UNAVAILABLE) when it learns of another
leader, and the client retries at once. This differs from etcd, which waits out its
request timeout (docs/store.md).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import grpc
import pytest
from aetcd.rpc import rpc_pb2, rpc_pb2_grpc
from storekit import hactl, start_store, wait_leader

pytestmark = [pytest.mark.slow]

PORT = 23940


def test_a_write_forwarded_to_a_stopped_leader_fails_at_the_leader_change(
    tmp_path: Path,
) -> None:
    store = start_store("builtin", tmp_path, 3, PORT)
    lead_pid = 0
    try:
        lead = wait_leader(store.endpoints)
        follower = store.endpoints[(lead + 1) % 3]
        with grpc.insecure_channel(follower) as ch:
            kv = rpc_pb2_grpc.KVStub(ch)
            kv.Put(rpc_pb2.PutRequest(key=b"fw/warm", value=b"1"), timeout=10)
            lead_pid = int((tmp_path / f"m{lead + 1}.pid").read_text())
            os.kill(lead_pid, signal.SIGSTOP)  # its sockets stay open: the forward vanishes
            sent = time.monotonic()
            try:
                kv.Put(rpc_pb2.PutRequest(key=b"fw/k", value=b"2"), timeout=30)
                outcome = "ok"
            except grpc.RpcError as exc:
                outcome = f"{exc.code().name}: {exc.details()}"
            took = time.monotonic() - sent
            print(f"answer after {took:.2f} s: {outcome}")
            # answered by the leader change, not by the 5 s request timeout
            assert outcome in ("ok", "UNAVAILABLE: etcdserver: leader changed"), outcome
            # the client's retry goes through the new leader
            deadline = time.monotonic() + 20
            while True:
                try:
                    kv.Put(rpc_pb2.PutRequest(key=b"fw/k", value=b"3"), timeout=2)
                    break
                except grpc.RpcError as exc:
                    assert time.monotonic() < deadline, f"no write after the election: {exc}"
                    time.sleep(0.05)
            got = kv.Range(rpc_pb2.RangeRequest(key=b"fw/k"), timeout=10)
            assert got.kvs[0].value == b"3"
    finally:
        if lead_pid:
            os.kill(lead_pid, signal.SIGCONT)
        hactl("store", "down", "--dir", str(tmp_path), "--grace", "1")
