"""Safe YAML reading with a position for every value and key.

Documents are composed into yaml nodes (never constructed by yaml itself) and then turned
into plain Python values here (with YAML 1.2 meanings: ``yes``, ``off``, ``0755`` and ``1:30``
stay strings), so that limits hold while reading: nesting depth is checked on
the event stream *before* composing, alias expansions and the number of values are counted while
converting (a billion-laughs document stops after ``MAX_YAML_ALIASES`` expansions), and only
the YAML core types are accepted. Timestamps stay strings; the models parse them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from reconciler.base.errors import Problem
from reconciler.base.limits import MAX_MANIFEST_BYTES, MAX_YAML_ALIASES, MAX_YAML_DEPTH

try:  # libyaml is much faster; fall back to the pure-Python parser
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

MAX_VALUES_PER_FILE = 500_000

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its plain value and where each part of it was written."""

    file: str
    index: int  # 0-based position among the file's documents
    data: object
    start: Position
    values: Mapping[Path_, Position] = field(compare=False, repr=False)
    keys: Mapping[Path_, Position] = field(compare=False, repr=False)

    def locate(self, path: Path_, prefer_key: bool = False) -> Position:
        """Where ``path`` was written; the nearest written ancestor when it was not."""
        p = tuple(path)
        while True:
            first, second = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            if p in first:
                return first[p]
            if p in second:
                return second[p]
            if not p:
                return self.start
            p = p[:-1]


