"""The public load API: paths, directories, stdin, ManifestSet, sources, dump."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from reconciler.base.errors import ValidationError
from reconciler.model import (
    Duration,
    ManifestSet,
    Resource,
    dump_yaml,
    load_paths,
    load_text,
    parse_paths,
    validate_set,
)

NODE = "apiVersion: hactl.io/v1\nkind: Node\nmetadata: {{name: {name}}}\n"
RES = (
    "apiVersion: hactl.io/v1\nkind: Resource\nmetadata: {{name: {name}}}\n"
    "spec:\n  agent: ocf:heartbeat:Dummy\n  operations: [{{name: monitor, interval: 1m30s}}]\n"
)


def test_directories_are_read_recursively_sorted_and_hidden_files_skipped(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "z.yml").write_text(NODE.format(name="n3"))
    (tmp_path / "a.yaml").write_text(NODE.format(name="n2") + "---\n" + NODE.format(name="n1"))
    (tmp_path / ".hidden.yaml").write_text("garbage: [")
    (tmp_path / ".git" / "x.yaml").write_text("garbage: [")
    (tmp_path / "notes.txt").write_text("not yaml")
    mset = load_paths([tmp_path])
    assert [o.name for o in mset.objects] == ["n2", "n1", "n3"]  # input order
    assert list(mset.nodes) == ["n1", "n2", "n3"]  # by name
    src = mset.source(mset.nodes["n1"])
    assert src is not None and (src.file, src.line, src.document) == (
        str(tmp_path / "a.yaml"),
        5,
        1,
    )


def test_an_empty_directory_and_a_missing_path_are_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _, problems = parse_paths([tmp_path / "empty", tmp_path / "nope.yaml"])
    assert sorted(p.message for p in problems) == [
        "directory holds no *.yaml or *.yml files",
        "no such file or directory",
    ]


def test_stdin_is_read_for_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(RES.format(name="web").encode()))
    monkeypatch.setattr(sys, "stdin", fake)
    mset = load_paths(["-"])
    src = mset.source(mset.resources["web"])
    assert src is not None and src.file == "<stdin>"


def test_load_text_gives_typed_values() -> None:
    mset = load_text(RES.format(name="web"), "web.yaml")
    web = mset.resources["web"]
    assert isinstance(web, Resource)
    assert web.spec.agent.provider == "heartbeat"
    assert web.spec.operations[0].interval == Duration(90_000)
    assert mset.resource_like("web") is web
    assert mset.resource_like("nope") is None
    assert mset.cluster is None


def test_validation_error_carries_every_problem() -> None:
    text = RES.format(name="a") + "---\n" + RES.format(name="a") + "---\nkind: Nope\n"
    with pytest.raises(ValidationError) as info:
        load_text(text, "x.yaml")
    messages = [p.render() for p in info.value.problems]
    assert len(messages) == 3, messages
    assert str(info.value) == "\n".join(messages)


def test_the_set_is_immutable() -> None:
    mset = load_text(NODE.format(name="n1"), "n.yaml")
    with pytest.raises(AttributeError):
        mset.cluster = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        mset.nodes["n2"] = mset.nodes["n1"]  # type: ignore[index]
    with pytest.raises(ValueError, match="frozen"):
        mset.nodes["n1"].spec.standby = True  # type: ignore[misc]


def test_sets_built_in_code_validate_too() -> None:
    web = load_text(RES.format(name="web"), "w.yaml").resources["web"]
    mset = ManifestSet([(web, None)])
    assert validate_set(mset) == []
    problem = mset.problem(web, ("spec", "agent"), "bad")
    assert (problem.file, problem.path, problem.message) == (
        None,
        "spec.agent",
        "Resource web: bad",
    )


def test_extra_checkers_run_after_the_built_in_ones() -> None:
    mset = load_text(RES.format(name="web"), "w.yaml")

    def no_dummies(s: ManifestSet) -> list:  # type: ignore[type-arg]
        return [
            s.problem(r, ("spec", "agent"), "no Dummy in production")
            for r in s.resources.values()
            if r.spec.agent.type == "Dummy"
        ]

    (p,) = validate_set(mset, extra=[no_dummies])
    assert (p.file, p.line, p.path) == ("w.yaml", 5, "spec.agent")


def test_dump_yaml_leaves_defaults_out_and_round_trips() -> None:
    mset = load_text(RES.format(name="web"), "w.yaml")
    text = dump_yaml(mset.objects)
    assert text == (
        "apiVersion: hactl.io/v1\nkind: Resource\nmetadata:\n  name: web\nspec:\n"
        "  agent: ocf:heartbeat:Dummy\n  operations:\n  - name: monitor\n    interval: 1m30s\n"
    )
    assert load_text(text, "again.yaml").objects == mset.objects


def test_the_same_file_named_twice_is_read_once(tmp_path: Path) -> None:
    f = tmp_path / "n.yaml"
    f.write_text(NODE.format(name="n1"))
    mset = load_paths([f, tmp_path, str(f)])
    assert [o.name for o in mset] == ["n1"]


def test_location_targets_resolve_names_selectors_and_patterns() -> None:
    def res(name: str, tier: str) -> str:
        return (
            f"---\napiVersion: hactl.io/v1\nkind: Resource\n"
            f"metadata: {{name: {name}, labels: {{tier: {tier}}}}}\nspec: {{agent: 'lsb:x'}}\n"
        )

    def loc(name: str, spec: str) -> str:
        return f"---\napiVersion: hactl.io/v1\nkind: Location\nmetadata: {{name: {name}}}\nspec: {spec}\n"

    rule = "rules: [{score: 1, expressions: [{attribute: a, operation: defined}]}]"
    mset = load_text(
        res("web-1", "front")
        + res("web-2", "front")
        + res("db", "back")
        + loc("one", "{resource: db, node: n1, score: 5}")
        + loc("sel", "{resourceSelector: {matchLabels: {tier: front}}, " + rule + "}")
        + loc(
            "expr",
            "{resourceSelector: {matchExpressions: [{key: tier, operator: NotIn, values: [front]}]}, "
            + rule
            + "}",
        )
        + loc("pat", "{resourcePattern: '^web-', " + rule + "}"),
        "l.yaml",
    )
    targets = {name: mset.location_targets(loc) for name, loc in mset.locations.items()}
    assert targets == {
        "one": ("db",),
        "sel": ("web-1", "web-2"),
        "expr": ("db",),
        "pat": ("web-1", "web-2"),
    }


def test_a_bad_resource_pattern_is_reported() -> None:
    text = (
        "apiVersion: hactl.io/v1\nkind: Location\nmetadata: {name: l}\n"
        "spec:\n  resourcePattern: 'web-('\n"
        "  rules: [{score: 1, expressions: [{attribute: a, operation: defined}]}]\n"
    )
    with pytest.raises(ValidationError) as info:
        load_text(text, "l.yaml")
    (p,) = info.value.problems
    assert (p.line, p.path) == (5, "spec.resourcePattern")
    assert "not a regular expression" in p.message


def test_yaml_1_1_surprises_stay_text() -> None:
    text = (
        "apiVersion: hactl.io/v1\nkind: Node\nmetadata: {name: n1}\n"
        "spec:\n  standby: yes\n  attributes: {web: off, mode: 0755, at: 1:30, ok: true}\n"
    )
    node = load_text(text, "n.yaml").nodes["n1"]
    assert node.spec.standby is True  # booleans fields still read yes/no
    assert node.spec.attributes == {"web": "off", "mode": "0755", "at": "1:30", "ok": "true"}
