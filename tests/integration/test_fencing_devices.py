"""Fencing through FencingDevice and FencingTopology manifests on the live cluster.

Real hacd processes, real etcd, real fence agents: hactl's fence_hactl_local (the
one that really powers a local node off) and fence-agents' fence_dummy. Every test
runs with the checker that fails if a resource is ever active on two nodes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from typing import Any

import pytest

from reconciler.daemon import localcluster
from reconciler.daemon.coordinator import DEFAULT_LEASE_TTL
from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import REPO, LiveCluster

BASE_PORT = 25600
pytestmark = pytest.mark.slow
LOCAL_AGENT = REPO / "reconciler" / "agents" / "fence" / "fence_hactl_local"
NODES = "[node1, node2, node3]"


def needs_fence_dummy() -> None:
    if shutil.which("fence_dummy") is None and not (
        __import__("pathlib").Path("/usr/sbin/fence_dummy").exists()
    ):
        pytest.skip("fence-agents (fence_dummy) is not installed")


def device(name: str, agent: str, params: str, extra: str = "") -> str:
    return (
        f"---\napiVersion: hactl.io/v1\nkind: FencingDevice\nmetadata: {{name: {name}}}\n"
        f"spec:\n  agent: {agent}\n  params: {{{params}}}\n  hostList: {NODES}\n{extra}"
    )


def pinned(rsc: str, node: str, params: str = "", ops: str = "") -> str:
    return (
        f"---\napiVersion: hactl.io/v1\nkind: Resource\nmetadata: {{name: {rsc}}}\n"
        f"spec:\n  agent: ocf:pacemaker:Dummy\n  stickiness: 100\n  params: {{{params}}}\n"
        f"  operations:\n{ops or '    - {name: monitor, interval: 1s}'}\n"
        f"---\napiVersion: hactl.io/v1\nkind: Location\nmetadata: {{name: {rsc}-pref}}\n"
        f"spec: {{resource: {rsc}, node: {node}, score: 50}}\n"
    )


def victim_node(live: LiveCluster) -> str:
    coord = live.wait(lambda v: v["coordinator"]["node"], "a coordinator")["coordinator"]["node"]
    return next(n for n in reversed(live.nodes) if n != coord)


def history(v: dict[str, Any], node: str, since: float) -> list[dict[str, Any]]:
    return [h for h in v["fencingHistory"] if h["node"] == node and h["at"] >= since]


def power_off_by_hand(live: LiveCluster, node: str) -> None:
    """What a human does before `hactl fence confirm`: really turn the node off."""
    assert live.lay is not None
    stdin = f"action=off\nplug={node}\nstate_dir={live.lay.state_dir}\n"
    out = subprocess.run(
        [str(LOCAL_AGENT)], input=stdin, text=True, capture_output=True, timeout=30, check=False
    )
    assert out.returncode == 0, out.stderr


def bring_back(live: LiveCluster, node: str) -> None:
    assert live.lay is not None
    localcluster.start_node(live.lay, node)
    live.wait(lambda v: all(x["state"] == "online" for x in v["nodes"]), f"{node} back", 30)


def cleanup(live: LiveCluster, *objs: tuple[str, str]) -> None:
    for kind, name in objs:
        live.hactl("delete", kind, name, check=False)


def test_failing_and_timed_out_devices_block_until_fence_confirm(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    needs_fence_dummy()
    assert live.lay is not None
    victim = victim_node(live)
    live.apply(
        device("broken", "fence_hactl_local", "state_dir: /nonexistent/hactl", "  priority: 10\n")
        + device("hangs", "fence_dummy", "type: fail", "  priority: 5\n  timeout: 2s\n")
        + pinned("blocked", victim)
        + "".join(
            f"---\napiVersion: hactl.io/v1\nkind: Node\nmetadata: {{name: {n}}}\n"
            for n in live.nodes
        ),
        "--wait",
    )
    assert live.wait_on("blocked") == [victim]
    t0 = time.time()
    localcluster.stop_node(live.lay, victim, signal.SIGKILL)  # hacd dies, "blocked" runs on
    v = live.wait(
        lambda v: any(h.get("kind") == "result" for h in history(v, victim, t0)),
        "both devices tried and failed",
        timeout=30,
    )
    attempts = [h for h in history(v, victim, t0) if h.get("kind") == "attempt"]
    first, second = attempts[0], attempts[1]
    assert (first["device"], first["level"], first["ok"]) == ("broken", 1, False)
    assert first["rc"] != 0 and "not a directory" in first["output"]
    assert (second["device"], second["level"], second["ok"]) == ("hangs", 2, False)
    assert "timed out" in second["reason"] and 1.5 <= second["duration"] < 10
    for a in (first, second):
        # a FencingDevice reboots by default (Pacemaker's stonith-action)
        assert a["by"] != victim and a["action"] == "reboot" and a["token"] > 0
    [result] = [h for h in history(v, victim, t0) if h.get("kind") == "result"][:1]
    assert not result["ok"] and "broken" in result["reason"] and "hangs" in result["reason"]
    # blocked: not recovered anywhere while the node may still run it
    v = live.wait(
        lambda v: any(f"node {victim} is not fenced" in w for w in v["warnings"]),
        "status says why",
    )
    warning = next(w for w in v["warnings"] if f"node {victim} is not fenced" in w)
    assert "broken" in warning and "hangs" in warning and "fence confirm" in warning
    assert live.where(v, "blocked") in ([], [victim])
    assert not any(live.state_file(n, "blocked").exists() for n in live.nodes if n != victim)
    status = live.hactl("status").stdout
    assert f"node {victim} is not fenced" in status
    hist = live.hactl("fence", "history", victim).stdout
    assert "level 1 broken reboot" in hist and "FAILED" in hist and "timed out" in hist
    described = live.hactl("describe", f"node/{victim}").stdout
    assert "Fencing history:" in described and "level 2 hangs reboot" in described
    # the human powers it off and says so
    power_off_by_hand(live, victim)
    live.hactl("fence", "confirm", victim)
    v = live.wait(
        lambda v: live.where(v, "blocked") not in ([], [victim]) and v["coordinator"]["converged"],
        "recovered after the confirmation",
        timeout=30,
    )
    assert any(h["device"] == "manual" and h["ok"] for h in history(v, victim, t0))
    assert "(manual)" in live.hactl("fence", "history", victim).stdout
    cleanup(live, ("fencingdevice", "broken"), ("fencingdevice", "hangs"))
    cleanup(live, *(("node", n) for n in live.nodes))
    bring_back(live, victim)
    cleanup(live, ("resource", "blocked"), ("location", "blocked-pref"))


def test_topology_first_level_fails_second_fences_then_node_rejoins_cleanly(
    live: LiveCluster, checker: ActiveChecker, tmp_path: Any
) -> None:
    needs_fence_dummy()
    assert live.lay is not None
    victim = victim_node(live)
    topology = (
        "---\napiVersion: hactl.io/v1\nkind: FencingTopology\nmetadata: {name: all-nodes}\n"
        "spec:\n  nodePattern: 'node[0-9]+'\n  levels:\n"
        "    - devices: [dummy-ok, broken]\n    - devices: [power]\n"
    )
    live.apply(
        device("dummy-ok", "fence_dummy", f"type: file, status_file: {tmp_path}/dummy-status")
        + device("broken", "fence_hactl_local", "state_dir: /nonexistent/hactl")
        + device(
            "power",
            "fence_hactl_local",
            f"state_dir: {live.lay.state_dir}",
            "  delayBase: 300ms\n  delayMax: 600ms\n  action: 'off'\n",
        )
        + topology
        + pinned("moved", victim),
        "--wait",
    )
    assert live.wait_on("moved") == [victim]
    t0 = time.time()
    localcluster.stop_node(live.lay, victim, signal.SIGKILL)
    v = live.wait(
        lambda v: live.where(v, "moved") not in ([], [victim]) and v["coordinator"]["converged"],
        "fenced by level 2 and recovered",
        timeout=30,
    )
    [new_home] = live.where(v, "moved")
    assert (live.lay.state_dir / victim / "off").exists(), "level 2 really powered it off"
    attempts = [h for h in history(v, victim, t0) if h.get("kind") == "attempt"]
    tried = [(h["level"], h["device"], h["ok"]) for h in attempts][:3]
    assert tried == [(1, "dummy-ok", True), (1, "broken", False), (2, "power", True)], attempts
    power = attempts[2]
    assert 0.3 <= power["delay"] <= 0.6, "the device's delay was drawn within base..max"
    [done] = [h for h in history(v, victim, t0) if h.get("kind") == "result" and h["ok"]]
    assert done["device"] == "power" and done["level"] == 2
    assert done["at"] - power["at"] >= power["delay"], "the delay ran before the agent"
    assert "level 2 power off" in live.hactl("fence", "history", victim).stdout
    started = live.start_op("moved", new_home)
    # the fenced node comes back: it probes, reports, and nothing starts twice
    cleanup(live, ("fencingtopology", "all-nodes"))
    for d in ("dummy-ok", "broken", "power"):
        cleanup(live, ("fencingdevice", d))
    bring_back(live, victim)
    v = live.wait(
        lambda v: (
            v["coordinator"]["converged"]
            and any(
                o["node"] == victim and o["operation"] == "monitor" and o["intervalMs"] == 0
                for o in (live.resource("moved") or {}).get("operations", [])
            )
        ),
        "the rejoined node probed",
        timeout=30,
    )
    assert live.where(v, "moved") == [new_home], "stickiness keeps it where it was recovered"
    assert live.start_op("moved", new_home) == started, "a healthy resource was restarted"
    assert live.start_op("moved", victim) is None or not live.state_file(victim, "moved").exists()
    cleanup(live, ("resource", "moved"), ("location", "moved-pref"))


def test_failed_stop_escalates_to_fencing(live: LiveCluster, checker: ActiveChecker) -> None:
    assert live.lay is not None
    victim = victim_node(live)
    # every Dummy action sleeps 2s: the stop's 1s timeout makes the stop fail
    ops = (
        "    - {name: start, timeout: 10s}\n    - {name: stop, timeout: 1s}\n"
        "    - {name: monitor, interval: 5s, timeout: 10s}"
    )
    live.apply(
        device(
            "power", "fence_hactl_local", f"state_dir: {live.lay.state_dir}", "  action: 'off'\n"
        )
        + pinned("stuck", victim, params="op_sleep: '2'", ops=ops),
        "--wait",
        "--timeout",
        "40s",
    )
    assert live.wait_on("stuck", timeout=30) == [victim]
    t0 = time.time()
    live.hactl("node", "standby", victim)  # asks for a stop there, which fails
    v = live.wait(
        lambda v: live.where(v, "stuck") not in ([], [victim]) and v["coordinator"]["converged"],
        "the failed stop fenced the node, the resource recovered elsewhere",
        timeout=40,
    )
    assert (live.lay.state_dir / victim / "off").exists(), "the node was not fenced"
    done = [h for h in history(v, victim, t0) if h.get("kind") == "result" and h["ok"]]
    assert done and done[0]["device"] == "power"
    cleanup(live, ("resource", "stuck"), ("location", "stuck-pref"), ("fencingdevice", "power"))
    bring_back(live, victim)
    live.hactl("node", "unstandby", victim)


def test_without_fencing_a_lost_node_is_recovered_only_after_its_lease_expired(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    assert live.lay is not None
    victim = victim_node(live)
    live.apply(
        "apiVersion: hactl.io/v1\nkind: Cluster\nmetadata: {name: cluster}\n"
        "spec: {fencingEnabled: false}\n" + pinned("unfenced", victim),
        "--wait",
    )
    assert live.wait_on("unfenced") == [victim]
    localcluster.stop_node(live.lay, victim, signal.SIGKILL)
    power_off_by_hand(live, victim)  # stands in for the node's own self-stop
    lost = live.wait(
        lambda v: next(n for n in v["nodes"] if n["name"] == victim)["state"] != "online",
        "the lease gone",
        timeout=20,
    )
    t_lost = time.monotonic()
    saw_wait_note = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        v = live.view()
        saw_wait_note = saw_wait_note or any("lease has expired" in w for w in v["warnings"])
        if live.where(v, "unfenced") not in ([], [victim]):
            break
        time.sleep(0.05)
    waited = time.monotonic() - t_lost
    margin = max(1.0, DEFAULT_LEASE_TTL / 2)
    assert live.where(v, "unfenced") not in ([], [victim]), (
        v["warnings"],
        v["coordinator"]["notes"],
    )
    assert waited >= DEFAULT_LEASE_TTL + margin - 0.5, f"recovered after {waited:.2f}s"
    assert saw_wait_note, "the status did not say why recovery waits"
    assert not any(h["node"] == victim and h["at"] > lost["time"] for h in v["fencingHistory"])
    # after the wait the status is not stale: the node is offline, not "waiting for fencing"
    v = live.wait(
        lambda v: (
            next(n for n in v["nodes"] if n["name"] == victim)["state"] == "offline"
            and not any("waiting for fencing" in w for w in v["warnings"])
        ),
        "the status after the lease wait",
        timeout=10,
    )
    assert victim not in live.where(v, "unfenced") and len(live.where(v, "unfenced")) == 1
    live.hactl("delete", "cluster", "cluster")
    bring_back(live, victim)
    cleanup(live, ("resource", "unfenced"), ("location", "unfenced-pref"))
