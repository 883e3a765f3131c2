"""systemd units through systemd's D-Bus API (jeepney, pure Python).

Talks either to a message bus (the system bus, ``unix:path=/run/dbus/system_bus_socket``,
with ``Hello``) or directly to a manager's private socket (``/run/systemd/private`` for
the system manager, ``$XDG_RUNTIME_DIR/systemd/private`` for a user manager).

Mapping, as Pacemaker's services library does it:

* monitor: ActiveState ``active``/``reloading`` → 0; ``activating``/``deactivating`` →
  pending (we poll until it settles or the timeout passes); anything else (``inactive``,
  ``failed``) → 7 not running; LoadState ``not-found`` → 7 for a probe/monitor, 5 for start.
* start/stop/reload: StartUnit/StopUnit/ReloadUnit (mode ``replace``), then wait for the
  job to finish and the unit to settle; start succeeds only when the unit ends up active.
* before the first start, a runtime drop-in ``50-hactl.conf`` sets ``Restart=no`` (the
  cluster, not systemd, restarts it) and the result warns when the unit is enabled to
  start at boot (systemctl disable it: the cluster starts it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jeepney import MessageType
from jeepney.auth import BEGIN, Authenticator
from jeepney.io.asyncio import DBusConnection, DBusRouter
from jeepney.wrappers import DBusAddress, new_method_call

from reconciler.agents.outcome import OpContext, from_process, not_run
from reconciler.agents.process import ProcessOutcome
from reconciler.agents.request import SYSTEMD_ACTIONS, OpRequest
from reconciler.agents.results import (
    ExecStatus,
    Observed,
    OcfRc,
    OpResult,
    Severity,
    Verdict,
    classify,
)
from reconciler.base.errors import AgentError

SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER_IFACE = "org.freedesktop.systemd1.Manager"
UNIT_IFACE = "org.freedesktop.systemd1.Unit"
POLL_S = 0.1
DROPIN_NAME = "50-hactl.conf"
DROPIN_TEXT = (
    "# Written by hactl: this unit is managed by the cluster.\n"
    "[Unit]\nDescription=Cluster Controlled %s\n\n[Service]\nRestart=no\n"
)


@dataclass(frozen=True, slots=True)
class UnitState:
    load: str
    active: str
    sub: str
    job: int  # 0 when no job is queued
    file_state: str = ""


class SystemdManager:
    """A connection to one systemd manager. Reconnects on demand."""

    def __init__(
        self, socket_path: Path, *, message_bus: bool = False, dropin_root: Path | None = None
    ) -> None:
        self.socket_path = Path(socket_path)
        self.message_bus = message_bus
        self.dropin_root = dropin_root
        self._router: DBusRouter | None = None
        self._conn: DBusConnection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def system(cls) -> SystemdManager:
        """The system manager's private socket (root only); drop-ins in /run/systemd/system."""
        return cls(Path("/run/systemd/private"), dropin_root=Path("/run/systemd/system"))

    @classmethod
    def user(cls, runtime_dir: Path) -> SystemdManager:
        """A user manager (``$XDG_RUNTIME_DIR/systemd/private``); drop-ins in its runtime
        unit directory ``$XDG_RUNTIME_DIR/systemd/user``."""
        return cls(
            runtime_dir / "systemd" / "private", dropin_root=runtime_dir / "systemd" / "user"
        )

    async def _connect(self) -> DBusRouter:
        if self._router is not None:
            return self._router
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        except OSError as exc:
            raise AgentError(
                f"cannot reach systemd at {self.socket_path}: {exc.strerror or exc}"
            ) from None
        auth = Authenticator()
        for chunk in auth:
            writer.write(chunk)
            await writer.drain()
            data = await asyncio.wait_for(reader.read(1024), 10)
            if not data:
                raise AgentError(f"systemd at {self.socket_path} closed during authentication")
            auth.feed(data)
        writer.write(BEGIN)
        await writer.drain()
        self._conn = DBusConnection(reader, writer)
        self._router = DBusRouter(self._conn)
        if self.message_bus:
            await self._raw_call(
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "Hello",
                "",
                (),
                destination="org.freedesktop.DBus",
            )
        else:
            await self._ping()
        return self._router

    async def _ping(self) -> None:
        # systemd may read our first message together with BEGIN, before it watches the
        # socket, and then not see it until more bytes arrive: ping until it answers.
        assert self._router is not None
        msg_addr = DBusAddress(MANAGER_PATH, SYSTEMD, "org.freedesktop.DBus.Peer")
        pending = []
        for _ in range(50):
            fut = asyncio.ensure_future(
                self._router.send_and_get_reply(new_method_call(msg_addr, "Ping"))
            )
            pending.append(fut)
            done, _ = await asyncio.wait(pending, timeout=0.2)
            if done:
                break
        else:
            raise AgentError(f"systemd at {self.socket_path} does not answer")
        for fut in pending:
            if not fut.done():
                fut.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        router, conn = self._router, self._conn
        self._router = self._conn = None
        if router is not None:
            with contextlib.suppress(Exception):
                await router.__aexit__(None, None, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _raw_call(
        self,
        path: str,
        iface: str,
        method: str,
        sig: str,
        body: tuple[Any, ...],
        *,
        destination: str = SYSTEMD,
    ) -> tuple[Any, ...]:
        router = self._router
        assert router is not None
        msg = new_method_call(DBusAddress(path, destination, iface), method, sig or None, body)
        try:
            reply = await asyncio.wait_for(router.send_and_get_reply(msg), 30)
        except (EOFError, ConnectionError, OSError, TimeoutError) as exc:
            await self.close()
            raise AgentError(f"lost systemd at {self.socket_path}: {exc!r}") from None
        except Exception as exc:  # jeepney's RouterClosed
            await self.close()
            raise AgentError(f"lost systemd at {self.socket_path}: {exc!r}") from None
        if reply.header.message_type is MessageType.error:
            name = reply.header.fields.get(4, "error")  # HeaderFields.error_name
            text = reply.body[0] if reply.body else ""
            raise DBusError(str(name), str(text))
        return tuple(reply.body)

    async def call(
        self, path: str, iface: str, method: str, sig: str = "", body: tuple[Any, ...] = ()
    ) -> tuple[Any, ...]:
        async with self._lock:
            await self._connect()
        return await self._raw_call(path, iface, method, sig, body)

    async def unit_path(self, unit: str) -> str:
        (path,) = await self.call(MANAGER_PATH, MANAGER_IFACE, "LoadUnit", "s", (unit,))
        return str(path)

    async def prop(self, path: str, iface: str, name: str) -> Any:
        (variant,) = await self.call(
            path, "org.freedesktop.DBus.Properties", "Get", "ss", (iface, name)
        )
        return variant[1]

    async def state(self, unit: str) -> UnitState:
        path = await self.unit_path(unit)
        load = await self.prop(path, UNIT_IFACE, "LoadState")
        active = await self.prop(path, UNIT_IFACE, "ActiveState")
        sub = await self.prop(path, UNIT_IFACE, "SubState")
        job = await self.prop(path, UNIT_IFACE, "Job")
        file_state = await self.prop(path, UNIT_IFACE, "UnitFileState")
        return UnitState(str(load), str(active), str(sub), int(job[0]), str(file_state))

    async def job(self, method: str, unit: str) -> str:
        (job,) = await self.call(MANAGER_PATH, MANAGER_IFACE, method, "ss", (unit, "replace"))
        return str(job)

    async def list_units(self) -> list[str]:
        """Service unit files the manager knows (``ListUnitFiles``), sorted by name."""
        (files,) = await self.call(MANAGER_PATH, MANAGER_IFACE, "ListUnitFiles")
        names = {Path(str(path)).name for path, _state in files}
        return sorted(n for n in names if n.endswith(".service") and "@." not in n)

    async def daemon_reload(self) -> None:
        await self.call(MANAGER_PATH, MANAGER_IFACE, "Reload")

    async def settle(self, unit: str, deadline: float) -> UnitState:
        """Poll until no job is queued and the unit is not (de)activating, or the deadline
        (loop time) passes; returns the last state seen."""
        loop = asyncio.get_running_loop()
        while True:
            st = await self.state(unit)
            if st.job == 0 and st.active not in ("activating", "deactivating", "reloading"):
                return st
            if loop.time() >= deadline:
                return st
            await asyncio.sleep(POLL_S)

    def write_dropin(self, unit: str) -> bool:
        """Write the runtime drop-in; True when it changed (a daemon-reload is due)."""
        if self.dropin_root is None:
            return False
        d = self.dropin_root / f"{unit}.d"
        path = d / DROPIN_NAME
        text = DROPIN_TEXT % unit
        if path.is_file() and path.read_text() == text:
            return False
        d.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        return True


class DBusError(AgentError):
    def __init__(self, name: str, text: str) -> None:
        self.name = name
        super().__init__(f"{name}: {text}")


def unit_name(name: str) -> str:
    """``nginx`` → ``nginx.service``; names with a unit suffix stay as they are."""
    suffixes = (
        ".service",
        ".socket",
        ".target",
        ".mount",
        ".timer",
        ".path",
        ".scope",
        ".slice",
        ".device",
        ".swap",
        ".automount",
    )
    return name if name.endswith(suffixes) else name + ".service"


def monitor_rc(st: UnitState) -> tuple[int, str]:
    if st.load in ("not-found", "error", "masked", "bad-setting"):
        return OcfRc.NOT_RUNNING, f"unit {st.load}"
    if st.active in ("active", "reloading"):
        return OcfRc.OK, f"{st.active} ({st.sub})"
    if st.active in ("activating", "deactivating"):
        return OcfRc.ERR_GENERIC, f"still {st.active} ({st.sub})"
    return OcfRc.NOT_RUNNING, f"{st.active} ({st.sub})"


def _done(
    req: OpRequest, ctx: OpContext, rc: int, why: str, verdict: Verdict | None = None
) -> OpResult:
    out = ProcessOutcome(rc, False, b"", why.encode(), False, False, None)
    v = verdict or classify(req.action, req.interval_s, rc, req.expected_rc)
    return from_process(req, ctx, out, timeout_s=0, rc=rc, verdict=v, reason=why)


def _timed_out(req: OpRequest, ctx: OpContext, timeout_s: float, why: str) -> OpResult:
    out = ProcessOutcome(None, True, b"", why.encode(), False, False, None)
    result = from_process(req, ctx, out, timeout_s=timeout_s)
    return replace(result, reason=f"{result.reason.split(' (')[0]}: {why}")


async def run_systemd(
    manager: SystemdManager | None, req: OpRequest, ctx: OpContext, timeout_s: float
) -> OpResult:
    """Run start/stop/monitor/status/reload/restart/meta-data on a unit."""
    if req.action not in SYSTEMD_ACTIONS:
        return not_run(
            req,
            ctx,
            ExecStatus.ERROR,
            OcfRc.UNIMPLEMENTED,
            f"{req.action!r} is not a systemd action",
        )
    if req.action == "meta-data":
        return _done(req, ctx, 0, "", Verdict(True, Severity.NONE, Observed.UNKNOWN, "success"))
    if manager is None:
        return not_run(
            req,
            ctx,
            ExecStatus.ERROR,
            OcfRc.ERR_GENERIC,
            "no systemd manager configured for this node",
        )
    unit = unit_name(req.agent.type)
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        return await asyncio.wait_for(
            _run(manager, unit, req, ctx=ctx, deadline=deadline, timeout_s=timeout_s), timeout_s + 1
        )
    except TimeoutError:
        return _timed_out(req, ctx, timeout_s, "systemd did not answer")
    except AgentError as exc:
        return not_run(req, ctx, ExecStatus.ERROR, OcfRc.ERR_GENERIC, str(exc))


async def _run(
    manager: SystemdManager,
    unit: str,
    req: OpRequest,
    *,
    ctx: OpContext,
    deadline: float,
    timeout_s: float,
) -> OpResult:
    st = await manager.state(unit)
    if req.action in ("monitor", "status"):
        if st.active in ("activating", "deactivating"):
            st = await manager.settle(unit, deadline)
        rc, why = monitor_rc(st)
        return _done(req, ctx, rc, why)
    if st.load == "not-found":
        if req.action == "stop":
            return _done(req, ctx, OcfRc.OK, "unit not found: nothing to stop")
        return _done(req, ctx, OcfRc.NOT_INSTALLED, f"unit {unit} not found")
    warning = ""
    if req.action in ("start", "restart"):
        if manager.write_dropin(unit):
            await manager.daemon_reload()
        if st.file_state == "enabled":
            warning = (
                f"; warning: {unit} is enabled and would also start at boot "
                "(systemctl disable it: the cluster starts it)"
            )
    method = {
        "start": "StartUnit",
        "stop": "StopUnit",
        "reload": "ReloadUnit",
        "restart": "RestartUnit",
    }[req.action]
    await manager.job(method, unit)
    st = await manager.settle(unit, deadline)
    rc, why = monitor_rc(st)
    if st.job != 0 or st.active in ("activating", "deactivating"):
        return _timed_out(req, ctx, timeout_s, f"{unit} still {why}")
    if req.action == "stop":
        ok = rc == OcfRc.NOT_RUNNING
        return _done(req, ctx, OcfRc.OK if ok else OcfRc.ERR_GENERIC, why)
    if rc == OcfRc.OK:
        return _done(req, ctx, OcfRc.OK, why + warning)
    return _done(
        req,
        ctx,
        OcfRc.ERR_GENERIC if rc != OcfRc.NOT_RUNNING else rc,
        f"{unit} did not become active: {why}{warning}",
        Verdict(False, Severity.SOFT, Observed.FAILED, "generic error"),
    )