class _Refused(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def _pos(mark: Any) -> Position:
    if mark is None:
        return Position(1, 1)
    return Position(mark.line + 1, mark.column + 1)


def decode(raw: bytes, source: str) -> tuple[str | None, Problem | None]:
    """Bytes to text, refusing oversized, binary and non-UTF-8 input with a located Problem."""
    if len(raw) > MAX_MANIFEST_BYTES:
        return None, Problem(
            f"file is {len(raw) / 1_048_576:.1f} MiB, larger than the "
            f"{MAX_MANIFEST_BYTES // 1_048_576} MiB limit for one manifest file",
            file=source,
            line=1,
            column=1,
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        return None, Problem(
            "binary data (a NUL byte), not a YAML text file", file=source, line=line, column=1
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        return None, Problem(
            f"not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})",
            file=source,
            line=line,
            column=1,
        )
    return text, None


def _check_events(text: str) -> None:
    """Refuse too-deep nesting, too many values and aliases before yaml composes anything."""
    depth = 0
    aliases = 0
    values = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.ScalarEvent | yaml.MappingStartEvent | yaml.SequenceStartEvent):
            values += 1
            if values > MAX_VALUES_PER_FILE:
                raise _Refused(
                    f"more than {MAX_VALUES_PER_FILE} values in one file", event.start_mark
                )
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise _Refused(f"nested more than {MAX_YAML_DEPTH} levels deep", event.start_mark)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise _Refused(
                    f"more than {MAX_YAML_ALIASES} YAML aliases in one file", event.start_mark
                )


_YAML12 = {
    "tag:yaml.org,2002:bool": re.compile(r"^(true|True|TRUE|false|False|FALSE)$"),
    "tag:yaml.org,2002:int": re.compile(r"^([-+]?(0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"),
    "tag:yaml.org,2002:float": re.compile(
        r"^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|"
        r"\.(nan|NaN|NAN))$"
    ),
}


def _is_yaml12(tag: str, text: str) -> bool:
    """Whether a plain scalar that YAML 1.1 resolved to ``tag`` means the same in YAML 1.2."""
    pattern = _YAML12.get(tag)
    return pattern is None or pattern.match(text) is not None


class _Converter:
    """Turns composed nodes into plain values, counting alias expansions and values."""

    _STR = "tag:yaml.org,2002:str"
    _PLAIN_TAGS = frozenset(
        f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")
    )

    _COLLECTION_TAGS = frozenset(("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"))

    def __init__(self) -> None:
        self.constructor = yaml.constructor.SafeConstructor()
        self.seen: set[int] = set()
        self.expansions = 0
        self.count = 0
        self.values: dict[Path_, Position] = {}
        self.keys: dict[Path_, Position] = {}

    def convert(self, node: yaml.Node, path: Path_, depth: int) -> object:
        if depth > MAX_YAML_DEPTH:
            raise _Refused(f"nested more than {MAX_YAML_DEPTH} levels deep", node.start_mark)
        self.count += 1
        if self.count > MAX_VALUES_PER_FILE:
            raise _Refused(f"more than {MAX_VALUES_PER_FILE} values in one file", node.start_mark)
        if id(node) in self.seen and not isinstance(node, yaml.ScalarNode):
            self.expansions += 1
            if self.expansions > MAX_YAML_ALIASES:
                raise _Refused(
                    f"YAML aliases expand more than {MAX_YAML_ALIASES} times (an alias bomb?)",
                    node.start_mark,
                )
        self.seen.add(id(node))
        self.values.setdefault(path, _pos(node.start_mark))
        if not isinstance(node, yaml.ScalarNode) and node.tag not in self._COLLECTION_TAGS:
            raise _Refused(f"unsupported YAML tag {node.tag}", node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node)

    def _scalar(self, node: yaml.ScalarNode) -> object:
        if node.tag == "tag:yaml.org,2002:timestamp":
            return str(node.value)
        if node.tag not in self._PLAIN_TAGS:
            raise _Refused(f"unsupported YAML tag {node.tag}", node.start_mark)
        if not node.style and not _is_yaml12(node.tag, str(node.value)):
            # YAML 1.1 only (yes/no/on/off, 0755, 1:30, 1_000): keep the text as written
            return str(node.value)
        return self.constructor.construct_object(node, deep=False)

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, object]:
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused("YAML merge keys (<<) are not supported", key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused("a mapping key must be a plain scalar", key_node.start_mark)
            key = str(key_node.value)
            if key in out:
                raise _Refused(f"duplicate key `{key}`", key_node.start_mark)
            self.keys[(*path, key)] = _pos(key_node.start_mark)
            out[key] = self.convert(value_node, (*path, key), depth + 1)
        return out


def parse_text(text: str, source: str) -> tuple[list[Document], list[Problem]]:
    """Every non-empty document of ``text``, or the Problems that stopped reading it."""
    try:
        _check_events(text)
        docs: list[Document] = []
        converter_total = 0
        for index, node in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if node is None or (
                isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"
            ):
                continue
            conv = _Converter()
            conv.count = converter_total
            data = conv.convert(node, (), 0)
            converter_total = conv.count
            docs.append(
                Document(
                    file=source,
                    index=index,
                    data=data,
                    start=_pos(node.start_mark),
                    values=MappingProxyType(conv.values),
                    keys=MappingProxyType(conv.keys),
                )
            )
    except _Refused as e:
        p = _pos(e.mark)
        return [], [Problem(e.message, file=source, line=p.line, column=p.column)]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        p = _pos(mark)
        what = ": ".join(x for x in (e.context, e.problem) if x) or "syntax error"
        return [], [Problem(f"invalid YAML: {what}", file=source, line=p.line, column=p.column)]
    except yaml.YAMLError as e:  # ReaderError: control characters and the like
        mark_pos = getattr(e, "position", None)
        line = text.count("\n", 0, mark_pos) + 1 if isinstance(mark_pos, int) else 1
        reason = getattr(e, "reason", None) or str(e).splitlines()[0]
        return [], [Problem(f"invalid YAML: {reason}", file=source, line=line, column=1)]
    except RecursionError:
        return [], [Problem("nested too deeply", file=source, line=1, column=1)]
    if not docs:
        return [], [Problem("empty file: no YAML documents", file=source, line=1, column=1)]
    return docs, []
