"""Probes sent while the pass that plans a new Resource runs: exactly the probe steps the
full scheduler plans (ids, agent, parameters, expected rc), and none when in doubt."""

from __future__ import annotations

import json
import time

from reconciler.daemon import keys
from reconciler.daemon.scheduling import early_probes, plan_full
from reconciler.daemon.state import ClusterState
from reconciler.model.status import ResourceHistory
from reconciler.statestore.etcd import Event

NODES = ["n1", "n2", "n3"]


def resource(name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "hactl.io/v1",
        "kind": "Resource",
        "metadata": {"name": name, "resourceVersion": "7"},
        "spec": {
            "agent": "ocf:pacemaker:Dummy",
            "params": {"fake": "x"},
            "operations": [{"name": "monitor", "interval": "10s", "timeout": "15s"}],
            **spec,
        },
    }


def put(kind: str, doc: dict[str, object]) -> Event:
    name = str(doc["metadata"]["name"])  # type: ignore[index]
    return Event("put", keys.desired(kind, name), json.dumps(doc).encode(), 7)


def state(*docs: tuple[str, dict[str, object]]) -> ClusterState:
    st = ClusterState(revision=7, live={n: {"address": f"a-{n}"} for n in NODES})
    for kind, doc in docs:
        st.desired.setdefault(kind.lower(), {})[str(doc["metadata"]["name"])] = doc  # type: ignore[index]
    return st


def test_the_same_probes_the_plan_orders_before_the_start() -> None:
    doc = resource("web")
    st = state()
    st.histories["n2"] = {"web": ResourceHistory(name="web", agent="ocf:pacemaker:Dummy")}
    early = early_probes([put("Resource", doc)], st, busy=())
    assert [a.step.id for a in early] == ["web_monitor_0@n1", "web_monitor_0@n3"]
    del st.histories["n2"]
    early = early_probes([put("Resource", doc)], st, busy=["web_monitor_0@n2"])
    assert [a.step.id for a in early] == ["web_monitor_0@n1", "web_monitor_0@n3"]
    planned = plan_full(
        state(("resource", doc)),
        NODES,
        time.time(),
        coordinator_node="n1",
        fence_agent="",
        fence_params={},
    )
    by_id = {a.step.id: a for a in planned.plan.actions}
    for a in early:
        assert by_id[a.step.id] == a  # same step, agent, params, timeout, expected rc 7
    [start] = [a for a in planned.plan.actions if a.step.operation == "start"]
    assert {a.step.id for a in early} < set(start.step.inputs)


def test_nothing_early_when_membership_or_maintenance_may_change() -> None:
    doc = resource("web")
    group = {"apiVersion": "hactl.io/v1", "kind": "Group", "metadata": {"name": "g"}}
    assert early_probes([put("Resource", doc), put("Group", group)], state(), busy=()) == []
    in_group = state(("group", {"metadata": {"name": "g"}, "spec": {"resources": ["web"]}}))
    assert early_probes([put("Resource", doc)], in_group, busy=()) == []
    cloned = state(("clone", {"metadata": {"name": "c"}, "spec": {"resource": "web"}}))
    assert early_probes([put("Resource", doc)], cloned, busy=()) == []
    quiet = state(("cluster", {"metadata": {"name": "c"}, "spec": {"maintenanceMode": True}}))
    assert early_probes([put("Resource", doc)], quiet, busy=()) == []
    own = resource("web", maintenance=True)
    assert early_probes([put("Resource", own)], state(), busy=()) == []
    deleted = Event("delete", keys.desired("Resource", "web"), b"", 8)
    assert early_probes([deleted], state(), busy=()) == []
