"""Label selectors as kubectl writes them: ``app=web,tier!=db,env``."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.base.errors import Problem, ValidationError


def matches(selector: str, labels: Mapping[str, str]) -> bool:
    for raw in (p.strip() for p in selector.split(",")):
        if not raw:
            continue
        if "!=" in raw:
            k, _, v = raw.partition("!=")
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in raw:
            k, _, v = raw.partition("=")
            if labels.get(k.strip().rstrip("=")) != v.strip().lstrip("="):
                return False
        elif raw.startswith("!"):
            if raw[1:] in labels:
                return False
        elif raw not in labels:
            return False
    return True


def check(selector: str) -> str:
    for raw in (p.strip() for p in selector.split(",")):
        if raw and not raw.replace("!", "").replace("=", "").strip():
            raise ValidationError([Problem(f"bad label selector {selector!r}", path="-l")])
    return selector
