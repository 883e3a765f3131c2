"""Agents that misbehave: each gives a clear result and the executor keeps working."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from agents_kit import pid_alive, running

from reconciler.agents.catalog import AgentCatalog, check_resource_params
from reconciler.agents.request import AgentRef, OpRequest
from reconciler.agents.results import ExecStatus, OcfRc, Severity
from reconciler.base.limits import MAX_AGENT_OUTPUT_BYTES

GOOD = """#!/bin/sh
case "$1" in
  meta-data) echo '<resource-agent name="good"><parameters/><actions/></resource-agent>';;
  *) exit 0;;
esac
"""


async def _good_op(ex) -> None:  # type: ignore[no-untyped-def]
    r = await ex.run(OpRequest("good", AgentRef("ocf", "good", "test"), "start"))
    assert r.ok, r.summary()


def test_missing_and_not_executable(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("good", GOOD)
    write_agent("noexec", GOOD, executable=False)

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            r = await ex.run(OpRequest("x", AgentRef("ocf", "missing", "test"), "start"))
            assert r.status is ExecStatus.NOT_INSTALLED and r.rc == OcfRc.NOT_INSTALLED
            assert r.severity is Severity.HARD and "not installed" in r.reason
            r = await ex.run(OpRequest("y", AgentRef("ocf", "noexec", "test"), "start"))
            assert r.status is ExecStatus.NOT_EXECUTABLE and r.rc == OcfRc.ERR_PERM
            assert "not executable" in r.reason
            await _good_op(ex)

    asyncio.run(scenario())


def test_garbage_metadata(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("good", GOOD)
    write_agent("garbage", "#!/bin/sh\necho '<resource-agent><oops></resource-agent>'\n")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            r = await ex.run(OpRequest("g", AgentRef("ocf", "garbage", "test"), "meta-data"))
            assert not r.ok and "not valid XML" in r.reason and "line 1" in r.reason
            # its timeout falls back to 20 s (the meta-data cannot be read)
            r = await ex.run(OpRequest("g", AgentRef("ocf", "garbage", "test"), "start"))
            assert r.ok
            await _good_op(ex)

    asyncio.run(scenario())
    problems = check_resource_params("ocf:test:garbage", {}, catalog)
    assert len(problems) == 1 and "not valid XML" in problems[0].message


def test_prints_megabytes(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("good", GOOD)
    write_agent(
        "chatty",
        "#!/bin/sh\nhead -c 20000000 /dev/zero | tr '\\0' 'x' | fold -w 100\n"
        "head -c 5000000 /dev/zero | tr '\\0' 'e' >&2\necho LAST LINE\nexit 0\n",
    )

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            r = await ex.run(OpRequest("c", AgentRef("ocf", "chatty", "test"), "start"))
            assert r.ok
            assert r.stdout_tail.endswith("LAST LINE")
            assert r.stdout_tail.startswith("[... earlier output cut ...]")
            assert len(r.stdout_tail) <= MAX_AGENT_OUTPUT_BYTES + 100
            assert len(r.stderr_tail) <= MAX_AGENT_OUTPUT_BYTES + 100
            await _good_op(ex)

    asyncio.run(scenario())


def test_forks_a_daemon_and_exits(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    """The daemon keeps our stdout/stderr open; the op still ends when the agent exits."""
    pidfile = tmp_path / "daemon.pid"
    write_agent("good", GOOD)
    write_agent("forker", f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\necho started\nexit 0\n")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            t0 = time.monotonic()
            r = await ex.run(OpRequest("f", AgentRef("ocf", "forker", "test"), "start"))
            assert r.ok and "started" in r.stdout_tail
            assert time.monotonic() - t0 < 5
            await _good_op(ex)

    asyncio.run(scenario())
    pid = int(pidfile.read_text())
    assert pid_alive(pid)  # a started daemon is the agent's business, not killed
    os.kill(pid, signal.SIGKILL)


def test_ignores_sigterm(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    pidfile = tmp_path / "child.pid"
    write_agent("good", GOOD)
    write_agent(
        "stubborn",
        f"#!/bin/sh\ntrap '' TERM\nsleep 60 &\necho $! > {pidfile}\nwhile :; do sleep 0.1; done\n",
    )

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog, grace_s=0.5) as ex:
            r = await ex.run(
                OpRequest("s", AgentRef("ocf", "stubborn", "test"), "start", timeout_s=0.5)
            )
            assert r.status is ExecStatus.TIMED_OUT and "SIGKILL" in r.reason
            assert r.duration_s < 5
            await _good_op(ex)

    asyncio.run(scenario())
    # its whole process group went with it
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid)


def test_crashes_with_a_signal(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("crasher", "#!/bin/sh\necho dying >&2\nkill -SEGV $$\n")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            r = await ex.run(OpRequest("c", AgentRef("ocf", "crasher", "test"), "monitor"))
            assert not r.ok and r.raw_rc == -11 and "signal 11" in r.reason
            assert "dying" in r.stderr_tail

    asyncio.run(scenario())


def test_no_shebang(
    tmp_path: Path, catalog: AgentCatalog, write_agent: Callable[..., Path]
) -> None:
    write_agent("binary", "\x7fELF garbage that is not a program\n")

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:
            r = await ex.run(OpRequest("b", AgentRef("ocf", "binary", "test"), "start"))
            assert not r.ok and r.status is ExecStatus.ERROR and "binary" in r.reason

    asyncio.run(scenario())


def test_a_program_that_never_reads_its_stdin() -> None:
    from reconciler.agents.process import run_process

    async def scenario() -> None:
        out = await run_process(
            ["/bin/sh", "-c", "sleep 0.2; echo done"],
            env={"PATH": "/usr/bin:/bin"},
            timeout_s=10,
            stdin=b"x" * 4_000_000,
        )
        assert out.rc == 0 and out.stdout == b"done\n" and not out.timed_out

    t0 = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - t0 < 5
