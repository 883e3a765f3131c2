"""Constraint normalisation: locations resolved to per-resource node scores,
colocations and orders expanded from sets into pairs.

Pure helpers used by the assignment and ordering stages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from reconciler.scheduler.input import Colocation, Location, Order, SchedulerInput
from reconciler.scheduler.rules import eval_rule, rule_score
from reconciler.scheduler.units import PROMOTED, STARTED, parse_role


@dataclass(frozen=True, slots=True)
class Coloc:
    """One pairwise colocation: ``dependent`` placed relative to ``primary``."""

    id: str
    dependent: str
    primary: str
    score: int
    dependent_role: str | None
    primary_role: str | None
    node_attribute: str
    influence: bool


@dataclass(frozen=True, slots=True)
class Ord:
    """One pairwise ordering between resource actions."""

    id: str
    first: str
    first_action: str
    then: str
    then_action: str
    kind: str  # Mandatory | Optional | Serialize
    symmetrical: bool
    require_any: str | None = None  # id of a one-or-more pseudo action


@dataclass(frozen=True, slots=True)
class LocScore:
    """One location score for a resource on a node, with where it came from."""

    resource: str
    node: str
    score: int
    source: str
    role: str | None


def _role(text: str | None) -> str | None:
    r = parse_role(text)
    return None if r == STARTED else r


def location_scores(
    inp: SchedulerInput,
    nodes_attrs: Mapping[str, Mapping[str, str]],
    known: Mapping[str, object],
    now: int,
) -> tuple[LocScore, ...]:
    """Evaluate every location constraint into (resource, node, score, source, role)."""
    out: list[LocScore] = []
    tops = [r.id for r in inp.resources]
    for loc in inp.locations:
        targets: list[str] = []
        if loc.rsc is not None:
            targets = [loc.rsc] if loc.rsc in known else []
        elif loc.rsc_pattern is not None:
            try:
                pat = re.compile(loc.rsc_pattern)
            except re.error:
                pat = None
            if pat is not None:
                targets = [t for t in tops if pat.match(t)]
        for s in loc.sets:
            targets.extend(r for r in s.resources if r in known)
        for t in targets:
            out.extend(_one_location(loc, t, nodes_attrs, now))
    return tuple(out)


def _one_location(
    loc: Location, target: str, nodes_attrs: Mapping[str, Mapping[str, str]], now: int
) -> list[LocScore]:
    out: list[LocScore] = []
    role = _role(loc.role)
    if loc.node is not None:
        if loc.node in nodes_attrs and loc.score is not None:
            out.append(LocScore(target, loc.node, loc.score, loc.id, role))
        return out
    for rule in loc.rules:
        rrole = _role(rule.role) or role
        for node, attrs in nodes_attrs.items():
            if eval_rule(rule, attrs, now):
                out.append(LocScore(target, node, rule_score(rule, attrs), loc.id, rrole))
    return out


def colocation_pairs(inp: SchedulerInput, known: Mapping[str, object]) -> tuple[Coloc, ...]:
    """Pairwise colocations (sets expanded as Pacemaker does)."""
    out: list[Coloc] = []
    for c in inp.colocations:
        infl = True if c.influence is None else c.influence
        if c.rsc is not None and c.with_rsc is not None:
            if c.rsc in known and c.with_rsc in known:
                out.append(
                    Coloc(
                        c.id,
                        c.rsc,
                        c.with_rsc,
                        c.score,
                        _role(c.rsc_role),
                        _role(c.with_rsc_role),
                        c.node_attribute,
                        infl,
                    )
                )
            continue
        out.extend(_coloc_sets(c, known, infl))
    return tuple(out)


def _coloc_sets(c: Colocation, known: Mapping[str, object], infl: bool) -> list[Coloc]:
    out: list[Coloc] = []
    sets = c.sets
    for s in sets:
        score = s.score if s.score is not None else c.score
        if s.sequential:
            # each member colocated with the previous one
            rs = [r for r in s.resources if r in known]
            for prev, cur in pairwise(rs):
                out.append(
                    Coloc(
                        c.id, cur, prev, score, _role(s.role), _role(s.role), c.node_attribute, infl
                    )
                )
    # between sets: every member of a later set with every member of the former
    for a, b in pairwise(sets):
        for dep in b.resources:
            for pri in a.resources:
                if dep in known and pri in known:
                    out.append(
                        Coloc(
                            c.id,
                            dep,
                            pri,
                            c.score,
                            _role(b.role),
                            _role(a.role),
                            c.node_attribute,
                            infl,
                        )
                    )
                    if b.sequential:
                        break
            if a.sequential:
                pass
    return out


def _kind(o: Order) -> str:
    if o.kind is not None:
        k = o.kind.lower()
        return {"mandatory": "Mandatory", "optional": "Optional", "serialize": "Serialize"}.get(
            k, "Mandatory"
        )
    if o.score is not None and o.score == 0:
        return "Optional"
    return "Mandatory"


def order_pairs(inp: SchedulerInput, known: Mapping[str, object]) -> tuple[Ord, ...]:
    """Pairwise orderings (sets expanded; one-or-more sets get a pseudo action id)."""
    out: list[Ord] = []
    for o in inp.orders:
        kind = _kind(o)
        sym = o.symmetrical if o.symmetrical is not None else kind != "Serialize"
        if o.first is not None and o.then is not None:
            if o.first in known and o.then in known:
                out.append(
                    Ord(
                        o.id,
                        o.first,
                        o.first_action or "start",
                        o.then,
                        o.then_action or o.first_action or "start",
                        kind,
                        sym,
                    )
                )
            continue
        sets = o.sets
        for s in sets:
            act = s.action or "start"
            rs = [r for r in s.resources if r in known]
            if s.sequential:
                for prev, cur in pairwise(rs):
                    out.append(Ord(o.id, prev, act, cur, act, kind, sym))
        for a, b in pairwise(sets):
            a_act, b_act = a.action or "start", b.action or "start"
            firsts = [r for r in a.resources if r in known]
            thens = [r for r in b.resources if r in known]
            if not a.require_all:
                pseudo = f"one-or-more:{a.id}"
                for f in firsts:
                    for t in thens:
                        out.append(Ord(o.id, f, a_act, t, b_act, kind, sym, require_any=pseudo))
                continue
            if a.sequential and firsts:
                firsts = [firsts[-1]]
            if b.sequential and thens:
                thens = [thens[0]]
            for f in firsts:
                for t in thens:
                    out.append(Ord(o.id, f, a_act, t, b_act, kind, sym))
    return tuple(out)


ROLE_PROMOTED = PROMOTED


@dataclass(frozen=True, slots=True)
class MergeMode:
    """How colocated scores are merged (Pacemaker's pe_weights_* flags)."""

    this_with: bool = False
    only_positive: bool = False
    rollback: bool = False


FORWARD = MergeMode(this_with=True)
ROLLBACK = MergeMode(rollback=True)
ROLLBACK_POSITIVE = MergeMode(only_positive=True, rollback=True)
