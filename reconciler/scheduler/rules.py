"""Evaluation of location rules against node attributes (Pacemaker's rule engine subset).

Supported: ``expression`` (lt/gt/lte/gte/eq/ne/defined/not_defined with string,
integer, number and version comparison), nested rules with and/or, rule scores
and ``score-attribute``, and ``date_expression`` (``gt``, ``lt``, ``in_range``
with ``end`` or ``duration``, ``date_spec`` on hours, weekdays, monthdays,
months, yeardays, years) evaluated at ``now`` in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from reconciler.base import score as sc
from reconciler.scheduler.input import DateExpression, DateSpec, Expression, Rule


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _int(text: str) -> int | None:
    try:
        return int(float(text))
    except ValueError:
        return None


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for p in text.split("."):
        try:
            parts.append(int(p))
        except ValueError:
            parts.append(0)
    return tuple(parts)


def _compare(op: str, left: str, right: str, kind: str | None) -> bool:
    if kind is None:
        # Pacemaker: integer if either value parses as a number... default "string"
        # unless both are numeric.
        kind = "number" if (_num(left) is not None and _num(right) is not None) else "string"
    lv: object
    rv: object
    if kind == "integer":
        li, ri = _int(left), _int(right)
        if li is None or ri is None:
            lv, rv = left.lower(), right.lower()
        else:
            lv, rv = li, ri
    elif kind == "number":
        ln, rn = _num(left), _num(right)
        if ln is None or rn is None:
            lv, rv = left.lower(), right.lower()
        else:
            lv, rv = ln, rn
    elif kind == "version":
        lv, rv = _version(left), _version(right)
    else:
        lv, rv = left.lower(), right.lower()
    if op == "eq":
        return lv == rv
    if op == "ne":
        return lv != rv
    try:
        if op == "lt":
            return lv < rv  # type: ignore[operator]
        if op == "gt":
            return lv > rv  # type: ignore[operator]
        if op == "lte":
            return lv <= rv  # type: ignore[operator]
        if op == "gte":
            return lv >= rv  # type: ignore[operator]
    except TypeError:
        return False
    return False


def eval_expression(expr: Expression, attrs: Mapping[str, str]) -> bool:
    """One ``<expression>`` against a node's attributes."""
    have = attrs.get(expr.attribute)
    if expr.operation == "defined":
        return have is not None
    if expr.operation == "not_defined":
        return have is None
    if expr.value is None:
        return False
    if have is None:
        # Pacemaker: a missing attribute compares only with ne
        return expr.operation == "ne"
    return _compare(expr.operation, have, expr.value, expr.type)


def eval_rule(rule: Rule, attrs: Mapping[str, str], now: int) -> bool:
    """Does ``rule`` match a node with ``attrs`` at time ``now``?"""
    results = []
    for e in rule.expressions:
        if isinstance(e, Rule):
            results.append(eval_rule(e, attrs, now))
        elif isinstance(e, DateExpression):
            results.append(eval_date(e, now))
        else:
            results.append(eval_expression(e, attrs))
    if not results:
        return True
    if rule.boolean_op.lower() == "or":
        return any(results)
    return all(results)


def rule_score(rule: Rule, attrs: Mapping[str, str]) -> int:
    """The score a matching top-level rule contributes on a node."""
    if rule.score_attribute:
        raw = attrs.get(rule.score_attribute)
        if raw is None:
            return 0
        try:
            return sc.parse(raw)
        except ValueError:
            return 0
    return rule.score if rule.score is not None else 0


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    t = text.strip().replace(" ", "T", 1)
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(t)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _in_spec(field: str | None, value: int) -> bool:
    """``"1-5"``, ``"3"`` or ``"1,3,5"``; ``None`` matches everything."""
    if field is None:
        return True
    for part in field.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            low = int(lo)
            high = int(hi) if hi else low
        except ValueError:
            return False
        if low <= value <= high:
            return True
    return False


def _date_spec(spec: DateSpec, at: datetime) -> bool:
    return (
        _in_spec(spec.hours, at.hour)
        and _in_spec(spec.weekdays, at.isoweekday())
        and _in_spec(spec.monthdays, at.day)
        and _in_spec(spec.months, at.month)
        and _in_spec(spec.yeardays, at.timetuple().tm_yday)
        and _in_spec(spec.years, at.year)
        and _in_spec(spec.weeks, at.isocalendar().week)
        and _in_spec(spec.weekyears, at.isocalendar().year)
    )


def _duration(d: Mapping[str, str]) -> timedelta:
    def get(k: str) -> int:
        try:
            return int(d.get(k, "0"))
        except ValueError:
            return 0

    days = get("days") + 7 * get("weeks") + 30 * get("months") + 365 * get("years")
    return timedelta(days=days, hours=get("hours"), minutes=get("minutes"), seconds=get("seconds"))


def eval_date(expr: DateExpression, now: int) -> bool:
    """A ``date_expression`` at ``now`` (epoch seconds, UTC)."""
    at = datetime.fromtimestamp(now, tz=UTC)
    start = _parse_time(expr.start)
    end = _parse_time(expr.end)
    op = expr.operation
    if op == "gt":
        return start is not None and at > start
    if op == "lt":
        return end is not None and at < end
    if op == "date_spec":
        return expr.date_spec is not None and _date_spec(expr.date_spec, at)
    if op == "in_range":
        if end is None and start is not None and expr.duration is not None:
            end = start + _duration(expr.duration)
        if start is None and end is None:
            return False
        return (start is None or at >= start) and (end is None or at <= end)
    return False
