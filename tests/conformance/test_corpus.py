"""Pacemaker's scheduler regression corpus: our Transition Summary against crm_simulate's.

Every case runs; the score table by category is printed at the end (``-s`` or
the terminal summary). A case listed in ``passing.txt`` that no longer matches
fails the suite. Grow the list with
``.venv/bin/python tests/conformance/harness.py --update-passing`` (or set
``HACTL_UPDATE_PASSING=1`` when running pytest).
"""

from __future__ import annotations

import os

import harness
import pytest

CASES = harness.cases() if harness.CORPUS.is_dir() else []
RESULTS: list[harness.Result] = []


def _must_pass() -> set[str]:
    return harness.read_passing()


@pytest.mark.skipif(not CASES, reason=f"corpus not found at {harness.CORPUS}")
@pytest.mark.parametrize(("name", "category"), CASES, ids=[c[0] for c in CASES])
def test_case(name: str, category: str) -> None:
    result = harness.run_case(name, category)
    RESULTS.append(result)
    if name in _must_pass() and not result.ok:
        detail = [f"error: {result.error}"] if result.error else []
        detail += [f"- {m}" for m in result.missing] + [f"+ {e}" for e in result.extra]
        pytest.fail(f"{name} regressed (listed in passing.txt):\n" + "\n".join(detail))
    if not result.ok:
        pytest.xfail("not yet reproduced: " + "; ".join(result.missing + result.extra)[:300])


@pytest.fixture(scope="session", autouse=True)
def _score_table() -> object:
    yield None
    if RESULTS:
        print("\n" + harness.table(RESULTS))
        if os.environ.get("HACTL_UPDATE_PASSING") == "1" and len(RESULTS) == len(CASES):
            now_ok = {r.name for r in RESULTS if r.ok}
            harness.write_passing(now_ok | _must_pass())
