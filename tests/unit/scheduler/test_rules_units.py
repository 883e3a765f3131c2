from __future__ import annotations

import pytest

from reconciler.scheduler.input import Expression, Rule
from reconciler.scheduler.rules import eval_rule, rule_score
from reconciler.scheduler.units import PROMOTED, UNPROMOTED, parse_ms, parse_role

ATTRS = {"#uname": "node1", "ram": "16", "kernel": "5.10.2", "zone": "a"}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (Expression("#uname", "eq", "node1"), True),
        (Expression("#uname", "ne", "node1"), False),
        (Expression("ram", "gt", "8", "integer"), True),
        (Expression("ram", "gt", "8", "string"), False),  # "16" < "8" as strings
        (Expression("ram", "lte", "16"), True),
        (Expression("kernel", "gte", "5.9", "version"), True),
        (Expression("missing", "defined"), False),
        (Expression("missing", "not_defined"), True),
        (Expression("missing", "eq", "x"), False),
        (Expression("missing", "ne", "x"), True),
    ],
)
def test_expressions(expr: Expression, expected: bool) -> None:
    assert eval_rule(Rule("r", (expr,)), ATTRS, 0) is expected


def test_boolean_ops_and_nesting() -> None:
    yes = Expression("zone", "eq", "a")
    no = Expression("zone", "eq", "b")
    assert not eval_rule(Rule("r", (yes, no)), ATTRS, 0)
    assert eval_rule(Rule("r", (yes, no), boolean_op="or"), ATTRS, 0)
    assert eval_rule(Rule("outer", (Rule("inner", (no, yes), boolean_op="or"), yes)), ATTRS, 0)


def test_rule_score_and_score_attribute() -> None:
    assert rule_score(Rule("r", (), score=100), ATTRS) == 100
    assert rule_score(Rule("r", (), score_attribute="ram"), ATTRS) == 16
    assert rule_score(Rule("r", (), score_attribute="nope"), ATTRS) == 0


def test_durations_and_roles() -> None:
    assert parse_ms("10") == 10_000
    assert parse_ms("10s") == 10_000
    assert parse_ms("2min") == 120_000
    assert parse_ms("500ms") == 500
    assert parse_ms("PT1M30S") == 90_000
    assert parse_role("Master") == PROMOTED
    assert parse_role("slave") == UNPROMOTED
    assert parse_role("bogus") is None


def test_date_expressions() -> None:
    from reconciler.scheduler.input import DateExpression, DateSpec

    noon = 1_700_000_000 - 1_700_000_000 % 86400 + 12 * 3600  # a day at 12:00 UTC
    day = Rule("r", (DateExpression("date_spec", date_spec=DateSpec(hours="9-16")),))
    night = Rule("r", (DateExpression("date_spec", date_spec=DateSpec(hours="0-6")),))
    assert eval_rule(day, ATTRS, noon) and not eval_rule(night, ATTRS, noon)
    window = DateExpression("in_range", start="2023-11-14", duration={"days": "1"})
    assert eval_rule(Rule("r", (window,)), ATTRS, 1_700_000_000)  # 2023-11-14T22:13Z
    assert not eval_rule(Rule("r", (window,)), ATTRS, 1_700_000_000 + 86400)
    assert eval_rule(Rule("r", (DateExpression("gt", start="2020-01-01"),)), ATTRS, noon)
    assert not eval_rule(Rule("r", (DateExpression("lt", end="2020-01-01"),)), ATTRS, noon)
