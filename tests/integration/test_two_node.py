"""A plain two-node cluster (no witness): two_node + wait_for_all with mandatory fencing.

Real hacd processes with the builtin store (two voters), real agents and the local fence
agent (``hactl cluster up --two-node``; fencing node1 is delayed). node1 started alone
waits for its peer (wait_for_all) without fencing it. Each node is lost in
turn the way a power cut loses it (hacd, its store member and everything its agents
started, killed at once). The survivor cannot commit with one voter of two: its two-node
guard fences the lost node, forces its store member to a single voter, and the
coordinator there recovers the resource. The killed node restarts with its old data,
cannot form a cluster of its own, and is re-added (learner, then voter): two_node again.
Then the other node is lost while fencing cannot succeed: nothing moves until an operator
confirms it off. The active-twice checker samples every node's ground truth throughout.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.daemon import localcluster
from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import LiveCluster

BASE_PORT = 25700
RSC = "tn-rsc"
DELAY = 2.0  # fencing node1 waits this long (node1 wins a split)


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
spec: {{resource: {RSC}, node: node2, score: 50}}
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveCluster]:
    if not Path("/usr/lib/ocf/resource.d/pacemaker/Dummy").exists():
        pytest.skip("pacemaker-resource-agents (ocf:pacemaker:Dummy) is not installed")
    if shutil.which("python3") is None:
        pytest.skip("no python3 for the local fence agent")
    c = LiveCluster(tmp_path, BASE_PORT, nodes=2, backend="builtin")
    lay = c.lay = localcluster.layout(
        tmp_path, 2, BASE_PORT, "builtin", two_node=True, fence_delay=DELAY
    )
    localcluster.write_configs(lay)
    localcluster.save_layout(lay)
    lay.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        # wait_for_all: node1 alone waits for its peer; it neither fences nor goes on
        localcluster.start_node(lay, "node1")
        wait_for(
            lambda: guard_state(c, "node1").get("state") == "waiting for the peer",
            "node1 waiting for node2",
            30,
        )
        until = time.monotonic() + 2
        while time.monotonic() < until:
            assert guard_state(c, "node1").get("state") == "waiting for the peer"
            assert not (lay.state_dir / "node2" / "off").exists(), "node1 fenced an unseen peer"
            time.sleep(0.1)
        localcluster.start_node(lay, "node2")
        localcluster.wait_ready(lay, 60)
        yield c
    finally:
        c.down()


def guard_state(c: LiveCluster, node: str) -> dict[str, Any]:
    assert c.lay is not None
    try:
        return dict(json.loads((c.lay.state_dir / node / "two-node.json").read_text()))
    except (OSError, ValueError):
        return {}


def wait_view(c: LiveCluster, pred: Any, what: str, timeout: float) -> dict[str, Any]:
    """Poll the view; right after a power cut a node may briefly fail to answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return c.wait(pred, what, max(0.1, deadline - time.monotonic()))
        except AssertionError as e:
            if "no hacd answered" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_for(pred: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def lose(c: LiveCluster, victim: str, survivor: str) -> float:
    """Power-cut ``victim``; the resource must come back on ``survivor``; seconds taken."""
    assert c.lay is not None
    cut = time.monotonic()
    localcluster.kill_node_processes(c.lay, victim)
    wait_view(
        c,
        lambda v: c.where(v, RSC) == [survivor] and v["coordinator"].get("converged"),
        f"{RSC} recovered on {survivor}",
        timeout=40,
    )
    took = time.monotonic() - cut
    assert (c.lay.state_dir / victim / "off").exists(), f"{victim} was not fenced"
    st = guard_state(c, survivor)
    assert st.get("state") in ("alone", "pair"), st
    out = c.hactl("fence", "history", victim).stdout
    assert f"FENCED by {survivor}" in out, out
    return took


def rejoin(c: LiveCluster, node: str) -> None:
    assert c.lay is not None
    localcluster.start_node(c.lay, node)
    wait_view(
        c,
        lambda v: (
            [n["state"] for n in v["nodes"]] == ["online", "online"]
            and v["coordinator"].get("converged")
        ),
        f"{node} rejoins",
        timeout=40,
    )
    wait_for(
        lambda: all(guard_state(c, n).get("state") == "pair" for n in ("node1", "node2")),
        "both guards report the pair again (two voters)",
        30,
    )


BROKEN_DEVICE = """---
apiVersion: hactl.io/v1
kind: FencingDevice
metadata: {name: broken}
spec:
  agent: fence_hactl_local
  params: {state_dir: /nonexistent/hactl}
  hostList: [node1, node2]
"""


def test_two_nodes_survive_a_loss_rejoin_and_a_failed_fencing_moves_nothing(
    live: LiveCluster,
) -> None:
    """node2 lost: node1 fences it at once and recovers its resource; node2 rejoins as a
    voter; a clean stop of node2 is not fenced, and it rejoins again; then node1 is lost while the only FencingDevice is broken: node2 waits out the
    fence delay, fails to fence, and nothing moves until an operator confirms node1 off."""
    assert live.lay is not None
    lay = live.lay
    live.apply(manifests(), "--wait")
    assert live.wait_on(RSC, timeout=30) == ["node2"]
    checker = ActiveChecker(lay.state_dir, live.nodes).start()
    live.checker = checker
    try:
        first = lose(live, "node2", "node1")
        rejoin(live, "node2")
        assert live.wait_on(RSC, timeout=20) == ["node1"]  # stickiness: it stays
        # a clean stop is not a loss: node2 leaves the pair, nobody fences it
        stopped = time.monotonic()
        localcluster.stop_node(lay, "node2", signal.SIGTERM)
        wait_for(lambda: guard_state(live, "node1").get("state") == "alone", "node1 alone", 20)
        assert not (lay.state_dir / "node2" / "off").exists(), "a cleanly stopped node was fenced"
        wait_view(
            live,
            lambda v: live.where(v, RSC) == ["node1"] and v["coordinator"].get("converged"),
            f"{RSC} still on node1",
            timeout=20,
        )
        clean_stop = time.monotonic() - stopped
        rejoin(live, "node2")
        live.apply(BROKEN_DEVICE, "--wait")
        cut = time.monotonic()
        localcluster.kill_node_processes(lay, "node1")
        wait_for(
            lambda: guard_state(live, "node2").get("state") == "fencing failed",
            "node2's guard to report the failed fencing",
            30,
        )
        failed_after = time.monotonic() - cut
        reason = guard_state(live, "node2")["reason"]
        assert "node1 is not fenced" in reason and "broken" in reason, reason
        # nothing moves: node2 keeps failing, never forces, never starts the resource
        until = time.monotonic() + 2
        while time.monotonic() < until:
            assert "node2" not in checker.sample().get(RSC, [])
            assert guard_state(live, "node2").get("state") in ("fencing", "fencing failed")
            time.sleep(0.1)
        # the operator makes sure node1 is off (here: what a power-off leaves), confirms
        (lay.state_dir / "node1" / "off").write_text("")
        out = live.hactl(
            "cluster", "two-node-confirm", "node1", "--config", str(lay.config_path("node2"))
        )
        assert "confirmed off" in out.stdout
        wait_view(
            live,
            lambda v: live.where(v, RSC) == ["node2"] and v["coordinator"].get("converged"),
            f"{RSC} recovered on node2",
            timeout=40,
        )
        assert "confirmed off by human" in live.hactl("fence", "history", "node1").stdout
    finally:
        checker.stop()
        live.checker = None
    checker.check()
    assert checker.samples > 0
    assert failed_after > DELAY, f"node1's fencing began {failed_after:.2f} s after the cut"
    print(
        f"\ntwo-node: node2 lost -> {RSC} on node1 in {first:.2f} s; node2 rejoined; "
        f"clean stop of node2 (not fenced) in {clean_stop:.2f} s; "
        f"node1 lost with a broken device: fencing failed after {failed_after:.2f} s "
        f"(delay {DELAY:g} s), recovered after the confirmation; {checker.samples} samples"
    )
