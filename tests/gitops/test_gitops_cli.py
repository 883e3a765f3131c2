"""`hactl sync` as a real process against a real etcd: --once, errors, control, signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PORT_HI, PORT_LO, _free
from gitops_harness import docs, location, resource

from reconciler.cli.sync import fetch_syncs, render_syncs, status_lines, syncs_json
from reconciler.gitops import keys, records
from reconciler.gitops.status import SyncStatus
from reconciler.statestore.etcd import EtcdKv

pytestmark = pytest.mark.etcd


def hactl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`hactl` as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def hactl_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The same command through click's runner (no interpreter start-up: faster)."""
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    r = CliRunner().invoke(cli, list(args))
    return subprocess.CompletedProcess(list(args), r.exit_code, r.stdout, r.stderr)


async def _get(endpoint: str, key: str) -> bytes | None:
    kv = EtcdKv([endpoint])
    try:
        e = await kv.get(key)
        return None if e is None else e.value
    finally:
        await kv.close()


async def _status(endpoint: str, name: str) -> SyncStatus | None:
    raw = await _get(endpoint, keys.status_key(name))
    return None if raw is None else SyncStatus.from_json(raw)


async def _clear(endpoint: str) -> None:
    kv = EtcdKv([endpoint])
    try:
        await kv.delete("/hactl/", prefix=True)
    finally:
        await kv.close()


