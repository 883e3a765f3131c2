"""docs/manifests.md, `hactl explain` and `hactl schema` come from the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.model import KINDS
from reconciler.model.reference import explain, json_schema, render_markdown

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "manifests.md"


def test_docs_manifests_md_is_up_to_date() -> None:
    assert DOC.read_text() == render_markdown(), (
        "docs/manifests.md is stale; regenerate it with: "
        ".venv/bin/hactl schema --markdown > docs/manifests.md"
    )


def test_the_reference_names_every_kind_and_every_field() -> None:
    text = render_markdown()
    for kind, cls in KINDS.items():
        assert f"## {kind}\n" in text
        spec = cls.model_fields["spec"].annotation
        assert isinstance(spec, type)
        assert f"### {spec.__name__}\n" in text
        for name, info in spec.model_fields.items():
            assert f"| `{info.alias or name}` |" in text


def test_every_field_has_a_description() -> None:
    missing = []
    seen: set[type] = set()

    def walk(model: type) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            if not info.description:
                missing.append(f"{model.__name__}.{name}")
        from reconciler.model.reference import _model_in

        for info in model.model_fields.values():  # type: ignore[attr-defined]
            sub = _model_in(info.annotation)
            if sub is not None:
                walk(sub)

    for cls in KINDS.values():
        walk(cls)
    assert not missing


def test_explain_a_field() -> None:
    text = explain("Resource.spec.migrationThreshold")
    assert "TYPE:     score" in text
    assert "DEFAULT:  unset" in text
    assert "moved away" in text


def test_explain_a_kind_lists_its_fields() -> None:
    text = explain("clone")
    assert text.startswith("KIND:     Clone")
    assert "spec <CloneSpec>" in text


def test_explain_a_list_of_objects_lists_the_item_fields() -> None:
    text = explain("Resource.spec.operations")
    assert "TYPE:     list of Operation" in text
    assert "onFail <ignore | block | stop | restart | standby | fence | demote>" in text


def test_explain_durations_and_defaults() -> None:
    text = explain("Cluster.spec.clusterRecheckInterval")
    assert "TYPE:     duration" in text and "DEFAULT:  15m" in text
    assert "DEFAULT:  INFINITY" in explain("Cluster.spec.defaultMigrationThreshold")


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("Resorce", "did you mean `Resource`?"),
        ("Resource.spec.stickyness", "did you mean `stickiness`?"),
        ("Resource.spec.agent.more", "has no fields"),
        ("", "name a kind"),
    ],
)
def test_explain_unknown_paths(path: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        explain(path)
    assert fragment in str(info.value)


def test_json_schema_covers_every_kind() -> None:
    schema = json_schema()
    json.dumps(schema)
    refs = {item["$ref"].rsplit("/", 1)[-1] for item in schema["oneOf"]}
    assert refs == set(KINDS)
    assert set(schema["discriminator"]["mapping"]) == set(KINDS)


def test_json_schema_of_one_kind_uses_yaml_names() -> None:
    schema = json_schema("Resource")
    spec = schema["$defs"]["ResourceSpec"]
    assert "migrationThreshold" in spec["properties"]
    assert spec["additionalProperties"] is False
    assert spec["required"] == ["agent"]


def test_examples_validate_against_the_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    import yaml

    from reconciler.model import load_paths, to_data

    validator = jsonschema.Draft202012Validator(json_schema())
    for example in sorted((REPO / "manifests").iterdir()):
        if not example.is_dir():
            continue
        load_paths([example])  # valid for hactl
        for f in sorted(example.glob("*.yaml")):
            for data in yaml.safe_load_all(f.read_text()):
                errors = [e.message for e in validator.iter_errors(data)]
                assert not errors, f"{f}: {errors}"
    # and what hactl writes back is schema-valid too
    for obj in load_paths([REPO / "manifests" / "promotable-database"]):
        validator.validate(to_data(obj))


def test_the_json_schema_rejects_what_hactl_rejects() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    validator = jsonschema.Draft202012Validator(json_schema())
    bad = {
        "apiVersion": "hactl.io/v1",
        "kind": "Resource",
        "metadata": {"name": "x"},
        "spec": {"agent": "ocf:heartbeat:Dummy", "migration_threshold": 3},
    }
    assert list(validator.iter_errors(bad))


def test_explain_answers_for_every_field_of_every_kind() -> None:
    from reconciler.model.reference import _model_in

    count = 0

    def walk(prefix: str, model: type, depth: int) -> None:
        nonlocal count
        if depth > 6:
            return
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            path = f"{prefix}.{info.alias or name}"
            text = explain(path)
            assert "TYPE:" in text and "DEFAULT:" in text, path
            count += 1
            sub = _model_in(info.annotation)
            if sub is not None:
                walk(path, sub, depth + 1)

    for kind, cls in KINDS.items():
        walk(kind, cls, 0)
    assert count > 200
