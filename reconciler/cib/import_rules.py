"""CIB ``<rule>`` elements -> the manifests' rule mappings (LocationRule / Rule)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from reconciler.base import score as scores
from reconciler.cib.common import Report, role

Doc = dict[str, Any]
_ATTR_OPS = {"lt", "gt", "lte", "gte", "eq", "ne", "defined", "not_defined"}
_TYPES = {"string", "integer", "number", "version"}
_SPEC_FIELDS = (
    "hours",
    "monthdays",
    "weekdays",
    "yeardays",
    "months",
    "weeks",
    "years",
    "weekyears",
    "minutes",
    "seconds",
)
_DURATION_FIELDS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")


def location_rule(where: str, el: ET.Element, report: Report) -> Doc | None:
    """A top-level rule of a location constraint (it carries the score), or None."""
    body = rule_body(where, el, report)
    if body is None:
        return None
    if el.get("score-attribute"):
        body["scoreAttribute"] = el.get("score-attribute")
    else:
        score = scores.parse(el.get("score", "0"))
        body["score"] = scores.render(score) if abs(score) >= scores.INFINITY else int(score)
    if el.get("role"):
        r = role(el.get("role"))
        if r is None:
            report.unsupported(where, f"role={el.get('role')}")
            return None
        body["role"] = r
    return body


def rule_body(where: str, el: ET.Element, report: Report) -> Doc | None:
    if el.get("id-ref"):
        report.unsupported(where, f"rule reference id-ref={el.get('id-ref')}")
        return None
    expressions = []
    for child in el:
        here = f"{where} {child.tag} {child.get('id', '?')}"
        expr = expression(here, child, report)
        if expr is None:
            return None  # a rule missing a condition would change its meaning: drop it whole
        expressions.append(expr)
    if not expressions:
        report.unsupported(where, "an empty rule")
        return None
    body: Doc = {"expressions": expressions}
    op = el.get("boolean-op", "and")
    if op not in ("and", "or"):
        report.unsupported(where, f"boolean-op={op}")
        return None
    if op != "and":
        body["booleanOp"] = op
    return body


def expression(where: str, el: ET.Element, report: Report) -> Doc | None:
    if el.tag == "rule":
        body = rule_body(where, el, report)
        return None if body is None else {"rule": body}
    if el.tag == "date_expression":
        date = date_expression(where, el, report)
        return None if date is None else {"date": date}
    if el.tag != "expression":
        report.unsupported(where, f"<{el.tag}> in a rule")
        return None
    op = el.get("operation", "")
    if op not in _ATTR_OPS:
        report.unsupported(where, f"operation={op}")
        return None
    doc: Doc = {"attribute": el.get("attribute", ""), "operation": op}
    if op not in ("defined", "not_defined"):
        doc["value"] = el.get("value", "")
    kind = el.get("type")
    if kind is not None:
        if kind not in _TYPES:
            report.unsupported(where, f"type={kind}")
            return None
        doc["type"] = kind
    source = el.get("value-source")
    if source is not None and source != "literal":
        doc["valueSource"] = source
    return doc


def _when(where: str, value: str | None, report: Report) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip()).isoformat()
    except ValueError:
        report.unsupported(where, f"date {value!r}", "not an ISO 8601 date-time we can read")
        raise


def date_expression(where: str, el: ET.Element, report: Report) -> Doc | None:
    op = el.get("operation", "in_range")
    if op not in ("gt", "lt", "in_range", "date_spec"):
        report.unsupported(where, f"operation={op}")
        return None
    doc: Doc = {"operation": op}
    try:
        for key in ("start", "end"):
            when = _when(where, el.get(key), report)
            if when is not None:
                doc[key] = when
    except ValueError:
        return None
    duration = el.find("duration")
    if duration is not None:
        fields = {k: int(duration.get(k, "0")) for k in _DURATION_FIELDS if duration.get(k)}
        doc["duration"] = fields
    spec = el.find("date_spec")
    if spec is not None:
        if spec.get("moon"):
            report.unsupported(where, "date_spec moon")
            return None
        doc["spec"] = {k: spec.get(k) for k in _SPEC_FIELDS if spec.get(k)}
    return doc