def poll(check, what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_once_applies_and_reports_invalid_files_with_exit_codes(etcd, tmp_path: Path) -> None:
    asyncio.run(_clear(etcd.endpoint))
    d = tmp_path / "site"
    d.mkdir()
    (d / "web.yaml").write_text(docs(resource("web"), location("web-on-n1", "web")))
    ok = hactl("sync", str(d), "--once", "--endpoints", etcd.endpoint)
    assert ok.returncode == 0, ok.stderr
    assert "applied" in ok.stdout and "2 created" in ok.stdout
    assert asyncio.run(_get(etcd.endpoint, "/hactl/desired/resource/web")) is not None
    again = hactl("sync", str(d), "--once", "--endpoints", etcd.endpoint)
    assert again.returncode == 0 and again.stdout == ""  # nothing to do, nothing said

    (d / "bad.yaml").write_text("apiVersion: hactl.io/v1\nkind: Resource\nmetadata:\n  name: x\n")
    bad = hactl("sync", str(d), "--once", "--endpoints", etcd.endpoint)
    assert bad.returncode == 1
    assert "invalid" in bad.stderr and "bad.yaml:" in bad.stderr
    assert "Traceback" not in bad.stderr

    status = asyncio.run(_status(etcd.endpoint, "site"))
    assert status is not None and status.phase == "Invalid" and list(status.errors) == ["bad.yaml"]

    # what `hactl get syncs` / `hactl status` show
    async def view() -> list[SyncStatus]:
        kv = EtcdKv([etcd.endpoint])
        try:
            return await fetch_syncs(kv)
        finally:
            await kv.close()

    syncs = asyncio.run(view())

    # what the API server's `view` can carry: plain dicts, read with no write access
    async def api_view() -> list[dict[str, object]]:
        kv = EtcdKv([etcd.endpoint])
        try:
            return await records.syncs_view(kv)
        finally:
            await kv.close()

    assert [SyncStatus.from_dict(d) for d in asyncio.run(api_view())] == syncs
    table = render_syncs(syncs)
    assert table.splitlines()[0].split()[:3] == ["NAME", "PHASE", "SUSPENDED"]
    assert table.splitlines()[1].split()[:2] == ["site", "Invalid"]
    assert any("bad.yaml:" in line for line in status_lines(syncs))
    assert '"kind": "SyncList"' in syncs_json(syncs)
    # the same from the command line
    listed = hactl_in_process("sync", "--list", "--endpoints", etcd.endpoint)
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split()[:2] == [
        "site",
        "Invalid",
    ]
    wide = hactl_in_process("sync", "--list", "-o", "wide", "--endpoints", etcd.endpoint)
    assert str(d) in wide.stdout
    events = hactl_in_process("sync", "--events", "site", "--endpoints", etcd.endpoint)
    reasons = [line.split()[2] for line in events.stdout.splitlines()]
    assert reasons == ["Applied", "Invalid"], events.stdout
    # asked again: the same bad revision, said once, still exit 1
    again_bad = hactl("sync", str(d), "--once", "--endpoints", etcd.endpoint)
    assert again_bad.returncode == 1 and "bad.yaml:" in again_bad.stderr


def test_control_commands_and_usage_errors(etcd, tmp_path: Path) -> None:
    asyncio.run(_clear(etcd.endpoint))
    ep = ("--endpoints", etcd.endpoint)
    assert hactl_in_process("sync", "--suspend", "prod", *ep).returncode == 0
    assert asyncio.run(_get(etcd.endpoint, keys.suspend_key("prod"))) is not None
    assert hactl_in_process("sync", "--resume", "prod", *ep).returncode == 0
    assert asyncio.run(_get(etcd.endpoint, keys.suspend_key("prod"))) is None
    assert hactl_in_process("sync", "--reconcile-now", "prod", *ep).returncode == 0
    assert asyncio.run(_get(etcd.endpoint, keys.reconcile_key("prod"))) is not None
    bad_name = hactl_in_process("sync", "--suspend", "Bad/Name", *ep)
    assert bad_name.returncode == 2 and "invalid sync name" in bad_name.stderr
    no_dir = hactl_in_process("sync", *ep)
    assert no_dir.returncode == 2 and "missing DIRECTORY" in no_dir.stderr
    bad_interval = hactl_in_process("sync", str(tmp_path), "--interval", "soon", *ep)
    assert bad_interval.returncode == 2 and "not a duration" in bad_interval.stderr


def test_unreachable_store_exits_3(tmp_path: Path) -> None:
    port = next(p for p in range(PORT_HI, PORT_LO, -1) if _free(p))
    (tmp_path / "a.yaml").write_text(resource("a"))
    r = hactl("sync", str(tmp_path), "--once", "--endpoints", f"127.0.0.1:{port}", timeout=60)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr


def test_foreground_sync_follows_edits_and_signals(etcd, tmp_path: Path) -> None:
    asyncio.run(_clear(etcd.endpoint))
    d = tmp_path / "fg"
    d.mkdir()
    (d / "web.yaml").write_text(resource("web"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler.cli.main",
            "sync",
            str(d),
            "--endpoints",
            etcd.endpoint,
            "--quiet",
            "100ms",
            "--interval",
            "1h",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def phase(want: str, suspended: bool = False):  # type: ignore[no-untyped-def]
            def check() -> bool:
                s = asyncio.run(_status(etcd.endpoint, "fg"))
                return s is not None and s.phase == want and s.suspended == suspended

            return check

        def web_state(want: str):  # type: ignore[no-untyped-def]
            def check() -> bool:
                raw = asyncio.run(_get(etcd.endpoint, "/hactl/desired/resource/web"))
                return raw is not None and f'"state": "{want}"' in raw.decode()

            return check

        poll(phase("InSync"), "InSync")
        (d / "web.yaml").write_text(resource("web", state="edited"))
        poll(web_state("edited"), "the edit applied")
        os.kill(proc.pid, signal.SIGUSR1)
        poll(phase("InSync", suspended=True), "suspended by SIGUSR1")
        (d / "web.yaml").write_text(resource("web", state="later"))
        os.kill(proc.pid, signal.SIGUSR2)
        poll(web_state("later"), "applied after SIGUSR2 (resume)")
        poll(phase("InSync"), "resumed")
        # drift behind its back; the drift interval is an hour: SIGHUP reconciles now
        asyncio.run(_put(etcd.endpoint, "/hactl/desired/resource/web", resource_json("web")))
        poll(_not(web_state("later")), "the drift written")
        os.kill(proc.pid, signal.SIGHUP)
        poll(web_state("later"), "reasserted after SIGHUP")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert "applied" in out
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _not(check):  # type: ignore[no-untyped-def]
    return lambda: not check()


def resource_json(name: str) -> bytes:
    import json

    return json.dumps(
        {
            "apiVersion": "hactl.io/v1",
            "kind": "Resource",
            "metadata": {"name": name},
            "spec": {"agent": "ocf:pacemaker:Dummy"},
        }
    ).encode()


async def _put(endpoint: str, key: str, value: bytes) -> None:
    kv = EtcdKv([endpoint])
    try:
        await kv.put(key, value)
    finally:
        await kv.close()
