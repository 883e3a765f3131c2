"""The live cluster end to end: real hacd processes, real etcd, real OCF agents.

Every test runs with the checker that samples every node's ground truth and
fails if a resource is ever active on two nodes.
"""

from __future__ import annotations

import time

import pytest

from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import LiveCluster

BASE_PORT = 25100
pytestmark = pytest.mark.slow


def dummy(name: str, *, extra: str = "", monitor: str = "1s", params: str = "") -> str:
    return f"""
apiVersion: hactl.io/v1
kind: Resource
metadata: {{name: {name}, labels: {{test: live}}}}
spec:
  agent: ocf:pacemaker:Dummy
  params: {{{params}}}
  operations:
    - {{name: monitor, interval: {monitor}}}
{extra}
"""


def test_apply_runs_then_delete_stops(live: LiveCluster, checker: ActiveChecker) -> None:
    out = live.apply(dummy("web-a"), "--wait", "--timeout", "20s")
    assert "resource/web-a created" in out.stdout
    [node] = live.wait_on("web-a")
    found = [n for n in live.nodes if live.state_file(n, "web-a").exists()]
    assert found == [node], f"the cluster says {node}, the disk says {found}"
    again = live.apply(dummy("web-a"))
    assert "resource/web-a unchanged" in again.stdout
    got = live.hactl("get", "resources", "web-a").stdout
    assert "web-a" in got and "Started" in got and node in got
    live.hactl("delete", "resource", "web-a")
    live.wait(lambda v: live.resource("web-a") is None and v["coordinator"]["converged"], "deleted")
    deadline = time.monotonic() + 10
    while live.state_file(node, "web-a").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not live.state_file(node, "web-a").exists(), "the resource was not stopped"


def test_outputs_diff_describe_events_restart(live: LiveCluster, checker: ActiveChecker) -> None:
    import json

    live.apply(dummy("out", params="fake: a"), "--wait")
    [node] = live.wait_on("out")
    data = json.loads(live.hactl("get", "rsc", "out", "-o", "json").stdout)
    assert data["metadata"]["name"] == "out" and data["status"]["nodes"] == [node]
    assert data["metadata"]["generation"] == 1 and data["metadata"]["resourceVersion"]
    assert live.hactl("get", "resources", "-o", "name").stdout.split() == ["resource/out"]
    assert "kind: Resource" in live.hactl("get", "rsc", "out", "-o", "yaml").stdout
    labelled = live.hactl("get", "rsc", "-l", "test=live", "-o", "name").stdout.split()
    assert labelled == ["resource/out"]
    assert live.hactl("get", "rsc", "-l", "test=other", "-o", "name").stdout.strip() == ""
    wide = live.hactl("get", "resources", "-o", "wide").stdout
    assert "PLACEMENT" in wide and node in wide
    same = live.directory / "same.yaml"
    same.write_text(dummy("out", params="fake: a"))
    assert live.hactl("diff", "-f", str(same), check=False).returncode == 0
    same.write_text(dummy("out", params="fake: b"))
    d = live.hactl("diff", "-f", str(same), check=False)
    assert d.returncode == 1 and "+    fake: b" in d.stdout and "-    fake: a" in d.stdout
    assert "Transition Summary (predicted):" in d.stdout
    assert "Restart" in d.stdout and "out" in d.stdout, d.stdout  # a parameter change restarts
    desc = live.hactl("describe", "rsc/out").stdout
    assert "Active on:  " + node in desc and "start" in desc and "Events:" in desc
    live.hactl("export", "--dir", str(live.directory / "export"))
    sim = live.hactl(
        "simulate",
        "-f", str(live.directory / "export" / "manifests.yaml"),
        "--status", str(live.directory / "export" / "status.yaml"),
        "--node-fail", node, check=False,
    )  # fmt: skip
    assert sim.returncode == 0 and "out" in sim.stdout, sim.stdout + sim.stderr
    status = json.loads(live.hactl("status", "-o", "json").stdout)
    assert {"nodes", "resources", "warnings", "coordinator", "events"} <= set(status)
    first = live.start_op("out", node)
    assert "out restarted" in live.hactl("restart", "out").stdout
    live.wait(
        lambda v: (
            (live.start_op("out", live.where(v, "out")[0] if live.where(v, "out") else node) or 0)
            > (first or 0)
        ),
        "restart",
    )
    assert "start out" in live.hactl("events").stdout
    live.hactl("delete", "-f", str(same))
    live.wait(lambda v: live.resource("out") is None, "deleted by file")


