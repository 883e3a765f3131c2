"""A real split of a plain two-node cluster: exactly one survivor, thanks to the fence delay.

Two hacd nodes (builtin store: two voters), each in its own network namespace, with
``twoNode: {fenceDelay: {node1: 3}}``: fencing node1 waits 3 s. The link between them is
cut while both are healthy. Each side loses its store quorum and its guard decides to
fence the other; node1 shoots at once, node2 only after the delay — by then it is off (the
local fence agent acts through the shared filesystem, a path outside the cluster network,
as a power switch is). node1 forces its store member to a single voter and recovers the
resource that ran on node2. After healing, node2 restarts and rejoins as a voter. The
active-twice checker samples both nodes' ground truth throughout.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from clusternet import NsCluster

from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.netns import Network

pytestmark = [pytest.mark.needs_root, pytest.mark.slow]

RSC = "split-rsc"
DELAY = 3.0

MANIFESTS = f"""
apiVersion: hactl.io/v1
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


def _where(checker: ActiveChecker) -> list[str]:
    return sorted(checker.sample().get(RSC, []))


def _wait(pred: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _guard(c: NsCluster, node: str) -> dict[str, Any]:
    try:
        return dict(json.loads((c.state_dir / node / "two-node.json").read_text()))
    except (OSError, ValueError):
        return {}


def test_a_split_ends_with_exactly_one_survivor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Network(2) as net:
        c = NsCluster(net, tmp_path)
        c.write_configs(twoNode={"fenceDelay": {"node1": DELAY}})
        procs = [c.start_node(0), c.start_node(1)]
        c.wait(0, lambda v: sum(n["state"] == "online" for n in v["nodes"]) == 2, "both", 60)
        checker = ActiveChecker(c.state_dir, c.nodes).start()
        try:
            c.apply(0, MANIFESTS)
            _wait(lambda: _where(checker) == ["node2"], f"{RSC} on node2", 30)
            net.isolate(0)
            cut = time.monotonic()
            _wait(lambda: _where(checker) == ["node1"], f"{RSC} recovered on node1", 40)
            recovered = time.monotonic() - cut
            # one survivor: node2 is off, node1 runs on (well past node2's fence delay)
            _wait(lambda: procs[1].poll() is not None, "node2's hacd gone", 10)
            time.sleep(DELAY)  # what node2 would have needed to shoot back: it is off
            assert procs[0].poll() is None, "node1 was shot too: no survivor"
            assert (c.state_dir / "node2" / "off").exists(), "node2 was not fenced"
            assert not (c.state_dir / "node1" / "off").exists(), "node1 was fenced"
            assert _guard(c, "node1").get("state") in ("alone", "pair"), _guard(c, "node1")
            # heal; node2 powers on with its old two-voter store and is re-added
            net.heal()
            procs[1] = c.start_node(1)
            c.wait(
                0,
                lambda v: (
                    sum(n["state"] == "online" for n in v["nodes"]) == 2
                    and v["coordinator"].get("converged")
                ),
                "node2 rejoins",
                60,
            )
            _wait(
                lambda: (
                    _guard(c, "node1").get("state") == "pair"
                    and _guard(c, "node2").get("state") == "pair"
                ),
                "two voters again",
                30,
            )
            assert _where(checker) == ["node1"]
        finally:
            checker.stop()
    with capsys.disabled():
        print(
            f"\ntwo-node split: node2 fenced, {RSC} on node1 {recovered:.2f} s after the cut; "
            f"node2 rejoined; {checker.samples} samples"
        )
    checker.check()
