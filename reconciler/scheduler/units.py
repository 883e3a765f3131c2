"""Parsing of Pacemaker's textual values: booleans, durations, roles, scores."""

from __future__ import annotations

import re

from reconciler.base import score as sc

_DUR = re.compile(r"^\s*(-?\d+)\s*([a-zA-Z]*)\s*$")
_ISO = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$", re.IGNORECASE
)
_UNIT_MS = {
    "": 1000,
    "s": 1000,
    "sec": 1000,
    "ms": 1,
    "msec": 1,
    "us": 0,
    "usec": 0,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
}

STOPPED = "Stopped"
STARTED = "Started"
UNPROMOTED = "Unpromoted"
PROMOTED = "Promoted"
UNKNOWN = "Unknown"

ROLE_RANK = {UNKNOWN: 0, STOPPED: 1, STARTED: 2, UNPROMOTED: 3, PROMOTED: 4}

_ROLE_ALIASES = {
    "stopped": STOPPED,
    "started": STARTED,
    "slave": UNPROMOTED,
    "unpromoted": UNPROMOTED,
    "master": PROMOTED,
    "promoted": PROMOTED,
}


def parse_bool(text: str | None, default: bool = False) -> bool:
    """Pacemaker's crm_is_true: true/on/yes/y/1 (case-insensitive)."""
    if text is None:
        return default
    return text.strip().lower() in ("true", "on", "yes", "y", "1")


def parse_ms(text: str | None, default: int = 0) -> int:
    """A duration (``10``, ``10s``, ``2min``, ``500ms``, ``PT1M``) in milliseconds."""
    if text is None or not text.strip():
        return default
    m = _DUR.match(text)
    if m:
        unit = m.group(2).lower()
        if unit not in _UNIT_MS:
            return default
        return int(m.group(1)) * _UNIT_MS[unit]
    iso = _ISO.match(text.strip())
    if iso:
        d, h, mi, s = (int(iso.group(k) or 0) for k in ("d", "h", "m", "s"))
        return ((d * 24 + h) * 60 + mi) * 60_000 + s * 1000
    return default


def parse_role(text: str | None) -> str | None:
    """Normalise a role name (legacy Master/Slave accepted); ``None`` if absent/unknown."""
    if text is None:
        return None
    return _ROLE_ALIASES.get(text.strip().lower())


def parse_score(text: str | None, default: int = 0) -> int:
    """A score, or ``default`` when absent or unparsable (Pacemaker is lenient too)."""
    if text is None:
        return default
    try:
        return sc.parse(text)
    except ValueError:
        return default
