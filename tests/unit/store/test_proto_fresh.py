"""reconciler/_proto is generated from proto/: regenerate into a temporary directory and compare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def test_generated_protocols_are_fresh(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    protos = sorted((REPO / "proto").glob("*.proto"))
    assert protos, "no proto/*.proto"
    staged = tmp_path / "reconciler" / "_proto"
    staged.mkdir(parents=True)
    # the same command as `make proto`, with the output in tmp_path
    out = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-Ireconciler/_proto={REPO / 'proto'}",
         f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}",
         *[f"reconciler/_proto/{p.name}" for p in protos]],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    stale = []
    for fresh in sorted(staged.iterdir()):
        committed = REPO / "reconciler" / "_proto" / fresh.name
        if not committed.exists() or committed.read_text() != fresh.read_text():
            stale.append(fresh.name)
    assert not stale, f"reconciler/_proto is stale for {stale}: run `make proto` and commit"
