"""Run one agent program: its own process group, a timeout, bounded output, never hung.

On timeout the whole process group gets SIGTERM, then SIGKILL after ``grace_s``. Output
is read concurrently and only the last ``max_output`` bytes of each stream are kept
(``keep_head`` keeps the first bytes instead, for meta-data). When the program exits but
a daemon it forked still holds stdout/stderr open, we stop reading after ``eof_wait_s``
instead of waiting for that daemon to exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.base.limits import MAX_AGENT_OUTPUT_BYTES


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """How a program ended. ``rc`` is None when it was killed for its timeout or never ran."""

    rc: int | None
    timed_out: bool
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    pid: int | None
    spawn_errno: int | None = None  # ENOENT / EACCES / ENOEXEC when it could not start
    spawn_error: str = ""
    killed_with: int | None = None  # the signal that finally ended it on timeout


class _Sink:
    """Keeps the tail (or the head) of a stream, at most ``limit`` bytes."""

    def __init__(self, limit: int, keep_head: bool) -> None:
        self.limit = limit
        self.keep_head = keep_head
        self.data = bytearray()
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        if self.keep_head:
            room = self.limit - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > max(room, 0):
                self.truncated = True
            return
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]
            self.truncated = True


async def _pump(stream: asyncio.StreamReader | None, sink: _Sink) -> None:
    if stream is None:
        return
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        sink.feed(chunk)


def _exit_future(pid: int) -> asyncio.Future[None]:
    """A future done when process ``pid`` exits (a pidfd watched by the event loop).

    asyncio's own ``Process.wait()`` also waits for the pipes to close, which a daemon
    the agent forked may never do.
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:  # already exited and reaped
        fut.set_result(None)
        return fut
    except OSError:  # no pidfd support: poll
        return asyncio.ensure_future(_poll_exit(pid))

    def readable() -> None:
        if not fut.done():
            fut.set_result(None)

    def cleanup(_: asyncio.Future[None]) -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)

    loop.add_reader(pidfd, readable)
    fut.add_done_callback(cleanup)
    return fut


async def _poll_exit(pid: int) -> None:
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    return
        except (OSError, IndexError):
            return
        await asyncio.sleep(0.02)


async def _feed(writer: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        writer.close()


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout_s: float,
    stdin: bytes | None = None,
    grace_s: float = 5.0,
    max_output: int = MAX_AGENT_OUTPUT_BYTES,
    keep_head: bool = False,
    eof_wait_s: float = 0.5,
    cwd: str | None = None,
    on_spawn: Callable[[int], None] | None = None,
) -> ProcessOutcome:
    """Run ``argv`` with ``env`` in a new session/process group and wait at most ``timeout_s``.

    ``on_spawn`` may be a callable taking the child's pid (the executor records it so a
    node's fence agent can find it).
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=cwd or "/",
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        return ProcessOutcome(
            rc=None,
            timed_out=False,
            stdout=b"",
            stderr=b"",
            stdout_truncated=False,
            stderr_truncated=False,
            pid=None,
            spawn_errno=exc.errno or errno.EIO,
            spawn_error=f"{argv[0]}: {exc.strerror or exc}",
        )
    if on_spawn is not None:
        on_spawn(proc.pid)
    out = _Sink(max_output, keep_head)
    err = _Sink(max_output, keep_head)
    pumps = [
        asyncio.create_task(_pump(proc.stdout, out)),
        asyncio.create_task(_pump(proc.stderr, err)),
    ]
    if stdin is not None and proc.stdin is not None:
        # fed by a task: an agent that never reads its stdin must not block us
        pumps.append(asyncio.create_task(_feed(proc.stdin, stdin)))
    timed_out = False
    killed_with: int | None = None
    exited = _exit_future(proc.pid)
    try:
        try:
            await asyncio.wait_for(asyncio.shield(exited), timeout=timeout_s)
        except TimeoutError:
            timed_out = True
            killed_with = signal.SIGTERM
            _killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(exited), timeout=grace_s)
            except TimeoutError:
                killed_with = signal.SIGKILL
                _killpg(proc.pid, signal.SIGKILL)
                await exited
            # anything left in the group (children that ignored SIGTERM) goes too
            _killpg(proc.pid, signal.SIGKILL)
        # a daemon that inherited our pipes may keep them open: don't wait for it
        await asyncio.wait(pumps, timeout=eof_wait_s)
    finally:
        for task in pumps:
            if not task.done():
                task.cancel()
        for task in pumps:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not exited.done():  # cancelled while waiting: never leave it behind
            _killpg(proc.pid, signal.SIGKILL)
        exited.cancel()
        # close our ends of the pipes (a forked daemon may still hold the others): only
        # then does asyncio consider the process finished and report its exit status
        # (not transport.close(): that may reap the child behind asyncio's watcher)
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            for fd in (0, 1, 2):
                pipe = transport.get_pipe_transport(fd)
                if pipe is not None:
                    with contextlib.suppress(Exception):
                        pipe.close()
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
    rc = proc.returncode
    return ProcessOutcome(
        rc=None if timed_out else (rc if rc is not None else -1),
        timed_out=timed_out,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        pid=proc.pid,
        killed_with=killed_with,
    )


def decode_tail(data: bytes, truncated: bool, max_lines: int | None = 40) -> str:
    """The last ``max_lines`` lines of ``data`` as text (undecodable bytes replaced);
    ``max_lines=None`` keeps every line (meta-data)."""
    text = data.decode("utf-8", errors="replace")
    if max_lines is None:
        return text
    lines = text.splitlines()
    cut = truncated or len(lines) > max_lines
    lines = lines[-max_lines:]
    if cut:
        lines.insert(0, "[... earlier output cut ...]")
    return "\n".join(lines)
