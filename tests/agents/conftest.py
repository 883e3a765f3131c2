"""Fixtures for the agent tests: a scratch OCF tree for misbehaving agents and a catalog
that finds it (helpers live in agents_kit.py)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.environment import PACKAGE_FENCE_DIR, PACKAGE_OCF_ROOT


@pytest.fixture
def scratch_ocf(tmp_path: Path) -> Path:
    """An OCF root for test agents: <root>/resource.d/test/, with the system's shell lib."""
    root = tmp_path / "ocf"
    (root / "resource.d" / "test").mkdir(parents=True)
    return root


@pytest.fixture
def catalog(scratch_ocf: Path) -> AgentCatalog:
    return AgentCatalog(
        extra_ocf_roots=(PACKAGE_OCF_ROOT, scratch_ocf),
        fence_dirs=(Path("/usr/sbin"), Path("/sbin"), PACKAGE_FENCE_DIR),
    )


@pytest.fixture
def write_agent(scratch_ocf: Path) -> Callable[..., Path]:
    """write_agent(name, text, executable=True) -> path of ocf:test:<name>."""

    def write(name: str, text: str, executable: bool = True) -> Path:
        path = scratch_ocf / "resource.d" / "test" / name
        path.write_text(text)
        mode = 0o755 if executable else 0o644
        path.chmod(mode | (stat.S_IRUSR if not executable else 0))
        return path

    return write
