"""The daemon's value-level pieces: history entries, observation, state parsing, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.base.errors import ConfigError
from reconciler.controller.fencing import Health
from reconciler.daemon import config, history, keys, planning, selectors, state
from reconciler.daemon.api import kind_of
from reconciler.model.status import OperationRecord, ResourceHistory
from reconciler.statestore.etcd import Entry


def op(
    name: str, rc: int, call: int, interval: int = 0, digest: str | None = None
) -> OperationRecord:
    return OperationRecord(
        operation=name,
        rc=rc,
        call_id=call,
        interval_ms=interval,
        expected_rc=7 if name == "monitor" and interval == 0 else 0,
        digest=digest,
    )


def test_history_keeps_last_last_failure_and_monitors() -> None:
    h = history.record(None, "web", "ocf:heartbeat:Dummy", op("monitor", 7, 1), failed=False)
    h = history.record(
        h, "web", "ocf:heartbeat:Dummy", op("start", 0, 2, digest="d1"), failed=False
    )
    h = history.record(
        h, "web", "ocf:heartbeat:Dummy", op("monitor", 0, 3, interval=1000), failed=False
    )
    assert [o.id for o in h.operations] == ["last", "monitor_1000"]
    h = history.record(
        h, "web", "ocf:heartbeat:Dummy", op("monitor", 7, 4, interval=1000), failed=True
    )
    assert {o.id for o in h.operations} == {"last", "monitor_1000", "last_failure"}
    h = history.record(h, "web", "ocf:heartbeat:Dummy", op("stop", 0, 5), failed=False)
    assert {o.id for o in h.operations} == {"last", "last_failure", "last_stop"}  # no monitors


def test_observe_reads_state_monitors_and_digest() -> None:
    h = ResourceHistory(name="web", operations=(op("monitor", 7, 1),))
    assert planning.observe(h)[0] == "stopped"
    h = history.record(h, "web", "a", op("start", 0, 2, digest="d1"), failed=False)
    h = history.record(h, "web", "a", op("monitor", 0, 3, interval=1000), failed=False)
    assert planning.observe(h) == ("active", frozenset({1000}), "d1")
    h = history.record(h, "web", "a", op("monitor", 7, 4, interval=1000), failed=True)
    assert planning.observe(h)[0] == "failed"
    h = history.record(h, "web", "a", op("stop", 1, 5), failed=True)
    assert planning.observe(h)[0] == "stop_failed"
    assert planning.observe(None) == ("unknown", frozenset(), None)


def entry(key: str, value: object, rev: int = 5) -> Entry:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Entry(key, data, rev, rev, 1, 0)


def test_state_snapshot_and_node_health() -> None:
    running = ResourceHistory(
        name="web", agent="ocf:heartbeat:Dummy", operations=(op("start", 0, 2),)
    )
    entries = [
        entry(
            keys.desired("Resource", "web"),
            {"kind": "Resource", "metadata": {"name": "web"}, "spec": {}},
            7,
        ),
        entry(keys.live("n1"), {"address": "127.0.0.1:1"}),
        entry(keys.history("n2", "web"), running.model_dump(by_alias=True)),
        entry(keys.node_attribute("n3", "standby"), b"on"),
    ]
    st = state.parse(entries, 9)
    assert st.objects("Resource")[0]["metadata"]["resourceVersion"] == "7"
    assert state.active_nodes(st, "web") == ["n2"]
    hs = state.healths(st, ["n1", "n2", "n3"])
    assert hs == {"n1": Health.ONLINE, "n2": Health.UNCLEAN, "n3": Health.OFFLINE}
    st.fencing["n2"] = {"ok": True, "at": 1.0}
    assert state.healths(st, ["n1", "n2", "n3"])["n2"] is Health.OFFLINE
    status = state.observed_status(st, ["n1", "n2", "n3"], now=100.0)
    assert [n.name for n in status.nodes] == ["n1", "n2", "n3"]
    assert status.nodes[2].attributes["standby"] == "on"


def test_selectors_and_kinds() -> None:
    assert selectors.matches("app=web,tier!=db", {"app": "web", "tier": "fe"})
    assert not selectors.matches("app=web", {"app": "db"})
    assert selectors.matches("app", {"app": "x"}) and not selectors.matches("!app", {"app": "x"})
    assert kind_of("rsc") == "Resource" and kind_of("nodes") == "Node"
    assert kind_of("fencingdevices") == "FencingDevice"


def test_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "hacd.yaml"
    bad.write_text(
        "cluster: c\nnode: n1\nlisten: 127.0.0.1:1\ndataDir: /d\nstateDir: /s\nheartbeet: 1\n"
    )
    with pytest.raises(ConfigError, match=r"hacd.yaml: heartbeet"):
        config.load(bad)
    bad.write_text(
        "cluster: c\nnode: n1\nlisten: 127.0.0.1:1\ndataDir: /d\nstateDir: /s\nnodes: {n2: x}\n"
    )
    with pytest.raises(ConfigError, match="not listed"):
        config.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.yaml")
