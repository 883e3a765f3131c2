"""From files and text to a ManifestSet, with every problem located by file, line and field."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pydantic

from reconciler.base.errors import Problem, ValidationError
from reconciler.base.limits import MAX_MANIFEST_BYTES, MAX_MANIFEST_DOCUMENTS
from reconciler.model.base import API_VERSION
from reconciler.model.fencing import FENCE_AGENT_PATTERN
from reconciler.model.hints import did_you_mean
from reconciler.model.kinds import KINDS, aliases, model_at
from reconciler.model.manifestset import ManifestSet, Source, render_path
from reconciler.model.rules import DATE_RANGE_PATTERN
from reconciler.model.values import NAME_PATTERN, NODE_NAME_PATTERN
from reconciler.model.yamlsource import Document, decode, parse_text

YAML_SUFFIXES = (".yaml", ".yml")
PATTERN_TEXT = {
    NAME_PATTERN: "a name has letters, digits, '-', '_' and '.', and starts and ends with a "
    "letter or digit",
    NODE_NAME_PATTERN: "a node name has letters, digits, '-', '_' and '.'",
    FENCE_AGENT_PATTERN: "a fence agent is a program name like fence_ipmilan",
    DATE_RANGE_PATTERN: "a range like 9-17 or a single number",
}
STDIN = "-"


def _sort_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(
        problems,
        key=lambda p: (p.file or "", p.line or 0, p.column or 0, p.path or "", p.message),
    )


def _expected_values(ctx: dict[str, Any] | None) -> list[str]:
    if not ctx or "expected" not in ctx:
        return []
    return re.findall(r"'([^']*)'", str(ctx["expected"]))


def _yaml_type(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    return f"a string ({value!r})" if isinstance(value, str) else type(value).__name__


def _message(err: Any, model: type[pydantic.BaseModel], doc: Document) -> tuple[str, str | None]:
    kind = err["type"]
    loc = tuple(err["loc"])
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "extra_forbidden":
        parent = model_at(model, loc[:-1])
        candidates = aliases(parent) if parent is not None else []
        return f"unknown field `{loc[-1]}`", did_you_mean(str(loc[-1]), candidates)
    if kind == "missing":
        return f"missing required field `{loc[-1]}`", None
    if kind == "literal_error":
        expected = _expected_values(err.get("ctx"))
        got = err.get("input")
        hint = did_you_mean(str(got), expected) if isinstance(got, str) else None
        return f"{got!r} is not one of {', '.join(expected)}", hint
    got = _yaml_type(err.get("input"))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value), got {got}", None
    if kind in ("tuple_type", "list_type"):
        return f"expected a list, got {got}", None
    if kind == "string_type":
        return f"expected a string, got {got}", None
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {err.get('input')!r}", None
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, got {err.get('input')!r}", None
    if kind == "too_short":
        n = (err.get("ctx") or {}).get("min_length", 1)
        return f"needs at least {n} item{'s' if n != 1 else ''}", None
    if kind == "too_long":
        n = (err.get("ctx") or {}).get("max_length", 1)
        return f"takes at most {n} item{'s' if n != 1 else ''}", None
    if kind == "string_pattern_mismatch":
        pattern = str((err.get("ctx") or {}).get("pattern", ""))
        what = PATTERN_TEXT.get(pattern, f"it must match {pattern}")
        return f"{err.get('input')!r} is not valid: {what}", None
    return msg, None


def _validate_document(doc: Document) -> tuple[Any, list[Problem], tuple[str, str] | None]:
    """The model for one document, or its problems (and its kind/name when readable)."""
    data = doc.data

    def at(
        path: tuple[str | int, ...], message: str, hint: str | None = None, key: bool = False
    ) -> Problem:
        p = doc.locate(path, prefer_key=key)
        return Problem(
            message,
            file=doc.file,
            line=p.line,
            column=p.column,
            path=render_path(path) or None,
            hint=hint,
        )

    if not isinstance(data, dict):
        return None, [at((), f"a manifest must be a mapping, not {type(data).__name__}")], None
    problems: list[Problem] = []
    kind = data.get("kind")
    name = data.get("metadata", {}).get("name") if isinstance(data.get("metadata"), dict) else None
    ident = (kind, name) if isinstance(kind, str) and isinstance(name, str) else None
    if "apiVersion" not in data:
        problems.append(at((), "missing `apiVersion`", hint=f"use `apiVersion: {API_VERSION}`"))
    elif data["apiVersion"] != API_VERSION:
        problems.append(
            at(
                ("apiVersion",),
                f"unsupported apiVersion {data['apiVersion']!r}",
                hint=f"use `{API_VERSION}`",
            )
        )
    if kind is None:
        problems.append(at((), "missing `kind`", hint="one of " + ", ".join(KINDS)))
        return None, problems, None
    if not isinstance(kind, str) or kind not in KINDS:
        problems.append(
            at(
                ("kind",),
                f"unknown kind {kind!r}",
                hint=did_you_mean(str(kind), KINDS) or "one of " + ", ".join(KINDS),
            )
        )
        return None, problems, None
    cls = KINDS[kind]
    try:
        obj = cls.model_validate(data, by_alias=True, by_name=False)
    except pydantic.ValidationError as e:
        errors = e.errors(include_url=False)
        deeper = [tuple(err["loc"]) for err in errors]
        for err in errors:
            loc = tuple(err["loc"])
            if err["type"] == "too_short" and any(
                len(d) > len(loc) and d[: len(loc)] == loc for d in deeper
            ):
                continue  # pydantic also counts failed items as missing; the item error says it
            if loc == ("apiVersion",):
                continue  # reported above with a better hint
            message, hint = _message(err, cls, doc)
            key = err["type"] in ("extra_forbidden", "missing")
            problems.append(at(loc, message, hint, key=key))
        return None, problems, ident
    if problems:
        return None, problems, ident
    return obj, [], ident


def _source_of(doc: Document) -> Source:
    fields: dict[tuple[str | int, ...], tuple[int, int]] = {}
    for path, pos in doc.keys.items():
        fields[path] = (pos.line, pos.column)
    for path, pos in doc.values.items():
        fields.setdefault(path, (pos.line, pos.column))
    return Source(doc.file, doc.start.line, doc.start.column, doc.index, MappingProxyType(fields))


def parse_documents(
    documents: Sequence[Document],
) -> tuple[ManifestSet, list[Problem]]:
    """Models for documents that are valid on their own; problems for the rest."""
    entries = []
    problems: list[Problem] = []
    unparsed: list[tuple[str, str]] = []
    for doc in documents:
        obj, probs, ident = _validate_document(doc)
        if obj is None:
            problems.extend(probs)
            if ident is not None:
                unparsed.append(ident)
        else:
            entries.append((obj, _source_of(doc)))
    return ManifestSet(entries, unparsed), problems


def _read(path: str) -> tuple[str | None, Problem | None]:
    if path == STDIN:
        raw = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1)
        return decode(raw, "<stdin>")
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            return None, Problem(
                f"file is {size / 1_048_576:.1f} MiB, larger than the "
                f"{MAX_MANIFEST_BYTES // 1_048_576} MiB limit for one manifest file",
                file=path,
                line=1,
                column=1,
            )
        with p.open("rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as e:
        return None, Problem(f"cannot read: {e.strerror or e}", file=path)
    return decode(raw, path)


def expand_paths(paths: Sequence[str | Path]) -> tuple[list[str], list[Problem]]:
    """Files to read: files as given, directories' *.yaml/*.yml (sorted, recursive, no hidden)."""
    files: list[str] = []
    problems: list[Problem] = []
    for raw in paths:
        item = str(raw)
        if item == STDIN:
            files.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.suffix in YAML_SUFFIXES
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            if not found:
                problems.append(Problem("directory holds no *.yaml or *.yml files", file=item))
            files.extend(str(f) for f in found)
        elif p.exists():
            files.append(item)
        else:
            problems.append(Problem("no such file or directory", file=item))
    unique: dict[str, str] = {}
    for f in files:  # the same file named twice (directly or through a directory) is read once
        unique.setdefault(f if f == STDIN else str(Path(f).resolve()), f)
    return list(unique.values()), problems


