"""Seeds for the deterministic simulation: ``--sim-seeds=N --sim-seed-start=S``.

``make sim SEEDS=N SEED_START=S`` passes them; plain ``pytest tests/sim`` runs the CI range.
"""

from __future__ import annotations

import pytest

DEFAULT_SEEDS = 500


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sim", "deterministic simulation")
    group.addoption("--sim-seeds", type=int, default=DEFAULT_SEEDS, help="how many seeds")
    group.addoption("--sim-seed-start", type=int, default=0, help="first seed")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames:
        n = metafunc.config.getoption("--sim-seeds")
        start = metafunc.config.getoption("--sim-seed-start")
        metafunc.parametrize("seed", range(start, start + n))
