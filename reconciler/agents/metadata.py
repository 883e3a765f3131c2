"""Agent meta-data (OCF and fence agents' XML) parsed into typed descriptions.

Parsing is lenient the way Pacemaker is (missing optional parts are fine) and strict
where it matters: text that is not XML, or whose root is not ``<resource-agent>``, is a
:class:`MetadataError` naming the agent and the line.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from reconciler.base.errors import AgentError

MAX_METADATA_BYTES = 4 * 1024 * 1024


class MetadataError(AgentError):
    """An agent's meta-data is not usable (not XML, wrong root element)."""


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    type: str = "string"  # string, integer, boolean, select, second, time, ...
    required: bool = False
    unique: bool = False
    reloadable: bool = False
    deprecated: bool = False
    default: str | None = None
    shortdesc: str = ""
    longdesc: str = ""
    options: tuple[str, ...] = ()  # allowed values of a "select"
    getopt: str = ""  # fence agents: the command-line spelling
    obsoletes: str | None = None  # the older name this parameter replaces (e.g. ip -> ipaddr)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    timeout_s: float | None = None
    interval_s: float | None = None
    depth: int | None = None
    role: str | None = None
    start_delay_s: float | None = None


@dataclass(frozen=True, slots=True)
class AgentMetadata:
    agent: str
    name: str
    version: str = ""
    ocf_version: str = ""
    shortdesc: str = ""
    longdesc: str = ""
    parameters: tuple[ParamSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()

    def param(self, name: str) -> ParamSpec | None:
        for p in self.parameters:
            if p.name == name:
                return p
        return None

    def action(self, name: str, interval_s: float | None = None) -> ActionSpec | None:
        """The action entry; for a recurring monitor, the one with that interval if any."""
        matches = [a for a in self.actions if a.name == name]
        if interval_s is not None:
            exact = [a for a in matches if (a.interval_s or 0) == interval_s]
            if exact:
                return exact[0]
        return matches[0] if matches else None

    def default_timeout(self, action: str, interval_s: float = 0.0) -> float | None:
        spec = self.action(action, interval_s)
        if spec is None and action == "status":
            spec = self.action("monitor", interval_s)
        return spec.timeout_s if spec else None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    "": 1.0,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 0.001,
    "msec": 0.001,
    "msecs": 0.001,
    "us": 0.000001,
    "usec": 0.000001,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
}
_ISO = re.compile(r"^P(?:T)?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in a Pacemaker interval spec: ``20``, ``20s``, ``100ms``, ``2min``, ``1h``,
    ``PT5M``. Raises ``ValueError`` with the text for anything else."""
    m = _DURATION.match(text)
    if m and m.group(2).lower() in _UNITS:
        return float(m.group(1)) * _UNITS[m.group(2).lower()]
    iso = _ISO.match(text.strip())
    if iso and any(iso.groups()):
        h, mi, s = iso.groups()
        return int(h or 0) * 3600.0 + int(mi or 0) * 60.0 + float(s or 0)
    raise ValueError(f"not a duration: {text!r} (expected e.g. 20s, 100ms, 2min, 1h)")


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() in ("1", "true", "yes", "on", "y")


def _desc(el: ET.Element, tag: str) -> str:
    # prefer English, else the first one
    found = el.findall(tag)
    for d in found:
        if d.get("lang", "en").startswith("en"):
            return " ".join((d.text or "").split())
    if found:
        return " ".join((found[0].text or "").split())
    return " ".join((el.get(tag) or "").split())


def _maybe_duration(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_duration(text)
    except ValueError:
        return None


def _param(el: ET.Element) -> ParamSpec | None:
    name = el.get("name")
    if not name:
        return None
    content = el.find("content")
    ptype = "string"
    default: str | None = None
    options: tuple[str, ...] = ()
    if content is not None:
        ptype = content.get("type", "string")
        default = content.get("default")
        options = tuple(o.get("value", "") for o in content.findall("option") if o.get("value"))
    getopt_el = el.find("getopt")
    return ParamSpec(
        name=name,
        type=ptype,
        required=_bool(el.get("required")),
        unique=_bool(el.get("unique")) or bool(el.get("unique-group")),
        reloadable=_bool(el.get("reloadable")),
        deprecated=_bool(el.get("deprecated")) or el.find("deprecated") is not None,
        default=default,
        shortdesc=_desc(el, "shortdesc"),
        longdesc=_desc(el, "longdesc"),
        options=options,
        getopt=getopt_el.get("mixed", "") if getopt_el is not None else "",
        obsoletes=el.get("obsoletes") or None,
    )


def _action(el: ET.Element) -> ActionSpec | None:
    name = el.get("name")
    if not name:
        return None
    depth = el.get("depth")
    return ActionSpec(
        name=name,
        timeout_s=_maybe_duration(el.get("timeout")),
        interval_s=_maybe_duration(el.get("interval")),
        depth=int(depth) if depth and depth.strip().isdigit() else None,
        role=el.get("role"),
        start_delay_s=_maybe_duration(el.get("start-delay")),
    )


def parse_metadata(agent: str, xml: str | bytes) -> AgentMetadata:
    """Parse an agent's ``meta-data`` output."""
    if len(xml) > MAX_METADATA_BYTES:
        raise MetadataError(f"{agent}: meta-data larger than {MAX_METADATA_BYTES} bytes")
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8", errors="replace")
    if "<!ENTITY" in xml:
        raise MetadataError(f"{agent}: meta-data declares XML entities; refusing to expand them")
    start = xml.find("<")
    if start < 0:
        raise MetadataError(f"{agent}: meta-data is empty or not XML")
    try:
        root = ET.fromstring(xml[start:].strip())
    except ET.ParseError as exc:
        line, col = exc.position
        raise MetadataError(
            f"{agent}: meta-data is not valid XML (line {line}, column {col}): {exc}"
        ) from None
    if root.tag != "resource-agent":
        raise MetadataError(f"{agent}: meta-data root is <{root.tag}>, expected <resource-agent>")
    params = tuple(
        p for p in (_param(el) for el in root.findall("./parameters/parameter")) if p is not None
    )
    actions = tuple(
        a for a in (_action(el) for el in root.findall("./actions/action")) if a is not None
    )
    version_el = root.find("version")
    return AgentMetadata(
        agent=agent,
        name=root.get("name", ""),
        version=root.get("version", ""),
        ocf_version=(version_el.text or "").strip() if version_el is not None else "",
        shortdesc=_desc(root, "shortdesc"),
        longdesc=_desc(root, "longdesc"),
        parameters=params,
        actions=actions,
    )


def render_metadata(md: AgentMetadata) -> str:
    """A readable description for ``hactl agents describe``."""
    lines = [f"{md.agent}: {md.shortdesc}".rstrip(": ")]
    if md.longdesc and md.longdesc != md.shortdesc:
        lines += ["", md.longdesc]
    lines += ["", "Parameters:"]
    if not md.parameters:
        lines.append("  (none)")
    for p in md.parameters:
        flags = [p.type]
        if p.required:
            flags.append("required")
        if p.unique:
            flags.append("unique")
        if p.reloadable:
            flags.append("reloadable")
        if p.deprecated:
            flags.append("deprecated")
        if p.default not in (None, ""):
            flags.append(f"default={p.default}")
        if p.options:
            flags.append("one of " + "|".join(p.options))
        lines.append(f"  {p.name} ({', '.join(flags)})")
        if p.shortdesc:
            lines.append(f"      {p.shortdesc}")
    lines += ["", "Actions:"]
    for a in md.actions:
        bits = [a.name]
        if a.timeout_s is not None:
            bits.append(f"timeout={a.timeout_s:g}s")
        if a.interval_s:
            bits.append(f"interval={a.interval_s:g}s")
        if a.depth is not None:
            bits.append(f"depth={a.depth}")
        if a.role:
            bits.append(f"role={a.role}")
        lines.append("  " + " ".join(bits))
    return "\n".join(lines)
