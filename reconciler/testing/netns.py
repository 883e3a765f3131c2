"""Real network partitions for tests: N hosts, each its own network namespace, on a switch.

Topology (all of it private to one :class:`Network`)::

    ns <tag>-sw (the switch)        br0 ── p1 ── p2 ── ... ── pN     (+ br1.. while cut)
                                          │      │            │
    ns <tag>-h1 .. <tag>-hN         eth0 198.18.0.1  .2   ...  .N  (/24)

* Addresses come from 198.18.0.0/15, the benchmarking range (RFC 2544): no real network
  uses it and the traffic never leaves our namespaces. Every Network has its own switch
  namespace, so two runs in parallel may use the same addresses without meeting; only
  the namespace names must differ, and they carry the creator's pid and a counter.
* A partition moves switch ports between bridges: ``partition([[0], [1, 2]])`` puts
  host 0 alone on one bridge and hosts 1 and 2 on another. Frames to the other side are
  silently lost (no RST, no ICMP: what a broken switch or cable does); a host left out of
  every group is cut off from everyone. ``heal()`` puts every port back on ``br0``. This
  needs no netem or iptables (neither exists on every CI image); the links themselves
  stay up, so a process sees only missing packets, not a link event.
* :meth:`Network.spawn` runs a command inside a host's namespace
  (``ip netns exec``, which execs the command: the pid is the command's own).
  :meth:`Network.close` kills every process in our namespaces -- each was started in
  a namespace we created -- and deletes the namespaces. It runs on ``with`` exit, is
  idempotent, and is also registered with ``atexit``; :func:`sweep_stale` removes
  namespaces left behind by a test process that died (its pid is in the name).

Needs root and iproute2 (``ip netns``, veth, bridge).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

PREFIX = "hx"
SUBNET = "198.18.0"  # /24 inside 198.18.0.0/15 (RFC 2544), private to each Network
_NAME = re.compile(rf"^{PREFIX}(\d+)x(\d+)-(sw|h\d+)$")
_counter = itertools.count()


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, no iproute2, no veth/bridge)."""


def _ip(*args: str, stdin: str | None = None, check: bool = True) -> str:
    out = subprocess.run(
        ["ip", *args], input=stdin, capture_output=True, text=True, timeout=20, check=False
    )
    if check and out.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip() or out.returncode}")
    return out.stdout


def netns_names() -> list[str]:
    out = _ip("netns", "list", check=False)
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_namespace_processes(ns: str) -> None:
    """SIGKILL every process inside ``ns`` (a namespace we created), then reap what we can."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = [int(p) for p in _ip("netns", "pids", ns, check=False).split() if p.isdigit()]
        pids = [p for p in pids if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)


def sweep_stale() -> list[str]:
    """Delete our namespaces whose creating process is gone; returns their names."""
    removed = []
    for ns in netns_names():
        m = _NAME.match(ns)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        _kill_namespace_processes(ns)
        _ip("netns", "del", ns, check=False)
        removed.append(ns)
    return removed


def available() -> str | None:
    """None when namespaces can be used here, else why not (for a skip reason)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        with Network(1) as net:
            net.run(0, ["true"], timeout=10)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        return f"`ip netns`/veth/bridge do not work here: {exc}"
    return None


@dataclass(frozen=True, slots=True)
class Host:
    index: int
    ns: str
    addr: str
    port: str  # its switch port, in the switch namespace