def test_update_params_restarts_in_place(live: LiveCluster, checker: ActiveChecker) -> None:
    live.apply(dummy("upd", params="fake: one"), "--wait")
    [node] = live.wait_on("upd")
    first = live.start_op("upd", node)
    out = live.apply(dummy("upd", params="fake: two"), "--wait")
    assert "resource/upd configured" in out.stdout
    live.wait(lambda v: (live.start_op("upd", node) or 0) > (first or 0), "a restart")
    assert live.wait_on("upd") == [node]
    live.hactl("delete", "resource", "upd")


def test_standby_moves_and_back_with_stickiness(live: LiveCluster, checker: ActiveChecker) -> None:
    extra = "  stickiness: 100\n---\napiVersion: hactl.io/v1\nkind: Location\nmetadata: {name: sticky-pref}\nspec: {resource: sticky, node: node1, score: 50}\n"
    live.apply(dummy("sticky", extra=extra), "--wait")
    assert live.wait_on("sticky") == ["node1"]
    live.hactl("node", "standby", "node1")
    v = live.wait(
        lambda v: live.where(v, "sticky") not in ([], ["node1"]) and v["coordinator"]["converged"],
        "move off node1",
    )
    [moved] = live.where(v, "sticky")
    assert moved != "node1"
    status = live.hactl("status").stdout
    assert "standby" in status
    live.hactl("node", "unstandby", "node1")
    live.wait(lambda v: v["coordinator"]["converged"], "converged after unstandby")
    time.sleep(1.0)  # give a wrong decision the chance to show; stickiness 100 > preference 50
    assert live.wait_on("sticky") == [moved], "stickiness was not respected"
    live.hactl("delete", "location", "sticky-pref")
    live.hactl("delete", "resource", "sticky")


