"""Bad manifests: each gives a clear error naming the file, the line and the field.

Every case writes one or more files and asserts that loading them fails with a problem in
the expected file, on the expected line (the line marked ``#<`` in that file, or an explicit
line number), whose rendered text contains the expected fragment. Never a traceback.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from manifest_helpers import problems_in

from reconciler.base.errors import Problem
from reconciler.model import parse_paths


def res(name: str, body: str = "", agent: str = "ocf:heartbeat:Dummy") -> str:
    return (
        f"---\napiVersion: hactl.io/v1\nkind: Resource\nmetadata: {{name: {name}}}\n"
        f"spec:\n  agent: {agent}\n{body}"
    )


def obj(kind: str, name: str, spec: str) -> str:
    return f"---\napiVersion: hactl.io/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n{spec}"


def node(name: str) -> str:
    return f"---\napiVersion: hactl.io/v1\nkind: Node\nmetadata: {{name: {name}}}\n"


GROUP_WEB = res("fs") + res("ip") + res("srv") + obj("Group", "web", "  resources: [fs, ip, srv]\n")

# (id, files, file with the error, fragment of the rendered problem, explicit line or None)
CASES: list[tuple[str, dict[str, str | bytes], str, str, int | None]] = [
    # --- YAML itself -----------------------------------------------------------------------
    (
        "yaml-unclosed-flow",
        {"a.yaml": res("x", "  params: {a: [1, 2} #<\n")},
        "a.yaml",
        "invalid YAML",
        None,
    ),
    (
        "yaml-bad-indent",
        {"a.yaml": "apiVersion: hactl.io/v1\nkind: Resource\n  metadata: x #<\n"},
        "a.yaml",
        "invalid YAML",
        None,
    ),
    (
        "yaml-tab-indent",
        {"a.yaml": "apiVersion: hactl.io/v1\nkind: Node\nmetadata:\n\tname: n #<\n"},
        "a.yaml",
        "invalid YAML",
        None,
    ),
    (
        "yaml-duplicate-key",
        {"a.yaml": res("x", "  priority: 1\n  priority: 2 #<\n")},
        "a.yaml",
        "duplicate key `priority`",
        None,
    ),
    (
        "yaml-python-tag",
        {"a.yaml": res("x", "  params: !!python/object/apply:os.system [ls] #<\n")},
        "a.yaml",
        "unsupported YAML tag",
        None,
    ),
    (
        "yaml-merge-key",
        {"a.yaml": "base: &b {x: 1}\nother:\n  <<: *b #<\n"},
        "a.yaml",
        "merge keys",
        None,
    ),
    ("empty-file", {"a.yaml": ""}, "a.yaml", "empty file", 1),
    ("only-comments", {"a.yaml": "# nothing here\n# at all\n"}, "a.yaml", "empty file", 1),
    (
        "binary-garbage",
        {"a.yaml": b"\x7fELF\x02\x01\x01\x00\x00\x00garbage"},
        "a.yaml",
        "binary data",
        1,
    ),
    (
        "not-utf8",
        {"a.yaml": b"apiVersion: hactl.io/v1\nkind: Node\nmetadata: {name: \xff\xfe}\n"},
        "a.yaml",
        "not UTF-8",
        3,
    ),
    (
        "control-chars",
        {"a.yaml": "apiVersion: hactl.io/v1\nkind: Node\x07\n"},
        "a.yaml",
        "invalid YAML",
        2,
    ),
    ("too-deep", {"a.yaml": "a: " + "[" * 200 + "]" * 200 + "\n"}, "a.yaml", "nested more than", 1),
    # --- document shape ---------------------------------------------------------------------
    (
        "doc-is-list",
        {"a.yaml": "- apiVersion: hactl.io/v1 #<\n- kind: Node\n"},
        "a.yaml",
        "must be a mapping, not list",
        None,
    ),
    (
        "doc-is-scalar",
        {"a.yaml": "just a string #<\n"},
        "a.yaml",
        "must be a mapping, not str",
        None,
    ),
    (
        "missing-apiversion",
        {"a.yaml": "kind: Node #<\nmetadata: {name: n}\n"},
        "a.yaml",
        "missing `apiVersion`",
        None,
    ),
    (
        "wrong-apiversion",
        {"a.yaml": "apiVersion: v1 #<\nkind: Node\nmetadata: {name: n}\n"},
        "a.yaml",
        "unsupported apiVersion 'v1' (use `hactl.io/v1`)",
        None,
    ),
    (
        "missing-kind",
        {"a.yaml": "apiVersion: hactl.io/v1 #<\nmetadata: {name: n}\n"},
        "a.yaml",
        "missing `kind`",
        None,
    ),
    (
        "unknown-kind",
        {"a.yaml": "apiVersion: hactl.io/v1\nkind: Resorce #<\nmetadata: {name: n}\n"},
        "a.yaml",
        "unknown kind 'Resorce' (did you mean `Resource`?)",
        None,
    ),
    (
        "missing-metadata",
        {"a.yaml": "apiVersion: hactl.io/v1 #<\nkind: Node\n"},
        "a.yaml",
        "missing required field `metadata`",
        None,
    ),
    (
        "bad-name",
        {"a.yaml": "apiVersion: hactl.io/v1\nkind: Node\nmetadata:\n  name: 'web server!' #<\n"},
        "a.yaml",
        "metadata.name: 'web server!' is not valid: a name has letters",
        None,
    ),
    (
        "name-too-long",
        {"a.yaml": f"apiVersion: hactl.io/v1\nkind: Node\nmetadata: {{name: {'n' * 64}}} #<\n"},
        "a.yaml",
        "at most 63 characters",
        None,
    ),
    # --- fields and types -------------------------------------------------------------------
    (
        "unknown-field-snake",
        {"a.yaml": res("x", "  migration_threshold: 3 #<\n")},
        "a.yaml",
        "spec.migration_threshold: unknown field `migration_threshold` (did you mean `migrationThreshold`?)",
        None,
    ),
    (
        "unknown-field-pacemaker",
        {"a.yaml": res("x", "  resource-stickiness: 100 #<\n")},
        "a.yaml",
        "did you mean `stickiness`?",
        None,
    ),
    (
        "unknown-field-typo",
        {"a.yaml": res("x", "  operations:\n    - name: monitor\n      intervall: 10s #<\n")},
        "a.yaml",
        "spec.operations[0].intervall: unknown field `intervall` (did you mean `interval`?)",
        None,
    ),
    (
        "wrong-type-bool",
        {"a.yaml": res("x", "  managed: maybe #<\n")},
        "a.yaml",
        "spec.managed: expected true or false, got 'maybe'",
        None,
    ),
    (
        "wrong-type-int",
        {"a.yaml": res("x", "  priority: high #<\n")},
        "a.yaml",
        "spec.priority: expected an integer, got 'high'",
        None,
    ),
    (
        "bad-duration",
        {"a.yaml": res("x", "  operations:\n    - {name: monitor, interval: 10x} #<\n")},
        "a.yaml",
        "spec.operations[0].interval: not a duration: '10x'",
        None,
    ),
    (
        "negative-duration",
        {"a.yaml": res("x", "  failureTimeout: -5 #<\n")},
        "a.yaml",
        "spec.failureTimeout: a duration cannot be negative",
        None,
    ),
    (
        "bad-score",
        {"a.yaml": res("x", "  stickiness: lots #<\n")},
        "a.yaml",
        "spec.stickiness: not a score: 'lots'",
        None,
    ),
    (
        "bad-agent",
        {"a.yaml": res("x", agent="heartbeat:IPaddr2 #<")},
        "a.yaml",
        "spec.agent: not a resource agent",
        None,
    ),
    (
        "bad-onfail",
        {
            "a.yaml": res(
                "x", "  operations:\n    - {name: monitor, interval: 5s, onFail: restrat} #<\n"
            )
        },
        "a.yaml",
        "'restrat' is not one of ignore, block, stop, restart, standby, fence, demote (did you mean `restart`?)",
        None,
    ),
    (
        "missing-agent",
        {"a.yaml": obj("Resource", "x", "  params: {a: b} #<\n")},
        "a.yaml",
        "spec.agent: missing required field `agent`",
        5,
    ),
    (
        "operations-not-list",
        {"a.yaml": res("x", "  operations: {name: monitor} #<\n")},
        "a.yaml",
        "spec.operations: expected a list, got a mapping",
        None,
    ),
    (
        "bad-target-role",
        {"a.yaml": res("x", "  targetRole: Master #<\n")},
        "a.yaml",
        "'Master' is not one of",
        None,
    ),
    (
        "negative-utilization",
        {"a.yaml": res("x", "  utilization: {cpu: -1} #<\n")},
        "a.yaml",
        "spec.utilization.cpu",
        None,
    ),
    (
        "group-empty",
        {"a.yaml": obj("Group", "g", "  resources: [] #<\n")},
        "a.yaml",
        "spec.resources: needs at least 1 item",
        None,
    ),
    # --- shapes of constraints --------------------------------------------------------------
    (
        "location-node-and-rules",
        {
            "a.yaml": res("x")
            + obj(
                "Location",
                "l",
                "  resource: x #<\n  node: n1\n  score: 5\n  rules: [{score: 1, expressions: [{attribute: a, operation: defined}]}]\n",
            )
        },
        "a.yaml",
        "not both",
        None,
    ),
    (
        "location-node-no-score",
        {"a.yaml": res("x") + obj("Location", "l", "  resource: x #<\n  node: n1\n")},
        "a.yaml",
        "`node` needs a `score`",
        None,
    ),
    (
        "expression-empty",
        {
            "a.yaml": res("x")
            + obj(
                "Location",
                "l",
                "  resource: x\n  rules:\n    - score: 1\n      expressions:\n        - {type: string} #<\n",
            )
        },
        "a.yaml",
        "exactly one of `attribute`, `date` or `rule`",
        None,
    ),
    (
        "expression-two-kinds",
        {
            "a.yaml": res("x")
            + obj(
                "Location",
                "l",
                "  resource: x\n  rules:\n    - score: 1\n      expressions:\n        - {attribute: a, operation: defined, date: {operation: gt, start: '2030-01-01'}} #<\n",
            )
        },
        "a.yaml",
        "(got attribute, date)",
        None,
    ),
    (
        "expression-eq-no-value",
        {
            "a.yaml": res("x")
            + obj(
                "Location",
                "l",
                "  resource: x\n  rules:\n    - score: 1\n      expressions:\n        - {attribute: a, operation: eq} #<\n",
            )
        },
        "a.yaml",
        "operation eq needs `value`",
        None,
    ),
    (
        "date-bad-timestamp",
        {
            "a.yaml": res("x")
            + obj(
                "Location",
                "l",
                "  resource: x\n  rules:\n    - score: 1\n      expressions:\n        - date: {operation: gt, start: not-a-date} #<\n",
            )
        },
        "a.yaml",
        "spec.rules[0].expressions[0].date.start",
        None,
    ),
    (
        "date-in-range-empty",
        {
            "a.yaml": res("x")
            + obj(
                "Location",
                "l",
                "  resource: x\n  rules:\n    - score: 1\n      expressions:\n        - date: {operation: in_range} #<\n",
            )
        },
        "a.yaml",
        "in_range needs `start` and/or `end`",
        None,
    ),
    (
        "order-first-only",
        {"a.yaml": res("x") + obj("Order", "o", "  first: x #<\n")},
        "a.yaml",
        "`first` and `then` go together",
        None,
    ),
    (
        "colocation-self",
        {
            "a.yaml": res("x")
            + obj("Colocation", "c", "  resource: x #<\n  withResource: x\n  score: 10\n")
        },
        "a.yaml",
        "cannot be colocated with itself",
        None,
    ),
    (
        "clone-promoted-max-too-big",
        {
            "a.yaml": res("x")
            + obj(
                "Clone", "c", "  resource: x #<\n  promotable: true\n  max: 2\n  promotedMax: 3\n"
            )
        },
        "a.yaml",
        "promotedMax (3) is larger than max (2)",
        None,
    ),
    (
        "topology-no-target",
        {"a.yaml": obj("FencingTopology", "t", "  levels: [{devices: [d]}] #<\n")},
        "a.yaml",
        "exactly one of `node`, `nodePattern` or `nodeAttribute`",
        None,
    ),
    # --- cross-object -----------------------------------------------------------------------
    (
        "duplicate-name-same-file",
        {
            "a.yaml": res("x")
            + "---\napiVersion: hactl.io/v1\nkind: Resource\nmetadata: {name: x} #<\nspec: {agent: 'lsb:foo'}\n"
        },
        "a.yaml",
        "duplicate name: Resource 'x' is already defined at",
        None,
    ),
    (
        "duplicate-name-across-files",
        {
            "a.yaml": res("x"),
            "b.yaml": "apiVersion: hactl.io/v1\nkind: Group\nmetadata: {name: x} #<\nspec: {resources: [y]}\n",
        },
        "b.yaml",
        "duplicate name: Resource 'x'",
        None,
    ),
    (
        "two-clusters",
        {
            "a.yaml": "apiVersion: hactl.io/v1\nkind: Cluster\nmetadata: {name: a}\n---\napiVersion: hactl.io/v1\nkind: Cluster #<\nmetadata: {name: b}\n"
        },
        "a.yaml",
        "only one Cluster object may exist",
        None,
    ),
    (
        "dangling-location",
        {
            "a.yaml": res("web")
            + obj("Location", "l", "  resource: wbe #<\n  node: n1\n  score: 5\n")
        },
        "a.yaml",
        "resource 'wbe' does not exist (did you mean `web`?)",
        None,
    ),
    (
        "dangling-group-member",
        {
            "a.yaml": res("web-fs")
            + obj("Group", "g", "  resources:\n    - web-fs\n    - web-ip #<\n")
        },
        "a.yaml",
        "spec.resources[1]: Group g: Resource 'web-ip' does not exist",
        None,
    ),
    (
        "dangling-clone",
        {"a.yaml": obj("Clone", "c", "  resource: nothing #<\n")},
        "a.yaml",
        "Resource or Group 'nothing' does not exist",
        None,
    ),
    (
        "dangling-topology-device",
        {
            "a.yaml": obj("FencingDevice", "ipmi", "  agent: fence_ipmilan\n  hostList: [n1]\n")
            + obj("FencingTopology", "t", "  node: n1\n  levels:\n    - devices: [ipmi, pdu] #<\n")
        },
        "a.yaml",
        "FencingDevice 'pdu' does not exist",
        None,
    ),
    (
        "dangling-node",
        {
            "a.yaml": node("node1")
            + res("x")
            + obj("Location", "l", "  resource: x\n  node: nodee1 #<\n  score: 5\n")
        },
        "a.yaml",
        "Node 'nodee1' does not exist (did you mean `node1`?)",
        None,
    ),
    (
        "group-holds-group",
        {
            "a.yaml": res("x")
            + obj("Group", "inner", "  resources: [x]\n")
            + obj("Group", "outer", "  resources: [inner] #<\n")
        },
        "a.yaml",
        "a Group holds only Resources; 'inner' is a Group",
        None,
    ),
    (
        "primitive-in-two-groups",
        {
            "a.yaml": res("x")
            + obj("Group", "g1", "  resources: [x]\n")
            + obj("Group", "g2", "  resources: [x] #<\n")
        },
        "a.yaml",
        "'x' is already in Group 'g1'",
        None,
    ),
    (
        "primitive-in-group-and-clone",
        {
            "a.yaml": res("x")
            + obj("Group", "g1", "  resources: [x]\n")
            + obj("Clone", "c", "  resource: x #<\n")
        },
        "a.yaml",
        "'x' is already in Group 'g1'; a resource belongs to at most one Group or Clone",
        None,
    ),
    (
        "constraint-on-cloned-member",
        {
            "a.yaml": res("x")
            + obj("Clone", "xc", "  resource: x\n")
            + obj("Location", "l", "  resource: x #<\n  node: n1\n  score: 5\n")
        },
        "a.yaml",
        "'x' is inside Clone 'xc' (constrain the clone: `xc`)",
        None,
    ),
    (
        "order-cycle",
        {
            "a.yaml": res("a")
            + res("b")
            + res("c")
            + obj("Order", "o1", "  first: a #<\n  then: b\n")
            + obj("Order", "o2", "  first: b\n  then: c\n")
            + obj("Order", "o3", "  first: c\n  then: a\n")
        },
        "a.yaml",
        "mandatory orders form a cycle: a start → b start → c start → a start",
        None,
    ),
    (
        "order-cycle-with-group",
        {"a.yaml": GROUP_WEB + obj("Order", "backwards", "  first: srv #<\n  then: fs\n")},
        "a.yaml",
        "cycle",
        None,
    ),
    (
        "colocation-apart-in-group",
        {
            "a.yaml": GROUP_WEB
            + obj("Colocation", "c", "  resource: ip\n  withResource: srv\n  score: -INFINITY #<\n")
        },
        "a.yaml",
        "always run together in Group 'web'",
        None,
    ),
    (
        "location-member-contradicts-group",
        {
            "a.yaml": GROUP_WEB
            + obj("Location", "l1", "  resource: web\n  node: n1\n  score: -INFINITY\n")
            + obj("Location", "l2", "  resource: srv\n  node: n1\n  score: INFINITY #<\n")
        },
        "a.yaml",
        "contradicts Location 'l1'",
        None,
    ),
    (
        "location-two-mandatory-nodes",
        {
            "a.yaml": res("x")
            + obj("Location", "l1", "  resource: x\n  node: n1\n  score: INFINITY\n")
            + obj("Location", "l2", "  resource: x\n  node: n2 #<\n  score: INFINITY\n")
        },
        "a.yaml",
        "but they run on one node",
        None,
    ),
    (
        "colocation-together-and-apart",
        {
            "a.yaml": res("x")
            + res("y")
            + obj("Colocation", "c1", "  resource: x\n  withResource: y\n  score: INFINITY\n")
            + obj("Colocation", "c2", "  resource: y\n  withResource: x\n  score: -INFINITY #<\n")
        },
        "a.yaml",
        "cannot both run together and apart",
        None,
    ),
    (
        "promotable-field-on-plain-clone",
        {"a.yaml": res("x") + obj("Clone", "c", "  resource: x\n  promotedMax: 1 #<\n")},
        "a.yaml",
        "promotedMax is only for promotable clones (add `promotable: true` or remove it)",
        None,
    ),
    (
        "promote-on-lsb",
        {"a.yaml": res("x", "  operations:\n    - name: promote #<\n", agent="lsb:mysql")},
        "a.yaml",
        "lsb agents cannot promote",
        None,
    ),
    (
        "promotable-systemd",
        {
            "a.yaml": res("x", agent="systemd:postgresql")
            + obj("Clone", "c", "  resource: x\n  promotable: true #<\n")
        },
        "a.yaml",
        "uses a systemd agent, which cannot be promoted",
        None,
    ),
    (
        "role-on-non-promotable",
        {
            "a.yaml": res("x")
            + res("y")
            + obj(
                "Colocation",
                "c",
                "  resource: x\n  withResource: y\n  withRole: Promoted #<\n  score: INFINITY\n",
            )
        },
        "a.yaml",
        "role Promoted needs 'y' to be a promotable Clone",
        None,
    ),
    (
        "monitor-without-interval",
        {"a.yaml": res("x", "  operations:\n    - {name: monitor} #<\n")},
        "a.yaml",
        "a monitor needs an interval greater than 0",
        None,
    ),
    (
        "duplicate-operation",
        {
            "a.yaml": res(
                "x",
                "  operations:\n    - {name: monitor, interval: 10s}\n    - {name: monitor, interval: 10000ms, role: Started} #<\n",
            )
        },
        "a.yaml",
        "operation monitor with interval 10s is defined twice",
        None,
    ),
    (
        "fence-nobody",
        {
            "a.yaml": obj(
                "FencingDevice", "d", "  agent: fence_ipmilan\n  hostCheck: static-list #<\n"
            )
        },
        "a.yaml",
        "this device can fence nobody",
        None,
    ),
    (
        "fence-unknown-nodes-only",
        {
            "a.yaml": node("node1")
            + obj("FencingDevice", "d", "  agent: fence_ipmilan\n  hostList: [other] #<\n")
        },
        "a.yaml",
        "can fence nobody: none of other is a Node",
        None,
    ),
    (
        "two-node-with-three-voters",
        {
            "a.yaml": node("n1")
            + node("n2")
            + node("n3")
            + obj("Cluster", "c", "  fencingEnabled: false\n  twoNode: true #<\n")
        },
        "a.yaml",
        "twoNode needs exactly 2 voter nodes, the set defines 3",
        None,
    ),
]


def _expected_line(text: str | bytes) -> int:
    assert isinstance(text, str)
    lines = [i for i, line in enumerate(text.splitlines(), 1) if "#<" in line]
    assert len(lines) == 1, "mark the expected line with #<"
    return lines[0]


@pytest.mark.parametrize(
    ("files", "where", "fragment", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_reported_with_file_line_and_field(
    tmp_path: Path, files: dict[str, str | bytes], where: str, fragment: str, line: int | None
) -> None:
    problems = problems_in(files, tmp_path)
    assert problems, "expected at least one problem"
    want_file = str(tmp_path / where)
    want_line = line if line is not None else _expected_line(files[where])
    rendered = [p.render() for p in problems]
    hits = [p for p in problems if fragment in p.render()]
    assert hits, f"no problem mentions {fragment!r}: {rendered}"
    assert any(p.file == want_file and p.line == want_line for p in hits), (
        f"expected {want_file}:{want_line}, got {rendered}"
    )


def test_there_are_at_least_forty_distinct_cases() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 40


def test_a_ten_megabyte_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# padding\n" * 1_048_576)
    start = time.monotonic()
    _, problems = parse_paths([big])
    assert time.monotonic() - start < 2
    assert [(p.file, p.line) for p in problems] == [(str(big), 1)]
    assert "larger than the 4 MiB limit" in problems[0].message


def test_a_billion_laughs_bomb_is_refused_fast(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    start = time.monotonic()
    problems = problems_in({"bomb.yaml": "\n".join(lines) + "\n"}, tmp_path)
    assert time.monotonic() - start < 2
    assert problems[0].file == str(tmp_path / "bomb.yaml")
    assert "aliases" in problems[0].message
    assert problems[0].line is not None and problems[0].line >= 2


def test_a_wide_alias_bomb_is_refused(tmp_path: Path) -> None:
    refs = ", ".join(["*x"] * 150)
    problems = problems_in({"bomb.yaml": f"base: &x [1, 2, 3]\nall: [{refs}]\n"}, tmp_path)
    assert "more than 100 YAML aliases" in problems[0].message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_in(
        {
            "a.yaml": res("x", "  priority: high\n  stickyness: 5\n"),
            "b.yaml": obj("Location", "l", "  resource: missing\n  node: n1\n  score: 5\n"),
            "c.yaml": "kind: [\n",
        },
        tmp_path,
    )
    files = sorted({Path(p.file or "").name for p in problems})
    assert files == ["a.yaml", "b.yaml", "c.yaml"]
    assert len(problems) >= 4
    # sorted by file, then line
    keys = [(p.file or "", p.line or 0) for p in problems]
    assert keys == sorted(keys)


def test_problems_are_never_tracebacks(tmp_path: Path) -> None:
    for case in CASES:
        for p in problems_in(case[1], tmp_path / case[0]):
            assert isinstance(p, Problem)
            assert "Traceback" not in p.render()
            assert p.file is not None and p.line is not None


def test_too_many_values_are_refused_before_composing(tmp_path: Path) -> None:
    start = time.monotonic()
    problems = problems_in({"many.yaml": "- a\n" * 1_000_000}, tmp_path)
    assert time.monotonic() - start < 5
    assert [(Path(p.file or "").name, p.line) for p in problems] == [("many.yaml", 500_000)]
    assert "more than 500000 values" in problems[0].message
