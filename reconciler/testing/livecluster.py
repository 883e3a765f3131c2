"""A real local cluster driven from tests: etcd + hacd processes on 127.0.0.1, hactl as a
subprocess, views through the API. Used by tests/integration and bench/cluster.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.base.errors import StoreUnavailable
from reconciler.daemon import localcluster
from reconciler.testing.active_checker import ActiveChecker
from reconciler.transport.hactl_api import SyncApiClient

REPO = Path(__file__).resolve().parents[2]
HACTL = [sys.executable, "-m", "reconciler.cli.main"]


class LiveCluster:
    def __init__(
        self, directory: Path, base_port: int, nodes: int = 3, backend: str | None = None
    ) -> None:
        self.backend = backend or os.environ.get("HACTL_TEST_STORE", "etcd")
        self.directory = directory
        self.base_port = base_port
        self.n = nodes
        self.lay: localcluster.Layout | None = None
        self.checker: ActiveChecker | None = None
        self._clients: dict[str, SyncApiClient] = {}

    # -------------------------------------------------------------- lifecycle
    def up(self) -> None:
        self.lay = localcluster.up(self.directory, self.n, self.base_port, self.backend)
        localcluster.wait_ready(self.lay, 60)

    def down(self) -> None:
        if self.lay is not None:
            localcluster.down(self.directory)

    @property
    def nodes(self) -> list[str]:
        assert self.lay is not None
        return list(self.lay.nodes)

    @property
    def servers(self) -> str:
        assert self.lay is not None
        return ",".join(self.lay.api(i) for i in range(len(self.lay.nodes)))

    # -------------------------------------------------------------- talking
    def hactl(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, HACTL_SERVER=self.servers)
        out = subprocess.run(
            [*HACTL, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO
        )
        if check and out.returncode != 0:
            raise AssertionError(
                f"hactl {' '.join(args)} -> {out.returncode}\n{out.stdout}{out.stderr}"
            )
        return out

    def apply(self, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
        path = self.directory / f"apply-{time.monotonic_ns()}.yaml"
        path.write_text(text)
        return self.hactl("apply", "-f", str(path), *extra)

    def view(self) -> dict[str, Any]:
        for s in self.servers.split(","):
            c = self._clients.get(s)
            if c is None:
                c = self._clients[s] = SyncApiClient(s, timeout_s=5)
            try:
                text, _ = c.view()
                return dict(json.loads(text))
            except StoreUnavailable:
                continue
        raise AssertionError("no hacd answered")

    def resource(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.view()["resources"] if r["name"] == name), None)

    def wait(
        self, pred: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        v: dict[str, Any] = {}
        while time.monotonic() < deadline:
            v = self.view()
            if pred(v):
                return v
            time.sleep(0.1)
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what}; last view:\n"
            + json.dumps(
                {k: v.get(k) for k in ("coordinator", "nodes", "resources", "warnings")}, indent=1
            )[:4000]
        )

    def where(self, v: dict[str, Any], name: str) -> list[str]:
        r = next((x for x in v["resources"] if x["name"] == name), None)
        return list(r["nodes"]) if r else []

    def wait_on(self, name: str, count: int = 1, timeout: float = 20) -> list[str]:
        v = self.wait(
            lambda v: len(self.where(v, name)) == count and bool(v["coordinator"].get("converged")),
            f"{name} active on {count} node(s)",
            timeout,
        )
        return self.where(v, name)

    def start_op(self, name: str, node: str) -> int | None:
        r = self.resource(name)
        assert r is not None
        ops = [o for o in r["operations"] if o["node"] == node and o["operation"] == "start"]
        return max((o["callId"] for o in ops), default=None)

    def state_file(self, node: str, rsc: str) -> Path:
        assert self.lay is not None
        return self.lay.state_dir / node / "run" / f"Dummy-{rsc}.state"
