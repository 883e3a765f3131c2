"""The whole cluster restarted: the coordinator waits for the nodes before it starts resources
(the Cluster's ``startupWait``, Pacemaker's dc-deadtime). Real hacd processes, real agents,
the checker sampling every node for a resource active twice throughout."""

from __future__ import annotations

import time
from typing import Any

import pytest

from reconciler.daemon import localcluster
from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import LiveCluster

BASE_PORT = 28000
pytestmark = pytest.mark.slow


def manifests(name: str, wait: str) -> str:
    return f"""
apiVersion: hactl.io/v1
kind: Cluster
metadata: {{name: cluster}}
spec: {{startupWait: {wait}}}
---
apiVersion: hactl.io/v1
kind: Resource
metadata: {{name: {name}}}
spec:
  agent: ocf:pacemaker:Dummy
  operations:
    - {{name: monitor, interval: 1s}}
---
apiVersion: hactl.io/v1
kind: Location
metadata: {{name: {name}-pref}}
spec: {{resource: {name}, node: node3, score: 100}}
"""


def start_without_node3(live: LiveCluster) -> None:
    """The whole cluster was stopped: start the store and node1, node2 only."""
    assert live.lay is not None
    localcluster.write_servers(live.lay)
    if live.lay.backend == "etcd":
        localcluster.start_etcd(live.lay)
    for n in ("node1", "node2"):
        localcluster.start_node(live.lay, n)


def until(live: LiveCluster, pred: Any, what: str, timeout: float = 45) -> dict[str, Any]:
    """Poll the view until ``pred``; while hacd starts, no node may answer yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = live.view()
        except AssertionError:  # no hacd answers yet
            time.sleep(0.1)
            continue
        if pred(v):
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def starts(live: LiveCluster, name: str, since: int) -> list[dict[str, Any]]:
    """The starts of ``name`` since ``since`` (a node that has not rejoined yet still shows
    its history from before the restart: its stop may not have been recorded when every
    store member stopped at once)."""
    r = live.resource(name)
    assert r is not None
    return [o for o in r["operations"] if o["operation"] == "start" and o["lastRun"] >= since]


def test_restart_with_the_preferred_node_last_starts_the_resource_once_there(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    live.apply(manifests("late", "60s"), "--wait")
    assert live.wait_on("late") == ["node3"]
    live.down()
    assert not live.state_file("node3", "late").exists(), "a clean stop stops resources"
    restarted = int(time.time())
    start_without_node3(live)
    until(
        live,
        lambda v: (v["coordinator"].get("startupWait") or {}).get("waitingFor") == ["node3"],
        "the coordinator waits for node3",
    )
    status = live.hactl("status").stdout
    assert "the coordinator waits for node3 to join before starting resources" in status, status
    assert "Transition: held until the nodes joined" in status, status
    # node3 stays off a while: nothing starts on the nodes that are up meanwhile
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert starts(live, "late", restarted) == []
        time.sleep(0.2)
    localcluster.start_node(live.lay, "node3")  # type: ignore[arg-type]
    assert live.wait_on("late", timeout=30) == ["node3"]
    got = starts(live, "late", restarted)
    assert [o["node"] for o in got] == ["node3"], f"started elsewhere or twice: {got}"
    v = live.view()
    assert v["coordinator"]["startupWait"] is None
    assert not any("waits for" in w for w in v["warnings"])
    events = live.hactl("events").stdout
    assert "waiting up to" in events and "every node joined" in events, events
    described = live.hactl("describe", "cluster/cluster").stdout
    assert "cluster start: waiting up to" in described, described
    live.hactl("delete", "resource", "late")
    live.hactl("delete", "location", "late-pref")


def test_a_node_that_does_not_come_back_is_waited_for_only_until_startup_wait(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    live.apply(manifests("gone", "3s"), "--wait")
    assert live.wait_on("gone") == ["node3"]
    live.down()
    restarted = int(time.time())
    start_without_node3(live)
    expired = "node3 did not join within startupWait (3 s)"

    def started_elsewhere(v: dict[str, Any]) -> bool:
        r = next((x for x in v["resources"] if x["name"] == "gone"), None)
        return (
            any(expired in e["message"] for e in v["events"])
            and r is not None
            and any(
                o["operation"] == "start" and o["lastRun"] >= restarted for o in r["operations"]
            )
            and bool(v["coordinator"]["converged"])
        )

    until(live, started_elsewhere, "gone started without node3 once the wait expired")
    got = starts(live, "gone", restarted)
    assert len(got) == 1, f"started more than once: {got}"
    node = got[0]["node"]
    assert node in ("node1", "node2") and live.state_file(node, "gone").exists()
    msgs = [(e["time"], e["message"]) for e in live.view()["events"]]
    [ended] = [t for t, m in msgs if expired in m]
    began = max(t for t, m in msgs if m.startswith("cluster start: waiting") and t <= ended)
    assert ended - began >= 2.5, (began, ended)  # the wait lasted startupWait
    assert got[0]["lastRun"] >= int(ended) - 1, (got, ended)  # nothing started before its end
    # node3 returns later: no wait now (the cluster runs), the resource goes to its node
    live.hactl("delete", "location", "gone-pref")
    localcluster.start_node(live.lay, "node3")  # type: ignore[arg-type]
    live.wait(lambda v: all(n["state"] == "online" for n in v["nodes"]), "node3 back", 30)
    v = live.wait(lambda v: v["coordinator"]["converged"], "converged after node3's return")
    assert v["coordinator"]["startupWait"] is None
    assert live.where(v, "gone") == [node]
    live.hactl("delete", "resource", "gone")


def test_a_coordinator_change_in_the_running_cluster_does_not_wait(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    import signal

    assert live.lay is not None
    live.wait(lambda v: all(n["state"] == "online" for n in v["nodes"]), "all nodes online", 30)
    v = live.wait(lambda v: v["coordinator"]["node"] is not None, "a coordinator")
    old = v["coordinator"]["node"]
    localcluster.stop_node(live.lay, old, signal.SIGKILL)  # it holds no resource: no fencing
    deadline = time.monotonic() + 30
    new = None
    while time.monotonic() < deadline:  # until the new coordinator has made its first passes
        try:
            v = live.view()
        except AssertionError:  # no hacd answered this time
            time.sleep(0.1)
            continue
        assert v["coordinator"]["startupWait"] is None, v["coordinator"]
        if v["coordinator"]["node"] not in (None, old) and v["coordinator"]["converged"]:
            new = v["coordinator"]["node"]
            break
        time.sleep(0.1)
    assert new is not None, "no new coordinator"
    assert not any("waits for" in w for w in v["warnings"]), v["warnings"]
    localcluster.start_node(live.lay, old)
    live.wait(lambda v: all(n["state"] == "online" for n in v["nodes"]), f"{old} back", 30)
