"""Scores with Pacemaker's saturating +/-INFINITY arithmetic.

INFINITY is 1,000,000. Sums clamp to [-INFINITY, +INFINITY]; -INFINITY wins over
+INFINITY (``+INF + -INF == -INF``), as in Pacemaker's ``pcmk__add_scores``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NewType

Score = NewType("Score", int)

INFINITY = Score(1_000_000)
MINUS_INFINITY = Score(-1_000_000)

_WORDS = {
    "INFINITY": INFINITY,
    "+INFINITY": INFINITY,
    "-INFINITY": MINUS_INFINITY,
    "INF": INFINITY,
    "+INF": INFINITY,
    "-INF": MINUS_INFINITY,
}


def clamp(value: int) -> Score:
    """Clamp any integer into the score range."""
    if value >= INFINITY:
        return INFINITY
    if value <= MINUS_INFINITY:
        return MINUS_INFINITY
    return Score(value)


def add(a: int, b: int) -> Score:
    """Add two scores: -INFINITY dominates, then +INFINITY, else a clamped sum."""
    if a <= MINUS_INFINITY or b <= MINUS_INFINITY:
        return MINUS_INFINITY
    if a >= INFINITY or b >= INFINITY:
        return INFINITY
    return clamp(a + b)


def total(scores: Iterable[int]) -> Score:
    """Fold :func:`add` over ``scores`` starting from 0."""
    result = Score(0)
    for s in scores:
        result = add(result, s)
    return result


def multiply(score: int, factor: float) -> Score:
    """Scale a score (colocation influence); infinities keep their sign."""
    if score >= INFINITY:
        return INFINITY if factor > 0 else (MINUS_INFINITY if factor < 0 else Score(0))
    if score <= MINUS_INFINITY:
        return MINUS_INFINITY if factor > 0 else (INFINITY if factor < 0 else Score(0))
    return clamp(int(score * factor))


def parse(text: str | int) -> Score:
    """Parse ``"INFINITY"``, ``"-INFINITY"``, ``"+INFINITY"`` or an integer.

    Raises ``ValueError`` with a readable message for anything else.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a score: {text!r}")
    if isinstance(text, int):
        return clamp(text)
    word = text.strip()
    upper = word.upper()
    if upper in _WORDS:
        return _WORDS[upper]
    try:
        return clamp(int(word, 10))
    except ValueError:
        raise ValueError(
            f"not a score: {text!r} (expected an integer, INFINITY or -INFINITY)"
        ) from None


def render(score: int) -> str:
    """Render as Pacemaker prints it: ``INFINITY``, ``-INFINITY`` or the integer."""
    if score >= INFINITY:
        return "INFINITY"
    if score <= MINUS_INFINITY:
        return "-INFINITY"
    return str(score)
