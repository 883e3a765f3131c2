"""A store cluster whose members each run in their own namespace of a :class:`Network`.

Members are started with exactly the command line ``hactl store up`` uses
(:func:`reconciler.daemon.store_cluster.member_command`), with every ``127.0.0.1:PORT``
rewritten to the namespace address of the member that owns the port; clients
(``kvclient.py``) run in the members' namespaces, each talking to its own member.
Histories are read back from the clients' JSON-lines files as linearizability ``Op``s.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.daemon import store_cluster
from reconciler.testing.linearizability import Op
from reconciler.testing.netns import Network

HERE = Path(__file__).resolve().parent
BASE_PORT = 24000
KEYS = "k0,k1,k2"


@dataclass
class NsStore:
    net: Network
    backend: str
    directory: Path
    layout: store_cluster.Layout
    clients: list[Any] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.layout.members

    def endpoint(self, i: int) -> str:
        return f"{self.net.hosts[i].addr}:{self.layout.client_port(i)}"

    def history_file(self, i: int) -> Path:
        return self.directory / f"client{i}.jsonl"

    # ------------------------------------------------------------------ members
    def command(self, i: int) -> list[str]:
        argv = store_cluster.member_command(self.layout, self.directory, i)
        subst = {}
        for j in range(self.n):
            for port in (self.layout.client_port(j), self.layout.peer_port(j)):
                subst[f"127.0.0.1:{port}"] = f"{self.net.hosts[j].addr}:{port}"
        out = []
        for arg in argv:
            new_arg = arg
            for old, new in subst.items():
                new_arg = new_arg.replace(old, new)
            out.append(new_arg)
        return out

    def start(self, timeout: float = 40.0) -> None:
        env = dict(os.environ)
        env.setdefault("ETCD_UNSUPPORTED_ARCH", "")
        for i in range(self.n):
            self.net.spawn(i, self.command(i), log=self.directory / f"m{i + 1}.log", env=env)
        self.wait_leader(list(range(self.n)), timeout)

    def status(self, i: int) -> tuple[int, int] | None:
        """(this member's id, the leader it knows) asked inside its namespace, or None."""
        r = self.net.run(
            i,
            ["etcdctl", "--endpoints", self.endpoint(i), "--command-timeout=1s",
             "endpoint", "status", "-w", "json"],
            timeout=10,
        )  # fmt: skip
        if r.returncode != 0:
            return None
        st = json.loads(r.stdout)[0]["Status"]
        return int(st["header"]["member_id"]), int(st.get("leader", 0))

    def leader_among(self, among: list[int]) -> int | None:
        """The index of the leader all of ``among`` agree on (and that is among them)."""
        seen = {i: self.status(i) for i in among}
        if any(s is None for s in seen.values()):
            return None
        leaders = {s[1] for s in seen.values() if s is not None}
        if len(leaders) != 1 or 0 in leaders:
            return None
        (lid,) = leaders
        return next((i for i, s in seen.items() if s is not None and s[0] == lid), None)

    def wait_leader(self, among: list[int], timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.leader_among(among)
            if found is not None:
                return found
            time.sleep(0.1)
        logs = "\n".join(_tail(self.directory / f"m{i + 1}.log") for i in among)
        raise AssertionError(f"no leader agreed by members {among} within {timeout} s\n{logs}")

    # ------------------------------------------------------------------ clients
    def start_clients(self, max_seconds: float = 60.0) -> None:
        for i in range(self.n):
            argv = [
                sys.executable, str(HERE / "kvclient.py"), "run",
                "--endpoint", self.endpoint(i), "--keys", KEYS, "--client", str(i),
                "--seed", str(i), "--out", str(self.history_file(i)),
                "--stop-file", str(self.directory / "stop"),
                "--max-seconds", str(max_seconds), "--max-ops", "3000",
            ]  # fmt: skip
            self.clients.append(self.net.spawn(i, argv, log=self.directory / f"client{i}.log"))

    def stop_clients(self, timeout: float = 15.0) -> None:
        (self.directory / "stop").touch()
        deadline = time.monotonic() + timeout
        for p in self.clients:
            p.wait(max(0.1, deadline - time.monotonic()))

    def records(self, i: int) -> list[dict[str, Any]]:
        try:
            lines = self.history_file(i).read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.endswith("}")]

    def acked_writes(self, i: int, after: float, before: float = float("inf")) -> int:
        """Writes of client ``i`` called after ``after`` and acknowledged before ``before``."""
        records = self.records(i)  # one read: the client appends while we look
        calls = {r["id"]: r for r in records if r["ev"] == "call"}
        return sum(
            1
            for r in records
            if r["ev"] == "ok" and calls[r["id"]]["t"] > after and r["t"] < before
        )

    def wait_acked(self, clients: list[int], after: float, timeout: float) -> float:
        """Until every client in ``clients`` has a write called after ``after`` acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.acked_writes(i, after) > 0 for i in clients):
                return time.monotonic() - after
            time.sleep(0.05)
        raise AssertionError(f"clients {clients} had no write acknowledged within {timeout} s")

    def final(self, i: int) -> dict[str, Any]:
        r = self.net.run(
            i,
            [sys.executable, str(HERE / "kvclient.py"), "final", "--endpoint", self.endpoint(i),
             "--keys", KEYS, "--timeout", "5"],
            timeout=30,
        )  # fmt: skip
        assert r.returncode == 0, f"final read through member {i + 1} failed:\n{r.stderr}"
        return dict(json.loads(r.stdout))


def history(store: NsStore) -> tuple[list[Op], set[str], set[str]]:
    """(ops on shared keys, acknowledged unique keys, attempted unique keys)."""
    ops: list[Op] = []
    acked: set[str] = set()
    attempted: set[str] = set()
    for i in range(store.n):
        calls: dict[int, dict[str, Any]] = {}
        done: dict[int, dict[str, Any]] = {}
        for r in store.records(i):
            if r["ev"] == "get":
                ops.append(Op(i, "get", r["key"], r["t"], r["r"], output=r["out"]))
            elif r["ev"] == "call":
                calls[r["id"]] = r
            elif r["ev"] in ("ok", "fail"):
                done[r["id"]] = r
        for op_id, c in sorted(calls.items()):
            d = done.get(op_id)
            ok = d is not None and d["ev"] == "ok"
            if c["kind"] == "uput":
                attempted.add(c["key"])
                if ok:
                    acked.add(c["key"])
                continue
            ret = d["t"] if ok and d is not None else None
            out = d["out"] if ok and d is not None and c["kind"] == "cas" else None
            if c["kind"] == "cas":
                ops.append(
                    Op(i, "cas", c["key"], c["t"], ret, value=c["value"],
                       expected=c["expected"], **({"output": out} if ret is not None else {}))
                )  # fmt: skip
            else:
                ops.append(Op(i, "put", c["key"], c["t"], ret, value=c["value"]))
    return ops, acked, attempted


def final_ops(store: NsStore, members: list[int]) -> tuple[list[Op], list[set[str]]]:
    ops: list[Op] = []
    uniques: list[set[str]] = []
    for i in members:
        f = store.final(i)
        for r in f["reads"]:
            ops.append(Op(f"final{i}", "get", r["key"], r["t"], r["r"], output=r["out"]))
        uniques.append(set(f["unique"]))
    return ops, uniques


def have_etcd() -> bool:
    return shutil.which("etcd") is not None and shutil.which("etcdctl") is not None


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"({path.name}: no log)"
    return f"--- {path.name}\n" + "\n".join(text)
