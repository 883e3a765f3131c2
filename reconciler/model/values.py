"""Scalar value types of the manifest language: durations, scores, agent references, names.

Each is a frozen value with a pydantic schema, so that manifests can write them the way
people do (``10s``, ``INFINITY``, ``ocf:heartbeat:IPaddr2``) and code reads typed values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
)
from pydantic.json_schema import JsonSchemaValue, WithJsonSchema
from pydantic_core import core_schema

from reconciler.base import score as _score
from reconciler.base.limits import MAX_NAME_LENGTH

# ---------------------------------------------------------------------------------------------
# Durations

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d)")
_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_DURATION_PATTERN = r"^(\d+|((\d+(\.\d+)?)(ms|min|s|m|h|d))+|P.*)$"
MAX_DURATION_MS = 10 * 365 * 86_400_000  # ten years: anything longer is a typo


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    """A span of time, held in whole milliseconds.

    Accepts ``10s``, ``500ms``, ``1m``, ``1h30m``, ``2d``, a plain integer (seconds) and
    ISO 8601 (``PT10S``, ``P1DT2H``). Renders canonically (``1h30m``, ``500ms``, ``0s``).
    """

    milliseconds: int

    @property
    def seconds(self) -> float:
        return self.milliseconds / 1000.0

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, Duration):
            return value
        if isinstance(value, bool):
            raise ValueError(f"not a duration: {value!r}")
        if isinstance(value, int):
            return cls._checked(value * 1000, value)
        if isinstance(value, float):
            return cls._checked(round(value * 1000), value)
        if not isinstance(value, str):
            raise ValueError(f"not a duration: {value!r} (expected e.g. 10s, 500ms, 1m, PT10S)")
        text = value.strip()
        if re.fullmatch(r"\d+", text):
            return cls._checked(int(text) * 1000, value)
        iso = _ISO.match(text.upper()) if text[:1] in "Pp" else None
        if iso and any(iso.groupdict().values()):
            ms = 0.0
            for key, unit in (("d", "d"), ("h", "h"), ("m", "m"), ("s", "s")):
                if iso.group(key):
                    ms += float(iso.group(key)) * _UNITS_MS[unit]
            return cls._checked(round(ms), value)
        pos, ms_total = 0, 0.0
        for m in _PART.finditer(text):
            if m.start() != pos:
                break
            ms_total += float(m.group(1)) * _UNITS_MS[m.group(2)]
            pos = m.end()
        if pos == len(text) and pos > 0:
            return cls._checked(round(ms_total), value)
        raise ValueError(
            f"not a duration: {value!r} (expected e.g. 10s, 500ms, 1m, 1h30m, "
            "a number of seconds, or ISO 8601 like PT10S)"
        )

    @classmethod
    def _checked(cls, ms: int, original: object) -> Duration:
        if ms < 0:
            raise ValueError(f"a duration cannot be negative: {original!r}")
        if ms > MAX_DURATION_MS:
            raise ValueError(f"duration {original!r} is longer than ten years")
        return cls(ms)

    def __str__(self) -> str:
        ms = self.milliseconds
        if ms == 0:
            return "0s"
        out = []
        for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
            n, ms = divmod(ms, size)
            if n:
                out.append(f"{n}{unit}")
        return "".join(out)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string", "pattern": _DURATION_PATTERN},
                {"type": "integer", "minimum": 0},
            ],
            "description": "a duration: 10s, 500ms, 1m, 1h30m, seconds as an integer, or PT10S",
        }


# ---------------------------------------------------------------------------------------------
# Scores


def _parse_score(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not a score: {value!r} (expected an integer, INFINITY or -INFINITY)")
    return int(_score.parse(value))


def _render_score(value: int) -> int | str:
    if abs(value) >= _score.INFINITY:
        return _score.render(value)
    return value


Score = Annotated[
    int,
    BeforeValidator(_parse_score),
    PlainSerializer(_render_score, return_type=int | str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer"},
                {"type": "string", "pattern": r"^[+-]?(INFINITY|INF|\d+)$"},
            ],
            "description": "an integer score, INFINITY or -INFINITY (1,000,000)",
        }
    ),
]
"""An integer score clamped to +/-1,000,000; YAML may say ``INFINITY``/``-INFINITY``."""

# ---------------------------------------------------------------------------------------------
# Names and small scalars

NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=MAX_NAME_LENGTH)]
"""An object name: letters, digits, ``-``, ``_``, ``.``; starts and ends alphanumeric."""

NODE_NAME_PATTERN = r"^[A-Za-z0-9._-]+$"
NodeNameStr = Annotated[str, Field(min_length=1, max_length=253, pattern=NODE_NAME_PATTERN)]


def _scalar_to_text(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[
    str,
    BeforeValidator(_scalar_to_text),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
"""A string; numbers and booleans written unquoted in YAML are turned into their text."""

Role = Literal["Stopped", "Started", "Unpromoted", "Promoted"]
RunRole = Literal["Started", "Unpromoted", "Promoted"]
Action = Literal["start", "stop", "promote", "demote"]

# ---------------------------------------------------------------------------------------------
# Agent references

AGENT_PATTERN = r"^(ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+|(lsb|systemd|service):[A-Za-z0-9_.@:-]+)$"
_AGENT_RE = re.compile(AGENT_PATTERN)


@dataclass(frozen=True, slots=True)
class AgentRef:
    """A resource agent: ``ocf:provider:type``, ``lsb:name``, ``systemd:unit``, ``service:name``."""

    standard: Literal["ocf", "lsb", "systemd", "service"]
    type: str
    provider: str | None = None

    @classmethod
    def parse(cls, value: object) -> AgentRef:
        if isinstance(value, AgentRef):
            return value
        if not isinstance(value, str) or not _AGENT_RE.match(value):
            raise ValueError(
                f"not a resource agent: {value!r} (expected ocf:provider:type, lsb:name, "
                "systemd:unit or service:name)"
            )
        standard, _, rest = value.partition(":")
        if standard == "ocf":
            provider, _, type_ = rest.partition(":")
            return cls("ocf", type_, provider)
        assert standard in ("lsb", "systemd", "service")
        return cls(standard, rest)  # type: ignore[arg-type]

    def __str__(self) -> str:
        if self.provider is not None:
            return f"{self.standard}:{self.provider}:{self.type}"
        return f"{self.standard}:{self.type}"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(_text)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": AGENT_PATTERN,
            "description": "ocf:provider:type, lsb:name, systemd:unit or service:name",
        }


def _text(value: object) -> str:
    return str(value)
