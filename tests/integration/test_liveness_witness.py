"""Two resource nodes and a witness survive the loss of either resource node.

Real etcd (one member per node), real hacd processes, real agents and the local fence
agent. The witness is node3: its store member votes, and no hacd runs there, so nothing
can ever be placed on it (a configured node that left cleanly is offline, not unclean).
Each resource node is lost in turn the way a power cut loses it: its hacd, everything its
agents started and its store member are killed at once. The other resource node plus the
witness keep a store quorum (2 of 3), fence the lost node and recover its resource. The
active-twice checker samples every node's ground truth throughout.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from reconciler.daemon import localcluster
from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import LiveCluster

BASE_PORT = 25900
RSC = "wit-rsc"


def manifests() -> str:
    return f"""apiVersion: hactl.io/v1
kind: Resource
metadata: {{name: {RSC}}}
spec:
  agent: ocf:pacemaker:Dummy
  stickiness: 100
  operations:
    - {{name: monitor, interval: 1s}}
---
apiVersion: hactl.io/v1
kind: Location
metadata: {{name: {RSC}-pref}}
spec: {{resource: {RSC}, node: node1, score: 50}}
"""


def wait(live: LiveCluster, pred: Any, what: str, timeout: float = 20) -> dict[str, Any]:
    """Poll the view; right after a power cut a node may briefly fail to answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return live.wait(pred, what, max(0.1, deadline - time.monotonic()))
        except AssertionError as e:
            if "no hacd answered" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def power_cut(live: LiveCluster, node: str) -> None:
    assert live.lay is not None
    localcluster.kill_node_processes(live.lay, node)
    pid = localcluster.read_pid(live.lay.directory / "etcd" / f"{node}.pid")
    if pid is not None:
        localcluster.stop_pid(pid, signal.SIGKILL)


def lose_and_recover(live: LiveCluster, victim: str, survivor: str) -> float:
    assert live.lay is not None
    assert live.wait_on(RSC, timeout=30) == [victim]
    cut = time.monotonic()
    power_cut(live, victim)
    wait(
        live,
        lambda v: live.where(v, RSC) == [survivor] and v["coordinator"].get("converged"),
        f"{RSC} recovered on {survivor}",
        timeout=30,
    )
    took = time.monotonic() - cut
    assert (live.lay.state_dir / victim / "off").exists(), f"{victim} was not fenced"
    return took


def test_two_resource_nodes_and_a_witness_survive_either_loss(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    assert live.lay is not None
    lay = live.lay
    localcluster.stop_node(lay, "node3", signal.SIGTERM)  # node3: a store voter only
    live.wait(
        lambda v: [n["state"] for n in v["nodes"]] == ["online", "online", "offline"],
        "node3 is a witness (store member, no hacd)",
    )
    live.apply(manifests(), "--wait")
    first = lose_and_recover(live, "node1", "node2")
    # node1 comes back (store member, then hacd): it rejoins, the resource stays put
    localcluster.start_etcd(lay)
    localcluster.start_node(lay, "node1")
    wait(
        live,
        lambda v: (
            [n["state"] for n in v["nodes"]][:2] == ["online", "online"]
            and v["coordinator"].get("converged")
        ),
        "node1 rejoins",
        timeout=40,
    )
    second = lose_and_recover(live, "node2", "node1")
    assert not live.state_file("node3", RSC).exists()
    print(
        f"\nwitness cluster: node1 lost -> {RSC} on node2 in {first:.2f} s; "
        f"node2 lost -> on node1 in {second:.2f} s; {checker.samples} checker samples"
    )
