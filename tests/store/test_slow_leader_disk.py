"""A leader whose disk is slow keeps its term (builtin store).

The leader's ready loop sends nothing more until its WAL write is durable (etcd's does
the same), so a slow fsync silenced it: fsyncs of 500-800 ms were seen on this machine's
busy shared disk, longer than the 500 ms election timeout leaves, and the followers
elected another leader. The leader now heartbeats while a write takes longer than a
tick. A slow disk on demand: ``HACTL_STORE_WAL_DELAY`` adds 800 ms to every WAL write of
one member (this machine has no delay device to slow a real disk); the followers' disks
stay fast.
"""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from aetcd.rpc import rpc_pb2, rpc_pb2_grpc
from storekit import hactl, start_store, wait_leader

pytestmark = [pytest.mark.slow]

PORT = 23500
DELAY_MS = 800


def _status(endpoint: str) -> rpc_pb2.StatusResponse:
    with grpc.insecure_channel(endpoint) as ch:
        return rpc_pb2_grpc.MaintenanceStub(ch).Status(rpc_pb2.StatusRequest(), timeout=5)


def test_a_leader_with_a_slow_disk_keeps_its_term(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HACTL_STORE_WAL_DELAY", f"m1={DELAY_MS}")
    store = start_store("builtin", tmp_path, 3, PORT)
    try:
        slow = store.endpoints[0]  # m1
        slow_id = _status(slow).header.member_id
        deadline = time.monotonic() + 60
        while wait_leader(store.endpoints) != 0:  # make the slow member lead
            assert time.monotonic() < deadline, "m1 never took the lead"
            lead = store.endpoints[wait_leader(store.endpoints)]
            with grpc.insecure_channel(lead) as ch:
                try:
                    rpc_pb2_grpc.MaintenanceStub(ch).MoveLeader(
                        rpc_pb2.MoveLeaderRequest(targetID=slow_id), timeout=20
                    )
                except grpc.RpcError as exc:
                    print("MoveLeader:", exc.code(), exc.details())
        before = _status(slow)
        assert before.leader == slow_id
        kv = rpc_pb2_grpc.KVStub(store.channels[0])
        took = []
        for i in range(6):
            t = time.monotonic()
            kv.Put(rpc_pb2.PutRequest(key=b"slow/%d" % i, value=b"x"), timeout=20)
            took.append(time.monotonic() - t)
        print("puts took", [f"{x:.2f}" for x in took])
        assert min(took) >= DELAY_MS / 1000, "the slow disk did not slow the writes"
        after = _status(slow)
        assert (after.leader, after.raftTerm) == (before.leader, before.raftTerm), (
            f"the leader lost its term: {before.leader:x}/{before.raftTerm} -> "
            f"{after.leader:x}/{after.raftTerm}"
        )
        for ep in store.endpoints[1:]:  # the followers never left it either
            assert _status(ep).raftTerm == before.raftTerm
    finally:
        hactl("store", "down", "--dir", str(tmp_path), "--grace", "1")
