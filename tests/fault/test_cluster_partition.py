"""Real partitions of a live cluster: three hacd nodes, each in its own network namespace.

The node running a resource is cut off from the other two. Its side has no store quorum:
it cannot renew its liveness lease or write anything. The majority sees its lease expire,
fences it (the local fence agent: a fencing path that does not use the cluster network)
and recovers the resource; after healing (and the fenced node's restart) the resource runs
once. The active-twice checker samples every node's ground truth throughout.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from clusternet import NsCluster

from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.netns import Network

pytestmark = [pytest.mark.needs_root, pytest.mark.slow]

RSC = "part-rsc"


def manifests(fencing: bool) -> str:
    return f"""
apiVersion: hactl.io/v1
kind: Cluster
metadata: {{name: cluster}}
spec: {{fencingEnabled: {str(fencing).lower()}, noQuorumPolicy: stop, defaultStickiness: 100}}
---
apiVersion: hactl.io/v1
kind: Resource
metadata: {{name: {RSC}}}
spec:
  agent: ocf:pacemaker:Dummy
  operations:
    - {{name: monitor, interval: 1s}}
---
apiVersion: hactl.io/v1
kind: Location
metadata: {{name: {RSC}-pref}}
spec: {{resource: {RSC}, node: node1, score: 50}}
"""


def _where(checker: ActiveChecker) -> list[str]:
    return sorted(checker.sample().get(RSC, []))


def _wait_where(checker: ActiveChecker, pred: object, what: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w = _where(checker)
        if pred(w):  # type: ignore[operator]
            return w
        time.sleep(0.02)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what}; now on {_where(checker)}"
    )


def _run_on_node1_then_cut_it_off(
    net: Network, c: NsCluster, checker: ActiveChecker, fencing: bool
) -> float:
    """Apply the resource, wait until it runs on node1, isolate node1; the cut's time."""
    c.apply(1, manifests(fencing=fencing))
    _wait_where(checker, lambda w: w == ["node1"], f"{RSC} on node1", 30)
    net.isolate(0)
    return time.monotonic()


def _wait_all_rejoined_and_converged(c: NsCluster) -> None:
    c.wait(1, lambda v: sum(n["state"] == "online" for n in v["nodes"]) == 3, "rejoin", 60)
    c.wait(1, lambda v: v["coordinator"].get("converged"), "converged", 30)


def test_isolated_node_is_fenced_before_its_resource_runs_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Network(3) as net:
        c = NsCluster(net, tmp_path)
        c.write_configs()
        c.start()
        checker = ActiveChecker(c.state_dir, c.nodes).start()
        try:
            cut = _run_on_node1_then_cut_it_off(net, c, checker, fencing=True)
            moved = _wait_where(checker, lambda w: w and w != ["node1"], "recovery elsewhere", 40)
            recovered = time.monotonic() - cut
            fenced = (c.state_dir / "node1" / "off").exists()
            net.heal()
            c.start_node(0)
            _wait_all_rejoined_and_converged(c)
            assert len(_where(checker)) == 1
        finally:
            checker.stop()
    with capsys.disabled():
        print(
            f"\nnode1 cut off: {RSC} on {moved} {recovered:.2f} s later "
            f"(node1 fenced: {fenced}); {checker.samples} samples"
        )
    checker.check()
    assert fenced, "the resource was recovered without fencing its node"


def test_minority_stops_its_resource_per_no_quorum_policy_without_fencing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """fencingEnabled false, noQuorumPolicy stop: the cut-off node must stop the resource
    itself (its lease can no longer be renewed) before the majority starts it elsewhere."""
    with Network(3) as net:
        c = NsCluster(net, tmp_path)
        c.write_configs(planner="scheduler")  # the default planner
        c.start()
        checker = ActiveChecker(c.state_dir, c.nodes).start()
        try:
            cut = _run_on_node1_then_cut_it_off(net, c, checker, fencing=False)
            w = _wait_where(checker, lambda w: w != ["node1"], "node1 stops it", 15)
            stopped_s = time.monotonic() - cut
            assert "node1" not in w, (
                f"{stopped_s:.2f} s after the cut {RSC} runs on {w}: the majority recovered "
                "it before the cut-off node stopped it"
            )
            try:
                moved = _wait_where(
                    checker, lambda w: w and w != ["node1"], "recovery elsewhere", 30
                )
            except AssertionError as e:
                raise AssertionError(f"{e}\nstatus from node2: {c.view(1)}") from None
            recovered = time.monotonic() - cut
            net.heal()
            _wait_all_rejoined_and_converged(c)
            assert len(_where(checker)) == 1
        finally:
            checker.stop()
    with capsys.disabled():
        print(
            f"\nnode1 cut off: it stopped {RSC} after {stopped_s:.2f} s; "
            f"running on {moved} {recovered:.2f} s after the cut"
        )
    checker.check()


def test_cut_node_does_not_stall_the_majority_when_every_member_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each node's store client lists every member (what `hactl cluster up` writes): the
    connection to the cut-off member goes silent, and the client's keepalive must find it
    dead so the majority keeps its leases, fences the cut-off node and recovers."""
    with Network(3) as net:
        c = NsCluster(net, tmp_path)
        c.write_configs(local_endpoint=False)
        c.start()
        checker = ActiveChecker(c.state_dir, c.nodes).start()
        try:
            cut = _run_on_node1_then_cut_it_off(net, c, checker, fencing=True)
            moved = _wait_where(checker, lambda w: w and w != ["node1"], "recovery elsewhere", 30)
            recovered = time.monotonic() - cut
            fenced = (c.state_dir / "node1" / "off").exists()
            c.wait(1, lambda v: v["coordinator"].get("converged"), "majority converged", 20)
            net.heal()
        finally:
            checker.stop()
    with capsys.disabled():
        print(
            f"\nevery member listed, node1 cut off: {RSC} on {moved} {recovered:.2f} s later "
            f"(node1 fenced: {fenced}); {checker.samples} samples"
        )
    checker.check()
    assert fenced, "the resource was recovered without fencing its node"
