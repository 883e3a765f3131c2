"""Rules over node attributes and dates, as Pacemaker's rule expressions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from reconciler.model.base import Model
from reconciler.model.values import Role, Score, Text

AttributeOp = Literal["lt", "gt", "lte", "gte", "eq", "ne", "defined", "not_defined"]
ValueType = Literal["string", "integer", "number", "version"]
DATE_RANGE_PATTERN = r"^\d+(-\d+)?$"
DateRange = Annotated[str, Field(pattern=DATE_RANGE_PATTERN)]


class DateSpec(Model):
    """Calendar ranges (each like `9-17` or `6`); all given fields must match."""

    hours: DateRange | None = Field(default=None, description="Hours of the day, 0-23.")
    monthdays: DateRange | None = Field(default=None, description="Days of the month, 1-31.")
    weekdays: DateRange | None = Field(
        default=None, description="Days of the week, 1-7 (1 is Monday)."
    )
    yeardays: DateRange | None = Field(default=None, description="Days of the year, 1-366.")
    months: DateRange | None = Field(default=None, description="Months, 1-12.")
    weeks: DateRange | None = Field(default=None, description="ISO weeks of the year, 1-53.")
    years: DateRange | None = Field(default=None, description="Years.")
    weekyears: DateRange | None = Field(default=None, description="ISO week-numbering years.")
    minutes: DateRange | None = Field(default=None, description="Minutes, 0-59.")
    seconds: DateRange | None = Field(default=None, description="Seconds, 0-59.")


class CalendarDuration(Model):
    """A calendar length: months and years have their calendar meaning."""

    years: int = Field(default=0, ge=0, description="Years.")
    months: int = Field(default=0, ge=0, description="Months.")
    weeks: int = Field(default=0, ge=0, description="Weeks.")
    days: int = Field(default=0, ge=0, description="Days.")
    hours: int = Field(default=0, ge=0, description="Hours.")
    minutes: int = Field(default=0, ge=0, description="Minutes.")
    seconds: int = Field(default=0, ge=0, description="Seconds.")


class DateExpression(Model):
    """A condition on the current date and time."""

    operation: Literal["gt", "lt", "in_range", "date_spec"] = Field(
        description="gt: after `start`; lt: before `end`; in_range: between `start` and `end` "
        "(or `start` plus `duration`); date_spec: matches `spec`."
    )
    start: datetime | None = Field(default=None, description="Start (ISO 8601).")
    end: datetime | None = Field(default=None, description="End (ISO 8601).")
    duration: CalendarDuration | None = Field(
        default=None, description="in_range only: length instead of `end`."
    )
    spec: DateSpec | None = Field(default=None, description="date_spec only: calendar ranges.")

    @model_validator(mode="after")
    def _fields_fit_operation(self) -> DateExpression:
        op = self.operation
        if op == "gt" and self.start is None:
            raise ValueError("operation gt needs `start`")
        if op == "lt" and self.end is None:
            raise ValueError("operation lt needs `end`")
        if op == "in_range":
            if self.start is None and self.end is None:
                raise ValueError("operation in_range needs `start` and/or `end`")
            if self.end is not None and self.duration is not None:
                raise ValueError("give either `end` or `duration`, not both")
        if op == "date_spec" and self.spec is None:
            raise ValueError("operation date_spec needs `spec`")
        if op != "date_spec" and self.spec is not None:
            raise ValueError("`spec` is only for operation date_spec")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("`end` is before `start`")
        return self


class Expression(Model):
    """One condition: a node `attribute`, the `date`, or a nested `rule`."""

    attribute: str | None = Field(
        default=None,
        description="A node attribute; `#uname` is the node name, `#kind`, `#id` as Pacemaker.",
    )
    operation: AttributeOp | None = Field(
        default=None,
        description="With `attribute`: lt, gt, lte, gte, eq, ne, defined, not_defined.",
    )
    value: Text | None = Field(
        default=None, description="With `attribute`: the value compared against."
    )
    type: ValueType | None = Field(
        default=None,
        description="How values compare: string, integer, number or version (default, as "
        "Pacemaker: for lt/gt/lte/gte, number when either side has a decimal point, else "
        "integer; for other operations, string).",
    )
    value_source: Literal["literal", "param", "meta"] = Field(
        default="literal",
        description="literal: `value` itself; param/meta: the resource parameter or meta "
        "attribute named by `value`.",
    )
    date: DateExpression | None = Field(default=None, description="A date condition.")
    rule: Rule | None = Field(default=None, description="A nested rule.")

    @model_validator(mode="after")
    def _one_kind(self) -> Expression:
        kinds = [k for k in ("attribute", "date", "rule") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "an expression has exactly one of `attribute`, `date` or `rule`"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        if self.attribute is not None:
            if self.operation is None:
                raise ValueError("an attribute expression needs `operation`")
            needs_value = self.operation not in ("defined", "not_defined")
            if needs_value and self.value is None:
                raise ValueError(f"operation {self.operation} needs `value`")
            if not needs_value and self.value is not None:
                raise ValueError(f"operation {self.operation} takes no `value`")
        elif self.operation is not None or self.value is not None:
            raise ValueError("`operation` and `value` belong to attribute expressions")
        return self


class Rule(Model):
    """Expressions combined with `and` or `or`."""

    boolean_op: Literal["and", "or"] = Field(
        default="and", description="Combine the expressions with and (all) or or (any)."
    )
    expressions: tuple[Expression, ...] = Field(min_length=1, description="The conditions.")


class LocationRule(Rule):
    """A rule that adds `score` (or node attribute `scoreAttribute`) where it holds."""

    score: Score | None = Field(default=None, description="Score added where the rule holds.")
    score_attribute: str | None = Field(
        default=None, description="Use this node attribute's value as the score instead."
    )
    role: Role | None = Field(default=None, description="Apply only to this role.")

    @model_validator(mode="after")
    def _one_score(self) -> LocationRule:
        if (self.score is None) == (self.score_attribute is None):
            raise ValueError("a location rule has exactly one of `score` or `scoreAttribute`")
        return self


Expression.model_rebuild()
