"""Helpers for the agent tests: skips for missing Debian agents, a running executor, polling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.agents.catalog import AgentCatalog
from reconciler.agents.executor import Executor
from reconciler.system.clock import SystemClock

OCF_ROOT = Path("/usr/lib/ocf")


def needs_ocf(provider: str, agent: str) -> pytest.MarkDecorator:
    path = OCF_ROOT / "resource.d" / provider / agent
    return pytest.mark.skipif(
        not path.is_file(),
        reason=f"{path} missing (Debian's resource-agents/pacemaker-resource-agents; "
        "`make install` as root installs them)",
    )


def needs_fence(agent: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        shutil.which(agent, path="/usr/sbin:/sbin") is None,
        reason=f"{agent} missing (Debian's fence-agents; `make install` as root installs it)",
    )


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@contextlib.asynccontextmanager
async def running(state_dir: Path, catalog: AgentCatalog, **kw: Any) -> AsyncIterator[Executor]:
    """An started executor for node n1 on ``state_dir``; closed on exit."""
    kw.setdefault("max_concurrency", 4)
    kw.setdefault("grace_s", 1.0)
    kw.setdefault("confirm_every", 3)
    ex = Executor(kw.pop("node", "n1"), state_dir, SystemClock(), catalog=catalog, **kw)
    await ex.start()
    try:
        yield ex
    finally:
        await ex.close()


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``predicate`` until it holds or fail after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
