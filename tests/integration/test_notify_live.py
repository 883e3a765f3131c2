"""Clone notifications in a live cluster: the real agent's ``notify`` action runs with
Pacemaker's ``OCF_RESKEY_CRM_meta_notify_*`` environment.

The agent is a small real OCF script (tests/integration/ocf/resource.d/hactltest/notifylog,
found through ``HACTL_OCF_PATH``) that appends one line per notify call to a shared file.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.testing.active_checker import ActiveChecker
from reconciler.testing.livecluster import LiveCluster

BASE_PORT = 25200
OCF_PATH = Path(__file__).resolve().parent / "ocf"


def _missing() -> str | None:
    if shutil.which("etcd") is None:
        return "Debian's etcd-server is not installed (make install as root)"
    if not Path("/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs").exists():
        return "resource-agents (ocf-shellfuncs) is not installed"
    return None


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    why = _missing()
    if why:
        pytest.skip(why)
    old = os.environ.get("HACTL_OCF_PATH")
    os.environ["HACTL_OCF_PATH"] = str(OCF_PATH)  # inherited by hacd and hactl
    c = LiveCluster(tmp_path_factory.mktemp("notify-cluster"), BASE_PORT)
    try:
        c.up()
        yield c
    finally:
        c.down()
        if old is None:
            os.environ.pop("HACTL_OCF_PATH", None)
        else:
            os.environ["HACTL_OCF_PATH"] = old


def manifests(log: Path) -> str:
    return f"""apiVersion: hactl.io/v1
kind: Resource
metadata: {{name: nl}}
spec:
  agent: ocf:hactltest:notifylog
  params: {{log: "{log}"}}
  operations: [{{name: monitor, interval: 10s}}]
---
apiVersion: hactl.io/v1
kind: Clone
metadata: {{name: nl-clone}}
spec: {{resource: nl, notify: true}}
"""


def calls(log: Path) -> list[dict[str, str]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        fields: dict[str, str] = {}
        key = ""
        for word in line.split(" "):
            if "=" in word:
                key, _, value = word.partition("=")
                fields[key] = value
            elif key:  # a list value: "start_resource=nl:0 nl:1"
                fields[key] = f"{fields[key]} {word}".strip()
        out.append(fields)
    return out


def wait_calls(log: Path, pred: object, what: str, timeout: float = 30) -> list[dict[str, str]]:
    assert callable(pred)
    deadline = time.monotonic() + timeout
    got: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        got = calls(log)
        if pred(got):
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; notify calls so far: {got}")


def of(got: list[dict[str, str]], ntype: str, op: str) -> list[dict[str, str]]:
    return [c for c in got if c.get("type") == ntype and c.get("operation") == op]


def test_clone_start_and_stop_notify_the_real_agent(
    live: LiveCluster, checker: ActiveChecker, tmp_path: Path
) -> None:
    log = tmp_path / "notify.log"
    live.apply(manifests(log), "--wait", "--timeout", "40s")
    nodes = sorted(live.wait_on("nl", count=3, timeout=40))
    assert nodes == sorted(live.nodes)

    # post-start: every started instance is told, after its start, who started where
    got = wait_calls(log, lambda g: len(of(g, "post", "start")) == 3, "3 post-start notifications")
    post = of(got, "post", "start")
    assert sorted(c["node"] for c in post) == nodes
    for c in post:
        assert c["running"] == "yes", c  # after the start
        assert sorted(c["start_resource"].split()) == ["nl:0", "nl:1", "nl:2"], c
        assert sorted(c["start_uname"].split()) == nodes, c
        assert c["notify"] == "true" and c["clone_max"] == "3" and c["clone"].isdigit(), c
        assert sorted(c["all_uname"].split()) == nodes, c
    assert not of(got, "pre", "start"), "instances that start get no pre-start notification"

    # one instance stops (its node goes standby): pre-stop to all three, before the stop;
    # post-stop to the two that keep running
    leaving = nodes[-1]
    before = len(got)
    live.hactl("node", "standby", leaving)
    got = wait_calls(
        log,
        lambda g: len(of(g[before:], "post", "stop")) == 2,
        "2 post-stop notifications",
    )[before:]
    pre, post = of(got, "pre", "stop"), of(got, "post", "stop")
    assert sorted(c["node"] for c in pre) == nodes, pre
    assert all(c["running"] == "yes" for c in pre), pre
    assert sorted(c["node"] for c in post) == [n for n in nodes if n != leaving], post
    for c in pre + post:
        assert c["stop_uname"].split() == [leaving], c
        assert len(c["stop_resource"].split()) == 1, c
    assert live.wait_on("nl", count=2, timeout=30)

    live.hactl("node", "unstandby", leaving)
    assert sorted(live.wait_on("nl", count=3, timeout=30)) == nodes
    live.hactl("delete", "clone", "nl-clone")
    live.hactl("delete", "resource", "nl")
    live.wait(lambda v: live.resource("nl") is None and v["coordinator"]["converged"], "deleted")
