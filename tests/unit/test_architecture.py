"""The house rules that a tool can hold: import layers, pure cores, lint."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PURE = ["base", "model", "raft", "kv", "scheduler", "cib", "controller"]
BANNED_CALLS = {
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "sleep"),
    ("time", "perf_counter"),
    ("random", "random"),
    ("random", "randint"),
    ("random", "choice"),
    ("random", "shuffle"),
    ("random", "seed"),
    ("random", "uniform"),
    ("datetime", "now"),
    ("uuid", "uuid4"),
}


def test_import_contracts_hold() -> None:
    out = subprocess.run([str(BIN / "lint-imports")], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("layer", PURE)
def test_pure_layers_call_no_clock_or_global_random(layer: str) -> None:
    bad = []
    for path in sorted((REPO / "reconciler" / layer).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in BANNED_CALLS
            ):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not bad, f"pure layer calls the clock or global randomness: {bad}"


def test_ruff_clean() -> None:
    out = subprocess.run(
        [str(BIN / "ruff"), "check", "reconciler", "tests", "bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict() -> None:
    out = subprocess.run(
        [str(BIN / "mypy"), "reconciler"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_test_module_basenames_are_unique() -> None:
    # pytest's default import mode imports test modules by basename: two test_x.py in
    # different folders collide ("import file mismatch"). Name them after their layer.
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(REPO)} ~ {path.relative_to(REPO)}")
        seen.setdefault(path.name, path)
    assert not clashes, clashes
