"""The reference of the manifest language, generated from the models.

``render_markdown()`` is docs/manifests.md (a test fails when the file is stale);
``explain("Resource.spec.operations")`` is what ``hactl explain`` prints; ``json_schema()``
is what ``hactl schema`` writes.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from reconciler.base import score as _score
from reconciler.base.limits import MAX_MANIFEST_BYTES, MAX_YAML_ALIASES, MAX_YAML_DEPTH
from reconciler.model.hints import did_you_mean
from reconciler.model.kinds import KINDS, field_by_alias
from reconciler.model.values import AgentRef, Duration, _parse_score


def _is_score(metadata: tuple[Any, ...]) -> bool:
    return any(getattr(m, "func", None) is _parse_score for m in metadata)


def describe_type(tp: Any, metadata: tuple[Any, ...] = ()) -> str:
    """A short human name of a field type: ``list of Operation``, ``duration``, ``score``."""
    if _is_score(metadata):
        return "score"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Annotated:
        return describe_type(args[0], (*metadata, *tp.__metadata__))
    if origin in (Union, types.UnionType):
        parts = [describe_type(a, metadata) for a in args if a is not type(None)]
        return " | ".join(parts)
    if origin is Literal:
        return " | ".join(str(a) for a in args)
    if origin in (tuple, list):
        return f"list of {describe_type(args[0])}"
    if origin is dict:
        return f"map of {describe_type(args[0])} to {describe_type(args[1])}"
    names: dict[Any, str] = {
        Duration: "duration",
        AgentRef: "agent",
        bool: "boolean",
        int: "integer",
        str: "string",
        float: "number",
        datetime: "timestamp",
        Any: "any",
    }
    if tp in names:
        return names[tp]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp.__name__
    return str(tp)


def describe_default(info: FieldInfo) -> str:
    """The default of a field as YAML would write it; ``required`` when there is none."""
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value is PydanticUndefined or value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        return "{}"
    if isinstance(value, int) and _is_score(tuple(info.metadata)):
        return _score.render(value)
    if isinstance(value, tuple | list):
        return "[]" if not value else json.dumps(list(value))
    if isinstance(value, dict):
        return "{}" if not value else json.dumps(value)
    return str(value)


def _model_in(tp: Any) -> type[BaseModel] | None:
    """The model class a field type holds (through Optional, lists and maps), if any."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _model_in(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType, tuple, list, dict):
        for arg in reversed(typing.get_args(tp)):
            found = _model_in(arg)
            if found is not None:
                return found
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    return None


def _doc(obj: Any) -> str:
    return " ".join((obj.__doc__ or "").split())