def test_monitor_failure_restarts_then_moves_then_cleanup(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    live.apply(
        dummy("flaky", extra="  migrationThreshold: 2\n  stickiness: 10\n", monitor="500ms"),
        "--wait",
    )
    [node] = live.wait_on("flaky")
    first = live.start_op("flaky", node)
    live.state_file(node, "flaky").unlink()  # the service "crashes"
    live.wait(
        lambda v: (
            (live.start_op("flaky", node) or 0) > (first or 0) and live.where(v, "flaky") == [node]
        ),
        "a restart in place",
    )
    r = live.resource("flaky")
    assert r is not None and r["failcounts"].get(node) == 1
    live.wait_on("flaky")
    live.state_file(node, "flaky").unlink()  # second failure: migrationThreshold reached
    v = live.wait(lambda v: live.where(v, "flaky") not in ([], [node]), "a move after 2 failures")
    assert live.where(v, "flaky") != [node]
    status = live.hactl("status").stdout
    assert "Failed Resource Actions" in status and "flaky" in status
    live.hactl("cleanup", "flaky")
    live.wait(lambda v: not (live.resource("flaky") or {}).get("failcounts"), "failcounts cleared")
    [where] = live.wait_on("flaky")
    live.hactl("refresh", "flaky")  # forget the history: re-probed and found where it runs
    assert live.wait_on("flaky") == [where]
    live.hactl("delete", "resource", "flaky")


def test_move_ban_clear(live: LiveCluster, checker: ActiveChecker) -> None:
    live.apply(dummy("mv"), "--wait")
    [start] = live.wait_on("mv")
    target = next(n for n in live.nodes if n != start)
    live.hactl("move", "mv", "--to", target)
    live.wait(lambda v: live.where(v, "mv") == [target] and v["coordinator"]["converged"], "move")
    assert "cli-prefer-mv" in live.hactl("status").stdout
    live.hactl("ban", "mv")
    v = live.wait(lambda v: live.where(v, "mv") not in ([], [target]), "ban moves it off")
    assert target not in live.where(v, "mv")
    live.hactl("clear", "mv")
    v = live.view()
    assert not [c for c in v["constraints"] if c["resource"] == "mv"]
    live.hactl("delete", "resource", "mv")


def test_maintenance_means_no_actions(live: LiveCluster, checker: ActiveChecker) -> None:
    live.apply(
        dummy(
            "mnt",
            extra="---\napiVersion: hactl.io/v1\nkind: Location\nmetadata: {name: mnt-pin}\nspec: {resource: mnt, node: node2, score: INFINITY}\n",
        ),
        "--wait",
    )
    assert live.wait_on("mnt") == ["node2"]
    live.hactl("node", "maintenance", "node2")
    live.hactl("disable", "mnt")
    time.sleep(1.5)
    assert live.state_file("node2", "mnt").exists(), "an action ran on a node in maintenance"
    waited = live.hactl("wait", "rsc/mnt", "--for", "stopped", "--timeout", "1s", check=False)
    assert waited.returncode == 4 and "timed out" in waited.stderr  # the documented exit code
    assert "maintenance" in live.hactl("status").stdout
    live.hactl("node", "maintenance", "node2", "--off")
    live.wait(
        lambda v: live.where(v, "mnt") == [] and v["coordinator"]["converged"],
        "stopped after maintenance",
    )
    live.hactl("delete", "location", "mnt-pin")
    live.hactl("delete", "resource", "mnt")


def test_kill_coordinator_elects_a_new_one_and_leaves_healthy_resources_alone(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    assert live.lay is not None
    v = live.view()
    coord = v["coordinator"]["node"]
    others = [n for n in live.nodes if n != coord]
    pins = "".join(
        f"---\napiVersion: hactl.io/v1\nkind: Location\nmetadata: {{name: pin-{n}}}\nspec: {{resource: on-{n}, node: {n}, score: INFINITY}}\n"
        + dummy(f"on-{n}").replace("\napiVersion", "---\napiVersion", 1)
        for n in others
    )
    live.apply(pins.lstrip("-\n"), "--wait")
    for n in others:
        assert live.wait_on(f"on-{n}") == [n]
    before = {n: live.start_op(f"on-{n}", n) for n in others}
    token = v["coordinator"]["token"]
    localcluster_kill(live, coord)
    v = live.wait(
        lambda v: v["coordinator"]["node"] in others and v["coordinator"]["token"] != token,
        "a new coordinator",
        timeout=15,
    )
    assert v["coordinator"]["token"] > token, "fencing tokens must grow"
    # the deposed coordinator's token is refused by every agent, even one the new
    # coordinator never dispatched to (agents follow the election key)
    import asyncio

    from reconciler.controller.dispatch import Action
    from reconciler.transport.agent_api import AgentClient

    async def stale(address: str) -> tuple[bool, str]:
        c = AgentClient()
        try:
            o = await c.execute(
                address,
                Action(token, "probe-x", "on-x", "monitor", "ocf:pacemaker:Dummy"),
                10,
            )
            return o.refused, o.reason
        finally:
            await c.close()

    for i, n in enumerate(live.nodes):
        if n != coord:
            refused, reason = asyncio.run(stale(live.lay.api(i)))
            assert refused and "stale fencing token" in reason, reason
    live.wait(lambda v: v["coordinator"]["converged"], "converged under the new coordinator")
    for n in others:
        assert live.where(live.view(), f"on-{n}") == [n]
        assert live.start_op(f"on-{n}", n) == before[n], "a healthy resource was restarted"
    from reconciler.daemon import localcluster

    localcluster.start_node(live.lay, coord)
    live.wait(lambda v: all(x["state"] == "online" for x in v["nodes"]), "the node back", 20)
    for n in others:
        live.hactl("delete", "resource", f"on-{n}")
        live.hactl("delete", "location", f"pin-{n}")


def localcluster_kill(live: LiveCluster, node: str) -> None:
    import signal

    from reconciler.daemon import localcluster

    assert live.lay is not None
    localcluster.stop_node(live.lay, node, signal.SIGKILL)


def test_whole_cluster_restart_brings_everything_back_once(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    assert live.lay is not None
    live.apply(
        dummy(
            "persist",
            extra="---\napiVersion: hactl.io/v1\nkind: Location\nmetadata: {name: persist-pref}\nspec: {resource: persist, node: node3, score: 100}\n",
        ),
        "--wait",
    )
    assert live.wait_on("persist") == ["node3"]
    live.down()
    assert not live.state_file("node3", "persist").exists(), "a clean stop stops resources"
    live.up()
    assert live.wait_on("persist", timeout=30) == ["node3"]
    r = live.resource("persist")
    assert r is not None
    starts = [o for o in r["operations"] if o["operation"] == "start"]
    assert len(starts) == 1, f"started more than once: {starts}"
    live.hactl("delete", "resource", "persist")
    live.hactl("delete", "location", "persist-pref")


def test_kill_node_running_a_resource_fences_then_recovers(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    import signal

    from reconciler.daemon import localcluster

    assert live.lay is not None
    live.apply(dummy("victim-rsc", extra="  stickiness: 100\n"), "--wait")
    [node] = live.wait_on("victim-rsc")
    localcluster.stop_node(live.lay, node, signal.SIGKILL)  # hacd dies; the resource "runs" on
    v = live.wait(
        lambda v: live.where(v, "victim-rsc") not in ([], [node]) and v["coordinator"]["converged"],
        "recovery elsewhere after fencing",
        timeout=30,
    )
    assert (live.lay.state_dir / node / "off").exists(), "the node was not fenced"
    assert any(h["node"] == node and h["ok"] for h in v["fencingHistory"])
    localcluster.start_node(live.lay, node)
    live.wait(lambda v: all(x["state"] == "online" for x in v["nodes"]), "the node rejoins", 20)
    live.wait(lambda v: v["coordinator"]["converged"], "converged after the rejoin")
    assert len(live.where(live.view(), "victim-rsc")) == 1
    live.hactl("delete", "resource", "victim-rsc")


def test_fence_verb_powers_a_node_off_and_history_shows_it(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    from reconciler.daemon import localcluster

    assert live.lay is not None
    victim = "node3"
    live.hactl("fence", victim)
    v = live.wait(
        lambda v: (
            any(h["node"] == victim and h["ok"] for h in v["fencingHistory"])
            and next(n for n in v["nodes"] if n["name"] == victim)["state"] != "online"
        ),
        "node3 fenced",
        timeout=30,
    )
    assert (live.lay.state_dir / victim / "off").exists()
    assert victim in live.hactl("fence", "history").stdout
    out = live.hactl("fence", "confirm", "node1", check=False)
    assert out.returncode == 1 and "online" in out.stderr  # an online node cannot be confirmed off
    localcluster.start_node(live.lay, victim)
    live.wait(lambda v: all(x["state"] == "online" for x in v["nodes"]), "node3 back", 20)
    del v


def test_ban_with_lifetime_expires_and_the_coordinator_rechecks(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    pref = "---\napiVersion: hactl.io/v1\nkind: Location\nmetadata: {name: tmp-pref}\nspec: {resource: tmp, node: node1, score: 100}\n"
    live.apply(dummy("tmp", extra=pref), "--wait")
    assert live.wait_on("tmp") == ["node1"]
    live.hactl("ban", "tmp", "--node", "node1", "--lifetime", "3s")
    v = live.wait(lambda v: live.where(v, "tmp") not in ([], ["node1"]), "banned off node1")
    assert "node1" not in live.where(v, "tmp")
    # nothing else changes: only the scheduled recheck at the lifetime's end brings it back
    live.wait(lambda v: live.where(v, "tmp") == ["node1"], "back on node1 after expiry", 20)
    live.hactl("clear", "tmp")
    live.hactl("delete", "location", "tmp-pref")
    live.hactl("delete", "resource", "tmp")


def test_clone_everywhere_with_a_colocated_ordered_dependant(
    live: LiveCluster, checker: ActiveChecker
) -> None:
    checker.clones.add("ping")  # a clone is active on every node by design
    text = (
        dummy("ping")
        + "---\napiVersion: hactl.io/v1\nkind: Clone\nmetadata: {name: ping-clone}\nspec: {resource: ping}\n"
        + "---\n"
        + dummy("app").lstrip()
        + "---\napiVersion: hactl.io/v1\nkind: Colocation\nmetadata: {name: app-with-ping}\n"
        "spec: {resource: app, withResource: ping-clone, score: INFINITY}\n"
        "---\napiVersion: hactl.io/v1\nkind: Order\nmetadata: {name: ping-then-app}\n"
        "spec: {first: ping-clone, then: app}\n"
    )
    live.apply(text, "--wait", "--timeout", "30s")
    v = live.wait(
        lambda v: len(live.where(v, "ping")) == 3 and live.where(v, "app"), "clone on 3 nodes"
    )
    [app_node] = live.where(v, "app")
    for n in live.nodes:
        assert live.state_file(n, "ping").exists()
    assert "Clone Set: ping-clone [ping]" in live.hactl("status").stdout
    live.hactl("node", "standby", app_node)
    v = live.wait(
        lambda v: live.where(v, "app") not in ([], [app_node]) and len(live.where(v, "ping")) == 2,
        "app and the clone leave the standby node",
    )
    live.hactl("node", "unstandby", app_node)
    live.wait(lambda v: len(live.where(v, "ping")) == 3, "the clone back on 3 nodes")
    for kind, name in (
        ("order", "ping-then-app"),
        ("colocation", "app-with-ping"),
        ("clone", "ping-clone"),
        ("resource", "app"),
        ("resource", "ping"),
    ):
        live.hactl("delete", kind, name)
    live.wait(lambda v: not live.where(v, "ping") and not live.where(v, "app"), "all stopped")
