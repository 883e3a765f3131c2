"""Fencing a node whose hacd died without waiting for its lease, on the live cluster.

Real hacd processes, real etcd, the real local fence agent. The node timeout (the
liveness lease TTL) is raised to 8 s here so that "before the lease could have
expired" is a wide, load-proof window: a kill -9 of a node's hacd must start its
fencing well inside it, because the coordinator's connection to the node's agent
port broke and the reconnect was refused. The active-twice checker runs throughout.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.controller.fencing import REFUSED_CAUSE
from reconciler.daemon import localcluster
from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import LiveCluster

BASE_PORT = 25650
NODE_TIMEOUT = 8.0
HEARTBEAT = 0.5
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    if shutil.which("etcd") is None:
        pytest.skip("Debian's etcd-server is not installed (make install as root)")
    if not Path("/usr/lib/ocf/resource.d/pacemaker/Dummy").exists():
        pytest.skip("pacemaker-resource-agents (ocf:pacemaker:Dummy) is not installed")
    d: Path = tmp_path_factory.mktemp("fastfence")
    lay = localcluster.layout(d, 3, BASE_PORT, "etcd")
    localcluster.write_configs(lay)
    localcluster.save_layout(lay)
    for n in lay.nodes:
        cfg = yaml.safe_load(lay.config_path(n).read_text())
        cfg["nodeTimeout"] = NODE_TIMEOUT
        cfg["heartbeat"] = HEARTBEAT
        lay.config_path(n).write_text(yaml.safe_dump(cfg))
    c = LiveCluster(d, BASE_PORT)
    c.up()
    try:
        yield c
    finally:
        c.down()


def pinned(rsc: str, node: str) -> str:
    return (
        f"---\napiVersion: hactl.io/v1\nkind: Resource\nmetadata: {{name: {rsc}}}\n"
        f"spec:\n  agent: ocf:pacemaker:Dummy\n  stickiness: 100\n"
        f"  operations:\n    - {{name: monitor, interval: 5s}}\n"
        f"---\napiVersion: hactl.io/v1\nkind: Location\nmetadata: {{name: {rsc}-pref}}\n"
        f"spec: {{resource: {rsc}, node: {node}, score: 50}}\n"
    )


def victim_node(live: LiveCluster) -> str:
    coord = live.wait(lambda v: v["coordinator"]["node"], "a coordinator")["coordinator"]["node"]
    return next(n for n in reversed(live.nodes) if n != coord)


def history(v: dict[str, Any], node: str, since: float) -> list[dict[str, Any]]:
    return [h for h in v["fencingHistory"] if h["node"] == node and h["at"] >= since]


def test_kill_9_of_hacd_is_fenced_before_its_lease_expires(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    assert live.lay is not None
    victim = victim_node(live)
    live.apply(pinned("fast", victim), "--wait")
    assert live.wait_on("fast") == [victim]
    t0 = time.time()
    localcluster.stop_node(live.lay, victim, signal.SIGKILL)  # hacd dies; "fast" runs on
    v = live.wait(
        lambda v: live.where(v, "fast") not in ([], [victim]) and v["coordinator"]["converged"],
        "fenced and recovered",
        timeout=30,
    )
    recovered = time.time()
    # the lease was renewed at most one heartbeat before the kill: it cannot have
    # expired before t0 + NODE_TIMEOUT - HEARTBEAT, so anything earlier was the port
    lease_floor = t0 + NODE_TIMEOUT - HEARTBEAT
    attempts = [h for h in history(v, victim, t0) if h.get("kind") == "attempt"]
    assert attempts, v["fencingHistory"]
    first = attempts[0]
    assert first["at"] < lease_floor, (first["at"] - t0, "fencing waited for the lease")
    assert first["cause"] == REFUSED_CAUSE and first["ok"] and first["action"] == "off"
    [done] = [h for h in history(v, victim, t0) if h.get("kind") == "result"]
    assert done["ok"] and done["cause"] == REFUSED_CAUSE
    assert first["at"] <= done["at"] < recovered, "resources moved only after the fencing"
    assert recovered < lease_floor, (recovered - t0, "recovery waited for the lease")
    assert (live.lay.state_dir / victim / "off").exists(), "the local agent powered it off"
    events = live.hactl("events").stdout
    assert f"fenced {victim}" in events and REFUSED_CAUSE in events
    # it comes back (power on): it rejoins, probes, and nothing starts twice
    [home] = live.where(v, "fast")
    started = live.start_op("fast", home)
    localcluster.start_node(live.lay, victim)
    v = live.wait(
        lambda v: all(x["state"] == "online" for x in v["nodes"]) and v["coordinator"]["converged"],
        f"{victim} back",
        30,
    )
    assert live.where(v, "fast") == [home]
    assert live.start_op("fast", home) == started
    live.hactl("delete", "resource", "fast", check=False)
    live.hactl("delete", "location", "fast-pref", check=False)


def test_a_node_that_stops_cleanly_is_not_fenced(live: LiveCluster, checker: ActiveChecker) -> None:
    """SIGTERM: hacd stops its resources and drops its lease before its port closes."""
    assert live.lay is not None
    victim = victim_node(live)
    live.apply(pinned("clean", victim), "--wait")
    assert live.wait_on("clean") == [victim]
    t0 = time.time()
    localcluster.stop_node(live.lay, victim, signal.SIGTERM)
    v = live.wait(
        lambda v: live.where(v, "clean") not in ([], [victim]) and v["coordinator"]["converged"],
        "moved after a clean stop",
        timeout=30,
    )
    assert history(v, victim, t0) == [], "a cleanly stopped node was fenced"
    localcluster.start_node(live.lay, victim)
    live.wait(lambda v: all(x["state"] == "online" for x in v["nodes"]), f"{victim} back", 30)
    live.hactl("delete", "resource", "clean", check=False)
    live.hactl("delete", "location", "clean-pref", check=False)


def test_reboot_action_the_node_comes_back_and_rejoins_cleanly(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    """A FencingDevice reboots by default (Pacemaker's stonith-action): the local agent
    kills everything of the node and clears its tmpfs; the node's hacd starts again (what
    its init system does after a reboot), probes, and nothing starts twice."""
    assert live.lay is not None
    victim = victim_node(live)
    nodes = ", ".join(live.nodes)
    live.apply(
        "apiVersion: hactl.io/v1\nkind: FencingDevice\nmetadata: {name: local}\n"
        f"spec:\n  agent: fence_hactl_local\n  params: {{state_dir: {live.lay.state_dir}}}\n"
        f"  hostList: [{nodes}]\n" + pinned("boot", victim),
        "--wait",
    )
    assert live.wait_on("boot") == [victim]
    t0 = time.time()
    localcluster.stop_node(live.lay, victim, signal.SIGKILL)
    v = live.wait(
        lambda v: live.where(v, "boot") not in ([], [victim]) and v["coordinator"]["converged"],
        "rebooted and recovered",
        timeout=30,
    )
    [home] = live.where(v, "boot")
    recs = history(v, victim, t0)
    assert [(h["kind"], h["device"], h["action"], h["ok"]) for h in recs] == [
        ("attempt", "local", "reboot", True),
        ("result", "local", "reboot", True),
    ], recs
    assert not (live.lay.state_dir / victim / "off").exists(), "a reboot leaves it powered on"
    assert not live.state_file(victim, "boot").exists(), "the reboot cleared its tmpfs"
    assert "level 1 local reboot" in live.hactl("fence", "history", victim).stdout
    started = live.start_op("boot", home)
    localcluster.start_node(live.lay, victim)  # its init system starts hacd after the boot
    v = live.wait(
        lambda v: (
            all(x["state"] == "online" for x in v["nodes"])
            and v["coordinator"]["converged"]
            and any(
                o["node"] == victim and o["operation"] == "monitor" and o["intervalMs"] == 0
                for o in (live.resource("boot") or {}).get("operations", [])
            )
        ),
        f"{victim} rejoined and probed",
        timeout=30,
    )
    assert live.where(v, "boot") == [home], "stickiness keeps it where it was recovered"
    assert live.start_op("boot", home) == started, "a healthy resource was restarted"
    assert live.start_op("boot", victim) is None
    for kind, name in (("resource", "boot"), ("location", "boot-pref"), ("fencingdevice", "local")):
        live.hactl("delete", kind, name, check=False)


def test_kill_9_of_the_coordinator_is_fenced_before_its_lease_expires(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    """The election key lives under the coordinator's lease: the other nodes end that
    lease when its agent port refuses, so the next coordinator takes over and fences it
    without waiting for the TTL."""
    assert live.lay is not None
    coord = live.wait(lambda v: v["coordinator"]["node"], "a coordinator")["coordinator"]["node"]
    live.apply(pinned("lead", coord), "--wait")
    assert live.wait_on("lead") == [coord]
    t0 = time.time()
    localcluster.stop_node(live.lay, coord, signal.SIGKILL)
    v = live.wait(
        lambda v: (
            live.where(v, "lead") not in ([], [coord])
            and v["coordinator"]["converged"]
            and v["coordinator"]["node"] not in (None, coord)
        ),
        "a new coordinator fenced the old one and recovered its resource",
        timeout=30,
    )
    recovered = time.time()
    lease_floor = t0 + NODE_TIMEOUT - HEARTBEAT
    recs = history(v, coord, t0)
    assert recs and recs[0]["at"] < lease_floor and recs[-1]["ok"], recs
    assert recovered < lease_floor, (recovered - t0, "the takeover waited for the lease")
    assert (live.lay.state_dir / coord / "off").exists(), "the local agent powered it off"
    localcluster.start_node(live.lay, coord)
    live.wait(lambda v: all(x["state"] == "online" for x in v["nodes"]), f"{coord} back", 30)
    live.hactl("delete", "resource", "lead", check=False)
    live.hactl("delete", "location", "lead-pref", check=False)
