""" "Did you mean …?" hints for near-miss names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Pacemaker's names for things that are spelt differently here.
PACEMAKER_NAMES = {
    "resourcestickiness": "stickiness",
    "ismanaged": "managed",
    "clonemax": "max",
    "clonenodemax": "perNodeMax",
    "clonemin": "minActive",
    "promotedmax": "promotedMax",
    "mastermax": "promotedMax",
    "promotednodemax": "promotedPerNodeMax",
    "masternodemax": "promotedPerNodeMax",
    "pcmkhostlist": "hostList",
    "pcmkhostmap": "hostMap",
    "pcmkhostcheck": "hostCheck",
    "pcmkhostargument": "hostArgument",
    "pcmkdelaybase": "delayBase",
    "pcmkdelaymax": "delayMax",
    "stonithenabled": "fencingEnabled",
    "stonithaction": "fencingAction",
    "stonithtimeout": "fencingTimeout",
    "rsc": "resource",
    "withrsc": "withResource",
    "rscrole": "role",
    "withrscrole": "withRole",
    "type": "agent",
    "class": "agent",
    "instanceattributes": "params",
    "parameters": "params",
    "ops": "operations",
    "op": "operations",
    "members": "resources",
    "booleanop": "booleanOp",
    "onfail": "onFail",
}


def _norm(word: str) -> str:
    return word.replace("-", "").replace("_", "").replace(" ", "").lower()


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the candidate closest to ``word``, or None when nothing is close."""
    options = sorted(set(candidates))
    if not options:
        return None
    normalized = {_norm(c): c for c in options}
    key = _norm(word)
    if key in normalized and normalized[key] != word:
        return f"did you mean `{normalized[key]}`?"
    mapped = PACEMAKER_NAMES.get(key)
    if mapped in options:
        return f"did you mean `{mapped}`?"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(key, list(normalized), n=1, cutoff=0.6)
        close = [normalized[c] for c in close]
    if close and close[0] != word:
        return f"did you mean `{close[0]}`?"
    return None
