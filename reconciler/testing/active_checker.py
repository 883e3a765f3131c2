"""A checker that samples every node of a local cluster and flags a resource active twice.

It looks at the ground truth on disk, not at the cluster's own bookkeeping:
per node, the state files of ``ocf:pacemaker:Dummy`` (``<node>/run/Dummy-<rsc>.state``,
the agent's default under the node's own ``HA_VARRUN``) and the pid files of
``ocf:hactl:webserver`` (``<node>/rsctmp/webserver-<rsc>.pid`` whose process lives).
A node whose ``off`` marker exists (fenced by the local fence agent) counts as powered
down. A background thread samples every ``interval_s``; :meth:`check` raises if, at any
sample, a non-clone resource was active on two nodes.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

Probe = Callable[[Path], set[str]]

_DUMMY = re.compile(r"^Dummy-(.+)\.state$")
_WEB = re.compile(r"^webserver-(.+)\.pid$")


def _pid_alive(path: Path) -> bool:
    try:
        pid = int(path.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def default_probe(node_dir: Path) -> set[str]:
    active: set[str] = set()
    run = node_dir / "run"
    if run.is_dir():
        for f in run.iterdir():
            m = _DUMMY.match(f.name)
            if m:
                active.add(m.group(1))
    tmp = node_dir / "rsctmp"
    if tmp.is_dir():
        for f in tmp.iterdir():
            m = _WEB.match(f.name)
            if m and _pid_alive(f):
                active.add(m.group(1))
    return active


class ActiveChecker:
    def __init__(
        self,
        state_dir: Path,
        nodes: Iterable[str],
        probe: Probe = default_probe,
        interval_s: float = 0.02,
        clones: Iterable[str] = (),
    ) -> None:
        self.state_dir = state_dir
        self.nodes = sorted(nodes)
        self.probe = probe
        self.interval_s = interval_s
        self.clones = set(clones)
        self.violations: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="active-checker", daemon=True)
        self._paused = threading.Event()

    def start(self) -> ActiveChecker:
        self._thread.start()
        return self

    def pause(self) -> None:
        """Stop judging (e.g. while a test kills a node: its files outlive it until fenced)."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def sample(self) -> dict[str, list[str]]:
        where: dict[str, list[str]] = {}
        for n in self.nodes:
            if (self.state_dir / n / "off").exists():
                continue  # fenced off: powered down, nothing runs there
            for r in self.probe(self.state_dir / n):
                where.setdefault(r, []).append(n)
        return where

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._paused.is_set():
                where = self.sample()
                self.samples += 1
                for r, ns in sorted(where.items()):
                    if len(ns) > 1 and r not in self.clones:
                        self.violations.append(
                            f"{time.strftime('%H:%M:%S')} {r} active on {', '.join(sorted(ns))}"
                        )
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def check(self) -> None:
        if self.violations:
            raise AssertionError(
                "a resource was active on two nodes:\n" + "\n".join(self.violations[:20])
            )
