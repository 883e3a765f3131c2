from hypothesis import given
from hypothesis import strategies as st

from reconciler.base import score
from reconciler.base.score import INFINITY, MINUS_INFINITY

scores = st.one_of(st.integers(-2_000_000, 2_000_000), st.sampled_from([INFINITY, MINUS_INFINITY]))


def test_minus_infinity_wins_over_infinity() -> None:
    assert score.add(INFINITY, MINUS_INFINITY) == MINUS_INFINITY
    assert score.add(MINUS_INFINITY, INFINITY) == MINUS_INFINITY


def test_sums_clamp() -> None:
    assert score.add(999_999, 5) == INFINITY
    assert score.add(-999_999, -5) == MINUS_INFINITY
    assert score.add(10, -3) == 7


def test_parse_and_render() -> None:
    assert score.parse("INFINITY") == INFINITY
    assert score.parse("+INFINITY") == INFINITY
    assert score.parse("-infinity") == MINUS_INFINITY
    assert score.parse(" 42 ") == 42
    assert score.parse(5_000_000) == INFINITY
    assert score.render(INFINITY) == "INFINITY"
    assert score.render(-7) == "-7"


def test_parse_rejects_garbage() -> None:
    for bad in ["", "inf inity", "1.5", "ten"]:
        try:
            score.parse(bad)
        except ValueError as e:
            assert "not a score" in str(e)
        else:
            raise AssertionError(f"{bad!r} parsed")


@given(scores, scores)
def test_add_commutes_and_stays_in_range(a: int, b: int) -> None:
    assert score.add(a, b) == score.add(b, a)
    assert MINUS_INFINITY <= score.add(a, b) <= INFINITY


@given(st.lists(scores, max_size=8))
def test_minus_infinity_absorbs(xs: list[int]) -> None:
    assert score.total([*xs, MINUS_INFINITY]) == MINUS_INFINITY
