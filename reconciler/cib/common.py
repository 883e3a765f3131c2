"""Small helpers shared by the CIB reader and writer: booleans, intervals, roles, nvpairs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from reconciler.base.errors import Problem, ValidationError
from reconciler.cib.xmlread import refuse_dtd

TRUE_WORDS = frozenset({"true", "on", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "off", "no", "n", "0"})

#: Pacemaker's role names, old and new, to ours.
ROLES = {
    "started": "Started",
    "stopped": "Stopped",
    "promoted": "Promoted",
    "master": "Promoted",
    "unpromoted": "Unpromoted",
    "slave": "Unpromoted",
}

_UNIT_MS = {
    "": 1000,
    "s": 1000,
    "sec": 1000,
    "ms": 1,
    "msec": 1,
    "us": 0.001,
    "usec": 0.001,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
}
_INTERVAL = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$")
_ISO = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


def truthy(value: str | None, default: bool = False) -> bool:
    """Pacemaker's ``crm_is_true`` with a default for an absent value."""
    if value is None:
        return default
    return value.strip().lower() in TRUE_WORDS


def is_boolean(value: str) -> bool:
    return value.strip().lower() in TRUE_WORDS | FALSE_WORDS


def interval_ms(text: str | None) -> int | None:
    """``10s``, ``10``, ``500ms``, ``2min``, ``PT10S`` -> milliseconds; None when unreadable."""
    if text is None:
        return None
    value = text.strip()
    iso = _ISO.match(value.upper()) if value[:1] in "Pp" and len(value) > 1 else None
    if iso:
        y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in iso.groups())
        days = y * 365 + mo * 30 + w * 7 + d
        return ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000
    m = _INTERVAL.match(value.lower())
    if not m or m.group(2) not in _UNIT_MS:
        return None
    return int(int(m.group(1)) * _UNIT_MS[m.group(2)])


def role(text: str | None) -> str | None:
    if text is None:
        return None
    return ROLES.get(text.strip().lower())


def nvpairs(parent: ET.Element | None, tag: str) -> dict[str, str]:
    """All nvpairs of every ``<tag>`` block under ``parent`` (later blocks win)."""
    out: dict[str, str] = {}
    if parent is None:
        return out
    for block in parent.findall(tag):
        for nv in block.findall("nvpair"):
            name = nv.get("name")
            if name is not None:
                out[name] = nv.get("value", "")
    return out


def ruled_blocks(parent: ET.Element, tag: str) -> list[str]:
    """Ids of ``<tag>`` blocks that carry rules or references (not carried over)."""
    out = []
    for block in parent.findall(tag):
        if block.find("rule") is not None or block.get("id-ref") is not None:
            out.append(block.get("id") or block.get("id-ref") or tag)
    return out


@dataclass
class Report:
    """What an import could not carry over, each by name (never dropped silently)."""

    warnings: list[str] = field(default_factory=list)

    def unsupported(self, where: str, what: str, why: str = "not supported") -> None:
        self.warnings.append(f"{where}: {what}: {why}, not carried over")

    def note(self, message: str) -> None:
        self.warnings.append(message)


def _located(e: ET.ParseError, source: str) -> ValidationError:
    line, column = e.position
    return ValidationError(
        [Problem(f"not well-formed XML: {e}", file=source, line=line, column=column + 1)]
    )


def parse_xml(text: str, source: str) -> ET.Element:
    """Parse CIB text; a clear located error instead of a traceback."""
    refuse_dtd(text, source)
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise _located(e, source) from None
