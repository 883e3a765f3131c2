"""Evaluation of location rules against node attributes (Pacemaker's rule engine subset).

Supported: ``expression`` (lt/gt/lte/gte/eq/ne/defined/not_defined with string,
integer, number and version comparison), nested rules with and/or, rule scores
and ``score-attribute``. Date expressions are evaluated as not matching (they
are reported as unsupported by the importer); ``now`` is threaded through so
they can be added without changing signatures.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.base import score as sc
from reconciler.scheduler.input import DateExpression, Expression, Rule


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
            results.append(False)
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
