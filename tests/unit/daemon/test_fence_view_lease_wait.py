"""hactl status after a lost node's lease wait with fencing disabled: no stale
"waiting for fencing" warning, the node is offline, its resource runs only where the
coordinator recovered it. With fencing enabled the warning stays."""

from __future__ import annotations

import json

from reconciler.daemon import keys, state
from reconciler.daemon.view import build_view, lease_expired
from reconciler.model.status import OperationRecord, ResourceHistory
from reconciler.statestore.etcd import Entry


def entry(key: str, value: object, rev: int = 5) -> Entry:
    return Entry(key, json.dumps(value).encode(), rev, rev, 1, 0)


def started(call: int) -> dict[str, object]:
    h = ResourceHistory(
        name="web",
        agent="ocf:pacemaker:Dummy",
        operations=(OperationRecord(operation="start", rc=0, call_id=call),),
    )
    return h.model_dump(by_alias=True)


def cluster(fencing: bool, node3_health: str) -> state.ClusterState:
    entries = [
        entry(keys.desired("Resource", "web"), {"kind": "Resource", "metadata": {"name": "web"}}),
        entry(
            keys.desired("Cluster", "cluster"),
            {
                "kind": "Cluster",
                "metadata": {"name": "cluster"},
                "spec": {"fencingEnabled": fencing},
            },
        ),
        entry(keys.live("node1"), {"address": "127.0.0.1:1"}),
        entry(keys.live("node2"), {"address": "127.0.0.1:2"}),
        entry(keys.history("node3", "web"), started(1)),  # node3 is lost; this is stale
        entry(keys.history("node1", "web"), started(2)),  # recovered here
        entry(
            keys.COORDINATOR,
            {
                "node": "node1",
                "health": {"node1": "online", "node2": "online", "node3": node3_health},
                "notes": [],
            },
        ),
    ]
    return state.parse(entries, 9)


def node_state(v: dict[str, object], name: str) -> str:
    nodes = v["nodes"]
    assert isinstance(nodes, list)
    return str(next(n["state"] for n in nodes if n["name"] == name))


def test_after_the_lease_wait_the_node_is_offline_and_no_fencing_warning() -> None:
    st = cluster(fencing=False, node3_health="offline")
    assert lease_expired(st, ["node1", "node2", "node3"]) == ["node3"]
    v = build_view(st, [], 100.0)
    assert node_state(v, "node3") == "offline"
    assert not [w for w in v["warnings"] if "unclean" in w or "waiting for fencing" in w]
    [web] = v["resources"]
    assert web["nodes"] == ["node1"] and web["state"] == "Started"
    assert not [w for w in v["warnings"] if "active on" in w]


def test_inside_the_lease_wait_no_fencing_warning_either() -> None:
    st = cluster(fencing=False, node3_health="online")  # the coordinator still holds it
    assert lease_expired(st, ["node1", "node2", "node3"]) == []
    v = build_view(st, [], 100.0)
    assert node_state(v, "node3") == "unclean"
    assert not [w for w in v["warnings"] if "waiting for fencing" in w]


def test_with_fencing_enabled_an_unclean_node_still_waits_for_fencing() -> None:
    st = cluster(fencing=True, node3_health="unclean")
    assert lease_expired(st, ["node1", "node2", "node3"]) == []
    v = build_view(st, [], 100.0)
    assert node_state(v, "node3") == "unclean"
    assert "node node3 is unclean: waiting for fencing" in v["warnings"]