class Network:
    def __init__(self, hosts: int) -> None:
        if not 1 <= hosts <= 200:
            raise ValueError("1 to 200 hosts")
        self.tag = f"{PREFIX}{os.getpid()}x{next(_counter)}"
        self.switch = f"{self.tag}-sw"
        self.hosts = [
            Host(i, f"{self.tag}-h{i + 1}", f"{SUBNET}.{i + 1}", f"p{i + 1}") for i in range(hosts)
        ]
        self.procs: list[subprocess.Popen[Any]] = []
        self.groups: list[list[int]] | None = None  # the current partition; None: healed
        self._made: list[str] = []
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Network:
        self.up()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def up(self) -> None:
        sweep_stale()
        atexit.register(self.close)
        try:
            self._make()
        except BaseException:
            self.close()
            raise

    def _make(self) -> None:
        _ip("netns", "add", self.switch)
        self._made.append(self.switch)
        sw = [
            "link set lo up",
            "link add br0 type bridge forward_delay 0 stp_state 0",
            "link set br0 up",
        ]
        for h in self.hosts:
            _ip("netns", "add", h.ns)
            self._made.append(h.ns)
            _ip(
                "link", "add", "eth0", "netns", h.ns, "type", "veth",
                "peer", "name", h.port, "netns", self.switch,
            )  # fmt: skip
            _ip("-n", h.ns, "-batch", "-", stdin=(
                f"link set lo up\naddr add {h.addr}/24 dev eth0\nlink set eth0 up\n"
            ))  # fmt: skip
            sw += [f"link set {h.port} master br0", f"link set {h.port} up"]
        _ip("-n", self.switch, "-batch", "-", stdin="\n".join(sw) + "\n")

    def close(self) -> None:
        """Kill what runs in our namespaces and delete them (idempotent, never raises)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError, OSError):
                p.kill()
        for ns in reversed(self._made):
            with contextlib.suppress(Exception):
                _kill_namespace_processes(ns)
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                p.wait(5)
        for ns in reversed(self._made):
            with contextlib.suppress(Exception):
                _ip("netns", "del", ns, check=False)

    # ------------------------------------------------------------------ processes
    def argv(self, i: int, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.hosts[i].ns, *argv]

    def spawn(
        self,
        i: int,
        argv: Sequence[str],
        log: Path | None = None,
        env: dict[str, str] | None = None,
        stdout: int | IO[Any] | None = None,
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` inside host ``i``'s namespace (its own session); tracked for close."""
        out: int | IO[Any] | None = stdout
        fh = None
        if log is not None:
            fh = log.open("ab")
            out = fh
        try:
            p = subprocess.Popen(
                self.argv(i, argv),
                stdin=subprocess.DEVNULL,
                stdout=out if out is not None else subprocess.DEVNULL,
                stderr=fh if fh is not None else subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        finally:
            if fh is not None:
                fh.close()
        self.procs.append(p)
        return p

    def run(
        self, i: int, argv: Sequence[str], timeout: float = 30, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(i, argv), capture_output=True, text=True, timeout=timeout, env=env
        )

    # ------------------------------------------------------------------ faults
    def partition(self, groups: Sequence[Sequence[int]]) -> None:
        """Split the switch: hosts in one group reach each other and nobody else.

        A host in no group is cut off from everyone (its port is on no bridge)."""
        seen = [i for g in groups for i in g]
        if len(seen) != len(set(seen)) or not all(0 <= i < len(self.hosts) for i in seen):
            raise ValueError(f"groups must name distinct hosts 0..{len(self.hosts) - 1}: {groups}")
        cmds = []
        for h in self.hosts:
            cmds.append(f"link set {h.port} nomaster")
        for g, members in enumerate(groups):
            br = f"br{g + 1}"
            cmds += [
                f"link add {br} type bridge forward_delay 0 stp_state 0",
                f"link set {br} up",
            ]
            cmds += [f"link set {self.hosts[i].port} master {br}" for i in members]
        self.heal()
        _ip("-n", self.switch, "-batch", "-", stdin="\n".join(cmds) + "\n")
        self.groups = [sorted(g) for g in groups]

    def isolate(self, i: int) -> None:
        """Cut host ``i`` off from all others (the others still reach each other)."""
        self.partition([[i], [j for j in range(len(self.hosts)) if j != i]])

    def heal(self) -> None:
        """Every port back on ``br0``; the partition's bridges are removed."""
        if self.groups is None:
            return
        cmds = [f"link set {h.port} master br0" for h in self.hosts]
        cmds += [f"link del br{g + 1}" for g in range(len(self.groups))]
        _ip("-n", self.switch, "-batch", "-", stdin="\n".join(cmds) + "\n")
        self.groups = None

    def reachable(self, a: int, b: int) -> bool:
        """Whether hosts ``a`` and ``b`` are on the same side of the current partition."""
        if self.groups is None or a == b:
            return True
        return any(a in g and b in g for g in self.groups)
