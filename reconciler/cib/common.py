"""Small helpers shared by the CIB reader and writer: booleans, intervals, roles, nvpairs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.base.errors import Problem, ValidationError

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


#: text fed to the XML parser at a time, so that status elements can be dropped as they end
CHUNK = 1 << 20


def _located(e: ET.ParseError, source: str) -> ValidationError:
    line, column = e.position
    return ValidationError(
        [Problem(f"not well-formed XML: {e}", file=source, line=line, column=column + 1)]
    )


def _refuse_dtd(text: str, source: str) -> None:
    if "<!DOCTYPE" in text[:4096] or "<!ENTITY" in text[:65536]:
        raise ValidationError([Problem("DTDs and entities are not accepted in a CIB", file=source)])


def parse_xml(text: str, source: str) -> ET.Element:
    """Parse CIB text; a clear located error instead of a traceback."""
    _refuse_dtd(text, source)
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise _located(e, source) from None


def parse_cib(
    text: str, source: str, node_state: Callable[[ET.Element, ET.Element], bool]
) -> ET.Element:
    """Parse a CIB, handing each ``/cib/status/node_state`` to ``node_state(element, root)``
    as soon as it ends. When that returns True the element is dropped from the tree, so a
    status of hundreds of thousands of operation records is never held whole."""
    _refuse_dtd(text, source)
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    status: ET.Element | None = None  # the root's child being read, when it is <status>
    depth = 0  # of the element that starts next
    el: ET.Element
    try:
        for offset in range(0, len(text), CHUNK):
            parser.feed(text[offset : offset + CHUNK])
            for item in parser.read_events():
                event, el = item  # type: ignore[misc,assignment]  # a (str, Element) pair
                if event == "start":
                    if depth == 0:
                        root = el
                    elif depth == 1:
                        status = el if el.tag == "status" else None
                    depth += 1
                    continue
                depth -= 1
                if depth == 2 and status is not None and el.tag == "node_state":
                    assert root is not None
                    if node_state(el, root):
                        status.remove(el)
        parser.close()
    except ET.ParseError as e:
        raise _located(e, source) from None
    if root is None:
        raise ValidationError([Problem("no XML element in the file", file=source)])
    return root
