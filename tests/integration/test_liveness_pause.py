"""A coordinator paused (SIGSTOP) past its lease, then resumed (SIGCONT), acts on nothing.

Real etcd, real hacd processes, real agents. The coordinator is frozen while an action it
dispatched is still running (a Dummy whose start takes 3 s), so on resume it holds a
result and a plan that are both stale and tries to go on: every dispatch it sends is
refused by the agent (its fencing token is older than the new coordinator's), every
write it tries fails its compare on the election key, and its node rejoins afresh.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

from reconciler.daemon import localcluster
from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import LiveCluster
from reconciler.transport.hactl_api import SyncApiClient

BASE_PORT = 25800
RSC = "slow"


def view_via(live: LiveCluster, node: str) -> dict[str, Any] | None:
    """The view through one node's API (the paused one would hang the default client)."""
    import json

    assert live.lay is not None
    c = SyncApiClient(live.lay.api(live.nodes.index(node)), timeout_s=3)
    try:
        return dict(json.loads(c.view()[0]))
    except Exception:  # a node that cannot answer yet: poll again
        return None
    finally:
        c.close()


def wait_via(
    live: LiveCluster, node: str, pred: Callable[[dict[str, Any]], Any], what: str, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    v: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        v = view_via(live, node)
        if v is not None and pred(v):
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last view {v}")


def manifests(node: str) -> str:
    return f"""apiVersion: hactl.io/v1
kind: Resource
metadata: {{name: {RSC}}}
spec:
  agent: ocf:pacemaker:Dummy
  stickiness: 100
  params: {{op_sleep: "3"}}
  operations:
    - {{name: start, timeout: 20s}}
    - {{name: monitor, interval: 10s, timeout: 20s}}
---
apiVersion: hactl.io/v1
kind: Location
metadata: {{name: {RSC}-pref}}
spec: {{resource: {RSC}, node: {node}, score: INFINITY}}
"""


def test_paused_coordinator_acts_on_nothing_once_resumed(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    assert live.lay is not None
    v = live.wait(lambda v: v["coordinator"].get("node"), "a coordinator")
    coord, token = v["coordinator"]["node"], v["coordinator"]["token"]
    target, watcher = [n for n in live.nodes if n != coord]
    live.apply(manifests(target))
    wait_via(
        live,
        watcher,
        lambda v: any(f"{RSC}_start" in a for a in v["coordinator"].get("inFlight", [])),
        f"the coordinator's start of {RSC} in flight",
        20,
    )
    v = view_via(live, watcher) or {}
    assert v.get("coordinator", {}).get("node") == coord, "the coordinator changed meanwhile"
    pid = localcluster.read_pid(live.lay.pidfile(coord))
    assert pid is not None
    log = live.lay.directory / coord / "hacd.log"
    os.kill(pid, signal.SIGSTOP)
    paused = time.monotonic()
    try:
        v = wait_via(
            live,
            watcher,
            lambda v: (
                v["coordinator"].get("node") in (target, watcher)
                and v["coordinator"].get("token", 0) > token
            ),
            "a new coordinator",
            20,
        )
        new_token = v["coordinator"]["token"]
        wait_via(
            live,
            watcher,
            lambda v: live.where(v, RSC) == [target] and v["coordinator"].get("converged"),
            f"{RSC} started under the new coordinator",
            30,
        )
        assert time.monotonic() - paused > 2.0  # past the lease TTL, hence the election
        mark = log.stat().st_size
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    before = live.start_op(RSC, target)
    # the old coordinator wakes up holding a finished start and a stale plan; its node
    # sees it missed its lease, steps down and rejoins
    wait_via(
        live,
        watcher,
        lambda v: (
            any(n["name"] == coord and n["state"] == "online" for n in v["nodes"])
            and v["coordinator"].get("converged")
        ),
        f"{coord} back online",
        30,
    )
    after_log = log.read_text(errors="replace")[mark:]
    dispatched = [
        line.split("dispatch ", 1)[1].split(" ", 1)[0]
        for line in after_log.splitlines()
        if "hacd.coordinator INFO dispatch " in line
    ]
    for action_id in dispatched:  # whatever it still sent was refused by token
        node = action_id.rsplit("@", 1)[1]
        agent_log = (live.lay.directory / node / "hacd.log").read_text(errors="replace")
        assert f"refused {action_id}: stale token" in agent_log, (
            f"the resumed coordinator dispatched {action_id} and {node} did not refuse it"
        )
    v = live.wait(lambda v: v["coordinator"].get("converged"), "converged")
    assert v["coordinator"]["token"] >= new_token
    assert live.where(v, RSC) == [target]
    assert live.start_op(RSC, target) == before, "something started it again"
    print(
        f"\ncoordinator {coord} paused {resumed - paused:.1f} s; new coordinator token "
        f"{new_token} > {token}; after SIGCONT it dispatched "
        f"{f'{dispatched} (all refused)' if dispatched else 'nothing'}; "
        f"{checker.samples} checker samples"
    )