def _ordered_fields(model: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    """Fields in declaration order, the server-owned ``status`` last."""
    items = list(model.model_fields.items())
    return [i for i in items if i[0] != "status"] + [i for i in items if i[0] == "status"]


def _rows(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, info in _ordered_fields(model):
        rows.append(
            (
                info.alias or name,
                describe_type(info.annotation, tuple(info.metadata)),
                describe_default(info),
                info.description or "",
            )
        )
    return rows


def _anchor(name: str) -> str:
    return name.lower()


def _validation_section() -> list[str]:
    from reconciler.model.validation import CHECKERS

    out = [
        "## Validation",
        "",
        "`hactl validate -f PATH` (files, directories, `-` for stdin) reports every problem at",
        "once as `file:line:col: field.path: message (hint)` and exits 0 (valid), 1 (invalid) or",
        "2 (usage). Each file is read safely: at most "
        f"{MAX_MANIFEST_BYTES // 1_048_576} MiB, UTF-8 text, nesting at most "
        f"{MAX_YAML_DEPTH} deep, at most {MAX_YAML_ALIASES} alias expansions, only the YAML",
        "core types with YAML 1.2 meanings (a plain `yes`, `off` or `0755` is text; booleans",
        "are `true`/`false`), no custom tags, no merge keys, no duplicate keys. Each document",
        "must be a known kind with known fields (near misses, including Pacemaker's names, get",
        "a hint). Then the whole set is checked across objects:",
        "",
    ]
    for checker in CHECKERS:
        out.append(f"- {_doc(checker)}")
    out.append("")
    return out


def render_markdown() -> str:
    """Every kind and every field, as Markdown (the content of docs/manifests.md)."""
    out = [
        "# Manifest reference",
        "",
        "<!-- Generated from reconciler/model by `hactl schema --markdown`; do not edit. -->",
        "",
        "Every document has `apiVersion: hactl.io/v1`, a `kind`, `metadata` and usually a",
        "`spec`. Field names are camelCase. Scores are integers or `INFINITY`/`-INFINITY`",
        "(1,000,000); durations are `10s`, `500ms`, `1m`, `1h30m`, plain seconds or ISO 8601",
        "(`PT10S`). `hactl explain KIND.field` prints one entry; `hactl schema` writes JSON",
        "Schema for editors.",
        "",
        "Kinds: " + ", ".join(f"[{k}](#{_anchor(k)})" for k in KINDS) + ".",
        "",
    ]
    seen: set[type[BaseModel]] = set()
    queue: list[type[BaseModel]] = []

    def table(model: type[BaseModel]) -> None:
        out.extend(["| field | type | default | meaning |", "|---|---|---|---|"])
        for alias, type_text, default, desc in _rows(model):
            info = model.model_fields[field_by_alias(model, alias) or alias]
            sub = _model_in(info.annotation)
            tname = type_text
            if sub is not None:
                tname = tname.replace(sub.__name__, f"[{sub.__name__}](#{_anchor(sub.__name__)})")
                if sub not in seen:
                    seen.add(sub)
                    queue.append(sub)
            cell = desc.replace("|", "\\|")
            tcell = tname.replace("|", "\\|")
            out.append(f"| `{alias}` | {tcell} | {default} | {cell} |")
        out.append("")

    out.extend(_validation_section())
    for kind, cls in KINDS.items():
        out.extend([f"## {kind}", "", _doc(cls), ""])
        seen.add(cls)
        table(cls)
        while queue:
            sub = queue.pop(0)
            out.extend([f"### {sub.__name__}", "", _doc(sub), ""])
            table(sub)
    return "\n".join(out).rstrip() + "\n"


def explain(path: str) -> str:
    """What ``hactl explain`` prints for ``KIND[.field…]``; ValueError for unknown paths."""
    parts = [p for p in path.split(".") if p]
    if not parts:
        raise ValueError("name a kind, e.g. `Resource` or `Resource.spec.operations`")
    kind = next((k for k in KINDS if k.lower() == parts[0].lower()), None)
    if kind is None:
        hint = did_you_mean(parts[0], KINDS)
        raise ValueError(f"unknown kind {parts[0]!r}" + (f" ({hint})" if hint else ""))
    model: type[BaseModel] = KINDS[kind]
    info: FieldInfo | None = None
    walked = [kind]
    for part in parts[1:]:
        if model is None:
            raise ValueError(f"{'.'.join(walked)} has no fields")
        name = field_by_alias(model, part)
        if name is None:
            hint = did_you_mean(part, [i.alias or n for n, i in model.model_fields.items()])
            raise ValueError(
                f"{'.'.join(walked)} has no field {part!r}" + (f" ({hint})" if hint else "")
            )
        info = model.model_fields[name]
        walked.append(part)
        model = _model_in(info.annotation)  # type: ignore[assignment]
    lines = [f"KIND:     {kind}"]
    if info is not None:
        lines += [
            f"FIELD:    {'.'.join(walked[1:])}",
            f"TYPE:     {describe_type(info.annotation, tuple(info.metadata))}",
            f"DEFAULT:  {describe_default(info)}",
            "",
            info.description or "",
        ]
    else:
        lines += ["", _doc(KINDS[kind])]
    if model is not None:
        lines += ["", f"FIELDS ({model.__name__}):"]
        for alias, tname, default, desc in _rows(model):
            lines.append(f"  {alias} <{tname}> (default: {default})")
            lines.append(f"      {desc}")
    return "\n".join(lines).rstrip() + "\n"


def json_schema(kind: str | None = None) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one kind, or of any manifest document."""
    if kind is not None:
        schema = KINDS[kind].model_json_schema(by_alias=True, mode="validation")
    else:
        union = Union[tuple(KINDS.values())]  # type: ignore[valid-type]  # noqa: UP007
        adapter: TypeAdapter[Any] = TypeAdapter(
            Annotated[union, Field(discriminator="kind")]  # type: ignore[arg-type]
        )
        schema = adapter.json_schema(by_alias=True, mode="validation")
        schema["title"] = "hactl manifest (hactl.io/v1)"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
