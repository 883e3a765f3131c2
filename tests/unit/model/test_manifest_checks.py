"""Cross-object checks: what must be caught, and what must not be (no false alarms)."""

from __future__ import annotations

import pytest

from reconciler.base.errors import ValidationError
from reconciler.model import load_text


def doc(kind: str, name: str, spec: str = "") -> str:
    body = f"spec: {spec}\n" if spec else ""
    return f"---\napiVersion: hactl.io/v1\nkind: {kind}\nmetadata: {{name: {name}}}\n{body}"


def res(name: str, extra: str = "", agent: str = "ocf:heartbeat:Dummy") -> str:
    return doc("Resource", name, f"{{agent: '{agent}'{', ' + extra if extra else ''}}}")


def problems(text: str) -> list[str]:
    try:
        load_text(text, "t.yaml")
    except ValidationError as e:
        return [p.render() for p in e.problems]
    return []


GROUP = res("a") + res("b") + res("c") + doc("Group", "g", "{resources: [a, b, c]}")
DEVICES = doc("FencingDevice", "d1", "{agent: fence_x, hostList: [n1]}") + doc(
    "FencingDevice", "d2", "{agent: fence_x, hostList: [n2]}"
)


@pytest.mark.parametrize(
    "text",
    [
        # orders that agree with the group's own order
        GROUP + doc("Order", "o", "{first: a, then: c}"),
        # an optional order against the group order is no cycle
        GROUP + doc("Order", "o", "{first: c, then: a, kind: Optional}"),
        # symmetrical pair of orders between two resources in one direction
        res("x")
        + res("y")
        + doc("Order", "o1", "{first: x, then: y}")
        + doc("Order", "o2", "{first: y, then: x, firstAction: stop, thenAction: stop}"),
        # promote x then start y, and stop y before x demotes: no cycle across actions
        res("x")
        + doc("Clone", "xc", "{resource: x, promotable: true}")
        + res("y")
        + doc("Order", "o1", "{first: xc, firstAction: promote, then: y, thenAction: start}")
        + doc("Order", "o2", "{first: y, then: xc, firstAction: stop, thenAction: demote}"),
        # location on a member that agrees with the group
        GROUP
        + doc("Location", "l1", "{resource: g, node: n1, score: INFINITY}")
        + doc("Location", "l2", "{resource: a, node: n1, score: INFINITY}"),
        # positive colocation among members is redundant but harmless
        GROUP + doc("Colocation", "c", "{resource: a, withResource: b, score: INFINITY}"),
        # a clone may be required on two nodes at once
        res("x")
        + doc("Clone", "xc", "{resource: x}")
        + doc("Location", "l1", "{resource: xc, node: n1, score: INFINITY}")
        + doc("Location", "l2", "{resource: xc, node: n2, score: INFINITY}"),
        # nodes unknown to a set without Node objects are fine (they may come later)
        res("x") + doc("Location", "l", "{resource: x, node: anywhere, score: 5}"),
        # dynamic-list devices decide at run time
        doc("FencingDevice", "d", "{agent: fence_x}") + doc("Node", "n1") + doc("Cluster", "c"),
        # every node covered by static devices, topology matching them
        DEVICES
        + doc("Node", "n1")
        + doc("Node", "n2")
        + doc("Cluster", "c")
        + doc("FencingTopology", "t1", "{node: n1, levels: [{devices: [d1]}]}"),
        # two voters and two-node mode
        doc("Node", "n1")
        + doc("Node", "n2")
        + doc("Cluster", "c", "{twoNode: true, fencingEnabled: false}"),
        # promoted monitors in a promotable clone
        res(
            "db",
            "operations: [{name: monitor, interval: 10s, role: Promoted}, {name: monitor, interval: 11s, role: Unpromoted}, {name: promote, onFail: demote}]",
            "ocf:pacemaker:Stateful",
        )
        + doc("Clone", "dbc", "{resource: db, promotable: true}"),
    ],
)
def test_valid_sets_raise_no_false_alarm(text: str) -> None:
    assert problems(text) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            res("a")
            + res("b")
            + doc("Order", "o", "{sets: [{resources: [a, b]}, {resources: [a]}]}"),
            "mandatory orders form a cycle",
        ),
        # promoting needs starting first: start y -> start x -> promote x -> start y
        (
            res("x")
            + doc("Clone", "xc", "{resource: x, promotable: true}")
            + res("y")
            + doc("Order", "o1", "{first: xc, firstAction: promote, then: y, thenAction: start}")
            + doc("Order", "o2", "{first: y, then: xc, symmetrical: false}"),
            "mandatory orders form a cycle: xc promote → y start → xc start → xc promote",
        ),
        (
            doc("FencingDevice", "d", "{agent: fence_x, params: {pcmk_host_list: n1}}"),
            "`pcmk_host_list` is a field of FencingDevice here, not an agent parameter "
            "(use `spec.hostList`)",
        ),
        (
            res("x", "operations: [{name: start, interval: 10s}]"),
            "only monitor recurs; start takes no interval",
        ),
        (
            res("x", "operations: [{name: monitor, interval: 5s, onFail: demote}]"),
            "onFail demote applies only to promote and to monitors with role Promoted",
        ),
        (
            res("x", "targetRole: Promoted"),
            "targetRole Promoted needs the resource to be in a promotable Clone",
        ),
        (
            res("x", "operations: [{name: monitor, interval: 5s, role: Promoted}]"),
            "role Promoted needs the resource to be in a promotable Clone",
        ),
        (res("x", "operations: [{name: start, timeout: 0}]"), "a timeout must be above 0"),
        (
            doc("FencingDevice", "d", "{agent: fence_x, operations: [{name: promote}]}"),
            "a fencing device cannot promote",
        ),
        (
            doc("FencingDevice", "d", "{agent: fence_x, hostList: [n1], hostCheck: dynamic-list}"),
            "hostList is ignored with hostCheck dynamic-list",
        ),
        (
            doc(
                "FencingDevice",
                "d",
                "{agent: fence_x, hostList: [n1], delayBase: 5s, delayMax: 5s}",
            ),
            "delayBase (5s) must be below delayMax (5s)",
        ),
        (
            DEVICES
            + doc("FencingTopology", "t1", "{node: n1, levels: [{devices: [d1]}]}")
            + doc("FencingTopology", "t2", "{node: n1, levels: [{devices: [d1]}]}"),
            "FencingTopology 't1' already has levels for this target",
        ),
        (
            DEVICES + doc("FencingTopology", "t1", "{node: n1, levels: [{devices: [d2]}]}"),
            "FencingDevice 'd2' cannot fence 'n1' (it fences n2)",
        ),
        (
            doc("FencingTopology", "t1", "{nodePattern: 'node[', levels: [{devices: [d]}]}")
            + doc("FencingDevice", "d", "{agent: fence_x}"),
            "not a regular expression",
        ),
        (
            DEVICES
            + doc("Node", "n1")
            + doc("Node", "n2")
            + doc("Node", "n3")
            + doc("Cluster", "c"),
            "no FencingDevice can fence node 'n3', and fencing is enabled",
        ),
        (
            doc("Node", "n1")
            + doc("Node", "n2")
            + doc("Node", "w", "{role: witness}")
            + doc("Cluster", "c", "{twoNode: true, fencingEnabled: false}"),
            "twoNode and a witness node exclude each other",
        ),
        (
            doc("Cluster", "c", "{heartbeatInterval: 3s, nodeTimeout: 5s}"),
            "nodeTimeout (5s) must be at least twice heartbeatInterval (3s)",
        ),
        (
            doc("Node", "n1") + doc("Cluster", "c", "{witnessTimeout: 5s, fencingEnabled: false}"),
            "witnessTimeout is set but no Node is a witness",
        ),
        (
            res("x") + doc("Clone", "c1", "{resource: x}") + doc("Clone", "c2", "{resource: c1}"),
            "cannot clone a Clone ('c1')",
        ),
        (
            res("x") + doc("Clone", "c", "{resource: x, targetRole: Promoted}"),
            "targetRole Promoted is only for promotable clones",
        ),
        (
            res("x") + res("y") + doc("Order", "o", "{first: x, firstAction: promote, then: y}"),
            "promote/demote needs 'x' to be a promotable Clone",
        ),
        (res("x") + doc("Group", "g", "{resources: [x, x]}"), "'x' is listed twice"),
        (
            GROUP + doc("Colocation", "c", "{resource: a, withResource: g, score: 100}"),
            "colocating a member of Group 'g' with its own group is circular",
        ),
        (
            res("x")
            + doc(
                "Location",
                "l",
                "{resource: x, rules: [{score: 5, role: Promoted, expressions: [{attribute: a, operation: defined}]}]}",
            ),
            "role Promoted needs 'x' to be a promotable Clone",
        ),
    ],
)
def test_problems_are_found(text: str, fragment: str) -> None:
    found = problems(text)
    assert any(fragment in p for p in found), found
    assert all(p.startswith("t.yaml:") for p in found), found
