"""The two-node guard's decisions, on a real Raft core (in-memory network) with a stand-in
for the store member's shell and for the fence runner (the real ones run in
tests/integration/test_two_node.py; here the timing is under the test's control).

wait_for_all: a node restarted alone waits and fences nobody; the override arms it at
start; a failing fence moves nothing until an operator's confirmation.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.controller.dispatch import Action, Outcome
from reconciler.daemon.store_peers import PeerInfo
from reconciler.daemon.two_node import TwoNodeGuard
from reconciler.kv.store import KVStore
from reconciler.raft.node import RaftNode
from reconciler.raft.types import ConfChange, Config
from reconciler.testing.raftnet import Member, RaftNet


class Shell:
    """What the guard uses of RaftEngine, over one member of a RaftNet."""

    def __init__(self, net: RaftNet, i: int) -> None:
        self.net, self.i = net, i
        self.member = type("M", (), {"member_id": i, "kv": KVStore()})()
        self.peers = {
            1: PeerInfo(1, "node1", ("http://n1",)),
            2: PeerInfo(2, "node2", ("http://n2",)),
        }
        self._wake = asyncio.Event()

    @property
    def node(self) -> RaftNode:
        return self.net.node(self.i)

    async def _conf_change(self, cc: ConfChange) -> None:
        self.node.propose_conf_change(cc)
        self.net.process()

    async def member_promote(self, nid: int) -> None:
        raise AssertionError("not expected here")

    async def move_leader(self, nid: int) -> None:
        raise AssertionError("not expected here")


class Runner:
    def __init__(self, rc: int) -> None:
        self.rc = rc
        self.actions: list[Action] = []

    async def run(self, action: Action) -> Outcome:
        self.actions.append(action)
        return Outcome(rc=self.rc, output="" if self.rc == 0 else "cannot reach the PDU\n")


class Kv:
    def __init__(self) -> None:
        self.txns: list[Any] = []

    async def get(self, key: str) -> None:
        return None

    async def revoke(self, lease: int) -> None:
        pass

    async def txn(self, cmps: Any, ops: Any) -> tuple[bool, int]:
        self.txns.append(ops)
        return True, 1


def node1_restarted_alone() -> RaftNet:
    """A pair that worked, then node2 is gone and node1 restarts (a new process)."""
    net = RaftNet([1, 2])
    net.campaign(1)
    net.propose(1, b"a")
    net.members.pop(2)
    m = net.members[1]
    net.members[1] = Member(RaftNode(Config(id=1), m.storage, random.Random(1)), m.storage)
    return net


def run_guard(net: RaftNet, guard: TwoNodeGuard, until: Callable[[], bool], seconds: float) -> bool:
    """Run the guard while the network ticks (every 20 ms); True if ``until`` held."""

    async def main() -> bool:
        task = asyncio.create_task(guard.run())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while loop.time() < deadline:
                net.tick(1)
                if until():
                    return True
                await asyncio.sleep(0.02)
            return False
        finally:
            task.cancel()

    return asyncio.run(main())


def guard(net: RaftNet, runner: Runner, tmp: Path, **kw: Any) -> TwoNodeGuard:
    return TwoNodeGuard(
        Shell(net, 1),  # type: ignore[arg-type]
        node="node1",
        peer="node2",
        runner=runner,
        kv=Kv(),  # type: ignore[arg-type]
        fence_agent="stonith:fence_test",
        fence_params={},
        fence_delay=0.0,
        loss_timeout=0.2,
        status_file=tmp / "two-node.json",
        confirm_file=tmp / "two-node-confirm",
        **kw,
    )


def test_a_node_restarted_alone_waits_for_its_peer(tmp_path: Path) -> None:
    net = node1_restarted_alone()
    runner = Runner(rc=0)
    g = guard(net, runner, tmp_path)
    assert not run_guard(net, g, lambda: bool(runner.actions), 1.5)
    assert g.state == "waiting for the peer" and "wait_for_all" in g.reason
    assert net.node(1).conf_state().voters == (1, 2)


def test_the_override_fences_the_unseen_peer_and_goes_on_alone(tmp_path: Path) -> None:
    net = node1_restarted_alone()
    runner = Runner(rc=0)
    g = guard(net, runner, tmp_path, wait_for_all=False)
    assert run_guard(net, g, lambda: g.state == "alone", 5), g.state
    [a] = runner.actions[:1]
    assert (a.target, a.operation, a.agent) == ("node2", "off", "stonith:fence_test")
    assert net.node(1).conf_state().voters == (1,)


def test_a_failing_fence_moves_nothing_until_an_operator_confirms(tmp_path: Path) -> None:
    net = node1_restarted_alone()
    runner = Runner(rc=1)
    g = guard(net, runner, tmp_path, wait_for_all=False)
    assert run_guard(net, g, lambda: g.state == "fencing failed", 5), g.state
    assert "node2 is not fenced" in g.reason and "cannot reach the PDU" in g.reason
    assert not run_guard(net, g, lambda: g.state == "alone", 1.0)
    assert net.node(1).conf_state().voters == (1, 2), "forced without a fencing"
    (tmp_path / "two-node-confirm").write_text("node2\n")
    assert run_guard(net, g, lambda: g.state == "alone", 5), g.state
    assert net.node(1).conf_state().voters == (1,)
