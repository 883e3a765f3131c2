"""The observed-status model: defaults, validation with file:line, digests, node states."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from reconciler.base.errors import ValidationError
from reconciler.cib.common import Report
from reconciler.cib.digest import op_digest
from reconciler.cib.export_status import membership
from reconciler.cib.import_status import node_state
from reconciler.model.status import (
    NodeState,
    ObservedNode,
    ObservedStatus,
    dump_status_yaml,
    load_status_text,
)

GOOD = """\
apiVersion: hactl.io/v1
kind: ObservedStatus
haveQuorum: false
nodes:
  - name: n1
    attributes: {master-db: 10, pingd: "1"}
    failcounts:
      - {resource: web, operation: monitor, intervalMs: 10000, count: INFINITY}
    resources:
      - name: web
        agent: ocf:heartbeat:apache
        operations:
          - {operation: monitor, callId: 1, rc: 7}
          - {operation: start, callId: 2, rc: 0}
  - name: n2
    state: unclean
"""


def test_load_defaults_and_round_trip() -> None:
    status = load_status_text(GOOD, "s.yaml")
    assert not status.have_quorum
    n1 = status.nodes[0]
    assert n1.state is NodeState.ONLINE
    assert n1.attributes == {"master-db": "10", "pingd": "1"}
    assert n1.failcounts[0].count == 1_000_000
    probe, start = n1.resources[0].operations
    assert probe.is_probe and probe.target_rc == 7
    assert start.target_rc == 0
    assert load_status_text(dump_status_yaml(status)) == status


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (GOOD.replace("state: unclean", "state: lost"), "s.yaml:16:12", "nodes[1].state"),
        (GOOD.replace("callId: 2", "callid: 2"), "s.yaml:14:", "unknown field `callid`"),
        (GOOD.replace("- name: n2", "- name: n1"), "s.yaml:", "listed twice"),
        ("kind: ObservedStatus\nnodes: [", "s.yaml:3:", "invalid YAML"),
        (GOOD + "---\n" + GOOD, "s.yaml", "expected one ObservedStatus document"),
    ],
)
def test_errors_name_file_and_line(text: str, where: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        load_status_text(text, "s.yaml")
    assert where in str(err.value)
    assert message in str(err.value)


def test_digest_matches_pacemaker() -> None:
    # values recorded by Pacemaker in the corpus case failcount-block
    params = {"ip": "192.168.122.107", "cidr_netmask": "12"}
    assert op_digest(params) == "5e4ec167863c63d7f336b0bc1b18fb32"
    assert op_digest(params, 5000, 90000) == "61237efb67ff38ab4c1640440cf2f041"


@pytest.mark.parametrize("stonith", [True, False])
@pytest.mark.parametrize(
    "node",
    [
        ObservedNode(name="a"),
        ObservedNode(name="a", state=NodeState.OFFLINE),
        ObservedNode(name="a", state=NodeState.PENDING),
        ObservedNode(
            name="a", state=NodeState.UNCLEAN, reason="peer is no longer part of the cluster"
        ),
        ObservedNode(
            name="a",
            state=NodeState.UNCLEAN,
            unclean_online=True,
            reason="peer process is no longer available",
        ),
    ],
    ids=["online", "offline", "pending", "unclean", "unclean-online"],
)
def test_exported_membership_reads_back_as_the_same_state(
    node: ObservedNode, stonith: bool
) -> None:
    in_ccm, crmd, join, expected = membership(node)
    el = ET.Element("node_state", crmd=crmd, join=join, expected=expected)
    if in_ccm is not None:
        el.set("in_ccm", in_ccm)
    state, online, reason = node_state(el, stonith, {})
    if not stonith and node.state is NodeState.UNCLEAN and not node.unclean_online:
        assert state is NodeState.OFFLINE  # without fencing a lost node is simply offline
    elif not stonith and node.state is NodeState.PENDING:
        assert state is NodeState.OFFLINE
    elif not stonith and node.state is NodeState.UNCLEAN:
        assert state is NodeState.UNCLEAN
    else:
        assert (state, online, reason) == (node.state, node.unclean_online, node.reason)
    assert Report().warnings == []


def test_status_object_is_frozen() -> None:
    status = ObservedStatus()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        status.have_quorum = False  # type: ignore[misc]