def parse_paths(paths: Sequence[str | Path]) -> tuple[ManifestSet, list[Problem]]:
    """Read and validate each document on its own (no cross-object checks)."""
    files, problems = expand_paths(paths)
    documents: list[Document] = []
    for file in files:
        text, problem = _read(file)
        if problem is not None:
            problems.append(problem)
            continue
        assert text is not None
        docs, probs = parse_text(text, "<stdin>" if file == STDIN else file)
        documents.extend(docs)
        problems.extend(probs)
    if len(documents) > MAX_MANIFEST_DOCUMENTS:
        problems.append(Problem(f"more than {MAX_MANIFEST_DOCUMENTS} documents in one set"))
        documents = documents[:MAX_MANIFEST_DOCUMENTS]
    mset, probs = parse_documents(documents)
    return mset, _sort_problems([*problems, *probs])


def parse_text_set(text: str, source: str = "<input>") -> tuple[ManifestSet, list[Problem]]:
    """As :func:`parse_paths`, for text already in memory."""
    raw = text.encode("utf-8", errors="surrogateescape")
    decoded, problem = decode(raw, source)
    if problem is not None:
        return ManifestSet(), [problem]
    assert decoded is not None
    docs, probs = parse_text(decoded, source)
    mset, more = parse_documents(docs)
    return mset, _sort_problems([*probs, *more])


def check(mset: ManifestSet, problems: list[Problem]) -> ManifestSet:
    from reconciler.model.validation import validate_set

    everything = _sort_problems([*problems, *validate_set(mset)])
    if everything:
        raise ValidationError(everything)
    return mset


def load_paths(paths: Sequence[str | Path]) -> ManifestSet:
    """Files, directories and ``-`` (stdin) to a valid ManifestSet, or ValidationError."""
    return check(*parse_paths(paths))


def load_text(text: str, source: str = "<input>") -> ManifestSet:
    """YAML text (one or more documents) to a valid ManifestSet, or ValidationError."""
    return check(*parse_text_set(text, source))
