"""A live hactl cluster whose nodes each run in their own network namespace.

Every node is one ``hacd`` (builtin store member embedded: store and node share the
namespace, so a cut separates both), configured like ``hactl cluster up`` configures a
local node (:mod:`reconciler.daemon.localcluster`) but bound to its namespace address.
The test process stays in the root namespace: it runs ``hactl`` inside a namespace that
can reach a quorum, and judges where resources run from the nodes' state files on disk
(the active-twice checker's ground truth; the filesystem is shared by all namespaces, which
is also how the local fence agent reaches a node across a cut -- a fencing path that does
not depend on the cluster network, as a power switch does not).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.daemon.config import FencingConfig, NodeConfig, StoreConfig, save
from reconciler.testing.netns import Network

API, CLIENT, PEER = 25101, 25201, 25301
HACTL = [sys.executable, "-m", "reconciler.cli.main"]


@dataclass
class NsCluster:
    net: Network
    directory: Path

    @property
    def nodes(self) -> list[str]:
        return [f"node{i + 1}" for i in range(len(self.net.hosts))]

    @property
    def state_dir(self) -> Path:
        return self.directory / "state"

    def api(self, i: int) -> str:
        return f"{self.net.hosts[i].addr}:{API}"

    def config_path(self, i: int) -> Path:
        return self.directory / self.nodes[i] / "hacd.yaml"

    def write_configs(self, local_endpoint: bool = True, **settings: Any) -> None:
        """``local_endpoint``: a node's store client talks to its own member only."""
        hosts = self.net.hosts
        for i, n in enumerate(self.nodes):
            ends = [hosts[i]] if local_endpoint else hosts
            store = StoreConfig.model_validate(
                {
                    "backend": "builtin",
                    "endpoints": [f"{h.addr}:{CLIENT}" for h in ends],
                    "member": {"client": f"{hosts[i].addr}:{CLIENT}", "peer": f"{hosts[i].addr}:{PEER}"},
                    "members": {m: f"{hosts[j].addr}:{PEER}" for j, m in enumerate(self.nodes)},
                }
            )  # fmt: skip
            cfg = NodeConfig.model_validate(
                {
                    "cluster": f"fault-{self.directory.name}",
                    "node": n,
                    "listen": self.api(i),
                    "dataDir": str(self.directory / n / "data"),
                    "stateDir": str(self.state_dir),
                    "store": store.model_dump(by_alias=True, exclude_none=True),
                    "nodes": {m: self.api(j) for j, m in enumerate(self.nodes)},
                    "fencing": FencingConfig(
                        agent="fence_hactl_local", params={"state_dir": str(self.state_dir)}
                    ).model_dump(),
                    **settings,
                }
            )
            self.config_path(i).parent.mkdir(parents=True, exist_ok=True)
            save(cfg, self.config_path(i))
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def start_node(self, i: int) -> subprocess.Popen[Any]:
        node_dir = self.state_dir / self.nodes[i]
        if (node_dir / "off").exists():  # what a reboot does to a fenced node's tmpfs
            for sub in ("run", "rsctmp", "lock", "pids"):
                shutil.rmtree(node_dir / sub, ignore_errors=True)
            (node_dir / "off").unlink()
        argv = [
            sys.executable,
            "-m",
            "reconciler.daemon.main",
            "--config",
            str(self.config_path(i)),
        ]
        return self.net.spawn(i, argv, log=self.directory / self.nodes[i] / "hacd.log")

    def start(self, timeout: float = 60.0) -> None:
        for i in range(len(self.nodes)):
            self.start_node(i)
        self.wait(0, lambda v: _online(v) == len(self.nodes), "every node online", timeout)

    # ------------------------------------------------------------------ talking
    def hactl(self, via: int, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, HACTL_SERVER=self.api(via))
        return self.net.run(via, [*HACTL, *args], timeout=timeout, env=env)

    def view(self, via: int) -> dict[str, Any] | None:
        out = self.hactl(via, "status", "-o", "json", timeout=15)
        if out.returncode != 0:
            return None
        return dict(json.loads(out.stdout))

    def wait(self, via: int, pred: Any, what: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.view(via)
            if v is not None and pred(v):
                return v
            time.sleep(0.2)
        logs = "\n".join(_tail(self.directory / n / "hacd.log") for n in self.nodes)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{v}\n{logs}")

    def apply(self, via: int, text: str) -> None:
        path = self.directory / f"apply-{time.monotonic_ns()}.yaml"
        path.write_text(text)
        out = self.hactl(via, "apply", "-f", str(path), "--wait", "--timeout", "30s", timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr


def _online(v: dict[str, Any]) -> int:
    return sum(1 for n in v.get("nodes", []) if n.get("state") == "online")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"({path}: no log)"
    return f"--- {path}\n" + "\n".join(text)
