"""The node agent's no-quorum policy, on a real store it suddenly cannot reach.

A real etcd member, hacd's real node agent and executor, real OCF agents (Dummy, and the
promotable Stateful). The agent joins and runs a Dummy and a promoted Stateful; then the
store is frozen (SIGSTOP: requests hang, as across a silent cut). Each policy must act
*before* the lease can expire in the store -- at nodeTimeout - leaseMargin after the send
of the last successful renewal -- and do exactly what it says to the real agents.
Only ``exit_process`` is replaced (by a recorder), so the test process survives ``fence``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.controller.dispatch import Action
from reconciler.daemon import keys
from reconciler.daemon.node_agent import FENCE_EXIT_CODE, NodeAgent
from reconciler.daemon.runner import ExecutorRunner
from reconciler.statestore.etcd import EtcdKv

CLIENT, PEER = 25980, 25981
NODE_TIMEOUT, MARGIN = 2.0, 0.25


def _missing() -> str | None:
    if shutil.which("etcd") is None:
        return "Debian's etcd-server is not installed (make install as root)"
    if not Path("/usr/lib/ocf/resource.d/pacemaker/Stateful").exists():
        return "pacemaker-resource-agents (Dummy, Stateful) is not installed"
    return None


@pytest.fixture
def etcd(tmp_path: Path) -> object:
    why = _missing()
    if why:
        pytest.skip(why)
    log = open(tmp_path / "etcd.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            "etcd",
            "--name",
            "m1",
            "--data-dir",
            str(tmp_path / "etcd"),
            "--listen-client-urls",
            f"http://127.0.0.1:{CLIENT}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{CLIENT}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{PEER}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{PEER}",
            "--initial-cluster",
            f"m1=http://127.0.0.1:{PEER}",
            "--log-level",
            "warn",
            "--logger",
            "zap",
        ],
        stdout=log,
        stderr=log,
        env=dict(os.environ, ETCD_UNSUPPORTED_ARCH=os.environ.get("ETCD_UNSUPPORTED_ARCH", "")),
    )
    try:
        yield proc
    finally:
        with_cont = proc.poll() is None
        if with_cont:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(10)
        log.close()


def act(agent: NodeAgent, rsc: str, agent_name: str, op: str) -> Action:
    return Action(
        token=agent.highest_token,
        action_id=f"{rsc}_{op}_0@n1",
        resource=rsc,
        operation=op,
        agent=agent_name,
        expected_rc=7 if op == "monitor" else 0,
    )


async def store_with_cluster(spec: dict[str, str]) -> EtcdKv:
    """The etcd member's client, once it took the Cluster object (the member is up)."""
    kv = EtcdKv([f"127.0.0.1:{CLIENT}"], timeout=1.0)
    doc = json.dumps({"kind": "Cluster", "spec": spec}).encode()
    deadline = time.monotonic() + 20
    while True:
        try:
            await kv.put(keys.desired("Cluster", "cluster"), doc)
            return kv
        except Exception:  # store not up yet
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def scenario(policy: str, etcd: subprocess.Popen[bytes], node_dir: Path) -> None:
    kv = await store_with_cluster({"noQuorumPolicy": policy})
    runner = ExecutorRunner("n1", node_dir)
    await runner.start()
    exits: list[int] = []
    agent = NodeAgent(
        kv,
        node="n1",
        address="127.0.0.1:1",
        runner=runner,
        node_timeout=NODE_TIMEOUT,
        heartbeat=0.5,
        lease_margin=MARGIN,
        exit_process=exits.append,
    )
    try:
        await agent.join()
        assert agent.no_quorum_policy == policy
        keeper = asyncio.create_task(agent.keep_alive())
        for rsc, ra, ops in (
            ("d1", "ocf:pacemaker:Dummy", ("start",)),
            ("s1", "ocf:pacemaker:Stateful", ("start", "promote")),
        ):
            for op in ops:
                out = await agent.execute(act(agent, rsc, ra, op))
                assert out.rc == 0, (rsc, op, out)
        os.kill(etcd.pid, signal.SIGSTOP)  # every request hangs from now on
        await asyncio.wait_for(keeper, 10)
        [(applied_at, applied)] = agent.policy_applied
        since = applied_at - agent._renewed_at
        assert applied == policy
        # before the lease can expire in the store (nodeTimeout after that send)
        assert NODE_TIMEOUT - MARGIN - 0.05 <= since < NODE_TIMEOUT - MARGIN / 2, since
        assert not agent.lease_ok.is_set()
        probe = {
            rsc: (await runner.run(act(agent, rsc, ra, "monitor"))).rc
            for rsc, ra in (("d1", "ocf:pacemaker:Dummy"), ("s1", "ocf:pacemaker:Stateful"))
        }
        expected = {
            "stop": {"d1": 7, "s1": 7},
            "fence": {"d1": 7, "s1": 7},
            "demote": {"d1": 7, "s1": 0},  # s1 demoted, still running
            "freeze": {"d1": 0, "s1": 8},
            "ignore": {"d1": 0, "s1": 8},
        }[policy]
        assert probe == expected, (policy, probe)
        assert exits == ([FENCE_EXIT_CODE] if policy == "fence" else [])
        refused = await agent.execute(act(agent, "d1", "ocf:pacemaker:Dummy", "start"))
        assert refused.refused, "a node without its lease must take no work"
        print(f"\n{policy}: applied {since:.2f} s after the last renewal was sent; {probe}")
    finally:
        os.kill(etcd.pid, signal.SIGCONT)
        for rsc, ra in (("d1", "ocf:pacemaker:Dummy"), ("s1", "ocf:pacemaker:Stateful")):
            await runner.run(act(agent, rsc, ra, "stop"))
        await runner.close()
        await kv.close()


@pytest.mark.parametrize("policy", ["stop", "demote", "fence", "freeze"])
def test_no_quorum_policy_acts_before_the_lease_can_expire(
    policy: str, etcd: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    asyncio.run(scenario(policy, etcd, tmp_path / "node"))


async def shutdown_without_store(etcd: subprocess.Popen[bytes], node_dir: Path) -> None:
    kv = await store_with_cluster({})
    runner = ExecutorRunner("n1", node_dir)
    await runner.start()
    agent = NodeAgent(
        kv, node="n1", address="127.0.0.1:1", runner=runner, node_timeout=30.0, heartbeat=0.5
    )
    rscs = (("d1", "ocf:pacemaker:Dummy"), ("s1", "ocf:pacemaker:Stateful"))
    try:
        await agent.join()
        for rsc, ra in rscs:
            assert (await agent.execute(act(agent, rsc, ra, "start"))).rc == 0
        os.kill(etcd.pid, signal.SIGSTOP)  # the store is gone (as when every node stops at once)
        t0 = time.monotonic()
        await asyncio.wait_for(agent.leave(stop_resources=True), 30)
        took = time.monotonic() - t0
        probe = {rsc: (await runner.run(act(agent, rsc, ra, "monitor"))).rc for rsc, ra in rscs}
        assert probe == {"d1": 7, "s1": 7}, probe
        # one attempt per record, not 20 retries into a store that cannot answer
        assert took < 10, took
        print(f"\nstopped {sorted(probe)} without the store in {took:.1f} s")
    finally:
        os.kill(etcd.pid, signal.SIGCONT)
        for rsc, ra in rscs:
            await runner.run(act(agent, rsc, ra, "stop"))
        await runner.close()
        await kv.close()


def test_shutdown_stops_what_runs_here_when_the_store_cannot_answer(
    etcd: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    asyncio.run(shutdown_without_store(etcd, tmp_path / "node"))
