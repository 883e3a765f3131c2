"""Shared helpers for the CIB interop tests: the corpus and a crm_simulate runner."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "pacemaker-scheduler"
CASES = sorted(p.stem for p in CORPUS.glob("*.xml")) if CORPUS.is_dir() else []

needs_corpus = pytest.mark.skipif(not CASES, reason=f"corpus not found at {CORPUS}")
_skip_without_crm_simulate = pytest.mark.skipif(
    shutil.which("crm_simulate") is None,
    reason="crm_simulate missing (Debian package pacemaker-cli-utils)",
)


def needs_crm_simulate(test: Callable[..., None]) -> Callable[..., None]:
    """Marks a test `crm_simulate` and skips it when the binary is missing."""
    marked: Callable[..., None] = pytest.mark.crm_simulate(_skip_without_crm_simulate(test))
    return marked


def summary_lines(text: str) -> list[str]:
    """The Transition Summary block of crm_simulate/hactl output, normalised and sorted."""
    lines = text.splitlines()
    if "Transition Summary:" not in lines:
        return []
    out = []
    for line in lines[lines.index("Transition Summary:") + 1 :]:
        if not line.strip():
            break
        out.append(re.sub(r"\s+", " ", line.strip()))
    return sorted(out)


def crm_simulate(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    shadow = tmp_path / "shadow"
    shadow.mkdir(exist_ok=True)
    env = {**os.environ, "CIB_shadow_dir": str(shadow), "LC_ALL": "C"}
    return subprocess.run(
        ["crm_simulate", "-x", str(path), "-S"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
