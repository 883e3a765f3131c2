"""`hactl sync DIR`: keep the cluster's desired state equal to a directory (GitOps).

Foreground watcher (same code as the one hacd runs on the coordinator)::

    hactl sync DIR [--name N] [--prune] [--allow-empty] [--drift reassert|report]
                   [--interval 60s] [--quiet 300ms] [--max-wait 5s] [--once]
                   [--endpoints H:P,...]

Control of any watcher, from any node::

    hactl sync --suspend NAME | --resume NAME | --reconcile-now NAME

Signals to a foreground `hactl sync`: SIGHUP reconcile now, SIGUSR1 suspend,
SIGUSR2 resume, SIGINT/SIGTERM stop.

For `hactl get syncs` and `hactl status` (the live-cluster commands), call
:func:`fetch_syncs` with the CLI's store port and render with
:func:`render_syncs` / :func:`status_lines` / :func:`syncs_json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from reconciler.base.errors import HactlError, StoreError, StoreUnavailable
from reconciler.gitops import records
from reconciler.gitops.config import WatcherConfig
from reconciler.gitops.keys import check_watcher_name, watcher_name_from_directory
from reconciler.gitops.port import GitopsStore
from reconciler.gitops.reconcile import Outcome, Result, Trigger
from reconciler.gitops.status import SyncEvent, SyncStatus, short_revision
from reconciler.gitops.storeport import PortOps, PortStore
from reconciler.model.values import Duration
from reconciler.system.clock import SystemClock

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
ENDPOINTS_ENV = "HACTL_ENDPOINTS"
DEFAULT_ENDPOINTS = "127.0.0.1:2379"

log = logging.getLogger("hactl.sync")


# -- for `hactl get syncs` / `hactl status` ---------------------------------------------


def gitops_store(kv: Any) -> GitopsStore:
    """Wrap the CLI's/daemon's store port (``reconciler.statestore.etcd.Kv``) for GitOps."""
    from reconciler.statestore import etcd as kvport

    return PortStore(kv, PortOps(kvport.Cmp, kvport.Put, kvport.Delete))


async def fetch_syncs(kv: Any) -> list[SyncStatus]:
    """Every GitOps watcher's status, sorted by name, from the store port ``kv``."""
    return await records.read_syncs(gitops_store(kv))


def _age(at: float | None, now: float) -> str:
    if at is None:
        return "-"
    s = max(0, int(now - at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def render_syncs(
    statuses: Sequence[SyncStatus], *, wide: bool = False, now: float | None = None
) -> str:
    """The `hactl get syncs` table."""
    t = time.time() if now is None else now
    head = ["NAME", "PHASE", "SUSPENDED", "APPLIED", "ATTEMPTED", "AGE", "ERRORS", "PENDING-PRUNE"]
    if wide:
        head += ["PRUNE", "DRIFT", "NODE", "DIRECTORY", "MESSAGE"]
    rows = [head]
    for s in statuses:
        row = [
            s.name,
            s.phase,
            "yes" if s.suspended else "no",
            short_revision(s.last_applied_revision),
            short_revision(s.last_attempted_revision),
            _age(s.last_applied_at, t),
            str(sum(len(v) for v in s.errors.values())),
            str(len(s.pending_prunes)),
        ]
        if wide:
            row += ["yes" if s.prune else "no", s.drift_mode, s.node or "-", s.directory, s.message]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def syncs_json(statuses: Sequence[SyncStatus]) -> str:
    """The `hactl get syncs -o json` document (stable: kind SyncList, items by name)."""
    return json.dumps(
        {"kind": "SyncList", "items": [asdict(s) for s in statuses]}, indent=2, sort_keys=True
    )


def status_lines(statuses: Sequence[SyncStatus]) -> list[str]:
    """Lines for `hactl status`: one per watcher, and warnings for those that need a look."""
    lines = []
    for s in statuses:
        flag = " (suspended)" if s.suspended else ""
        lines.append(
            f"  {s.name}: {s.phase}{flag}, applied {short_revision(s.last_applied_revision)}"
            f" from {s.directory}"
        )
        for file, errs in sorted(s.errors.items()):
            lines.extend(f"    ! {e}" for e in errs[:3])
            if len(errs) > 3:
                lines.append(f"    ! {file}: {len(errs) - 3} more")
        if s.pending_prunes:
            lines.append(f"    pending prune: {', '.join(s.pending_prunes[:10])}")
        if s.drift:
            lines.append(f"    drift: {', '.join(s.drift[:10])}")
    return lines


def render_events(events: Sequence[SyncEvent]) -> str:
    out = []
    for e in events:
        when = time.strftime("%H:%M:%S", time.localtime(e.time))
        out.append(f"{when}  {e.type:<7}  {e.reason:<16}  {e.message.splitlines()[0]}")
    return "\n".join(out)


# -- the command ------------------------------------------------------------------------


def _seconds(text: str, what: str) -> float:
    try:
        return Duration.parse(text).seconds
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=what) from None


def _local_cluster_endpoints() -> str | None:
    """The store endpoints of the local cluster (`hactl cluster up`), if there is one."""
    from reconciler.cli.common import default_cluster_dir

    directory = default_cluster_dir()
    if not (directory / "cluster.yaml").exists():
        return None
    try:
        from reconciler.daemon.localcluster import load_layout

        return ",".join(load_layout(directory).endpoints())
    except (HactlError, OSError, KeyError, TypeError, ValueError):
        return None


def _endpoints(value: str | None, store_dir: str | None) -> list[str]:
    """--endpoints/--server, --store-dir, $HACTL_ENDPOINTS, the local cluster
    (`hactl cluster up`), then etcd's default address."""
    if not value and store_dir:
        path = Path(store_dir) / "endpoints"
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise click.UsageError(f"{path}: {exc.strerror}") from None
    if not value:
        value = os.environ.get(ENDPOINTS_ENV)
    if not value:
        value = _local_cluster_endpoints()
    text = value or DEFAULT_ENDPOINTS
    return [e.strip() for e in text.split(",") if e.strip()]


def _credentials(cacert: str | None, cert: str | None, key: str | None) -> Any:
    """gRPC credentials for a store with TLS (None: plaintext); a bad file is a usage error."""
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    if cacert is None:
        if cert is not None:
            raise click.UsageError(
                "--cert/--key need --cacert (the CA the store's certificate is from)"
            )
        return None
    from reconciler.statestore.etcd import tls_credentials

    try:
        return tls_credentials(cacert, cert, key)
    except OSError as exc:
        raise click.UsageError(f"{exc.filename}: {exc.strerror}") from None


def _print_outcome(name: str, outcome: Outcome) -> None:
    """One line per reconcile that did or found something (and every problem, indented)."""
    if not outcome.message:
        return  # nothing happened, or nothing new to say
    ok = outcome.result in (Result.APPLIED, Result.NOTHING)
    click.echo(f"sync {name}: {outcome.result.value}: {outcome.message}", err=not ok)
    for line in outcome.details:
        click.echo(f"  {line}", err=True)


async def _control(
    endpoints: list[str],
    suspend: str | None,
    resume: str | None,
    now: str | None,
    creds: Any = None,
) -> None:
    from reconciler.statestore.etcd import EtcdKv

    kv = EtcdKv(endpoints, credentials=creds)
    try:
        store = gitops_store(kv)
        if suspend:
            await records.set_suspended(store, check_watcher_name(suspend), True)
        if resume:
            await records.set_suspended(store, check_watcher_name(resume), False)
        if now:
            await records.request_reconcile(store, check_watcher_name(now))
    finally:
        await kv.close()


async def _show(
    endpoints: list[str], list_: bool, events: str | None, output: str, creds: Any = None
) -> str:
    from reconciler.statestore.etcd import EtcdKv

    kv = EtcdKv(endpoints, credentials=creds)
    try:
        if events:
            found = await records.read_events(gitops_store(kv), check_watcher_name(events), 50)
            if output == "json":
                return json.dumps([asdict(e) for e in found], indent=2, sort_keys=True)
            return render_events(found) or f"no events for sync {events}"
        syncs = await fetch_syncs(kv)
        if output == "json":
            return syncs_json(syncs)
        return render_syncs(syncs, wide=output == "wide") if syncs else "no syncs"
    finally:
        await kv.close()


async def _run(config: WatcherConfig, endpoints: list[str], creds: Any = None) -> Outcome | None:
    from reconciler.gitops.watcher import Inbox, run_watcher
    from reconciler.statestore.etcd import EtcdKv

    kv = EtcdKv(endpoints, credentials=creds)
    store = gitops_store(kv)
    stop = asyncio.Event()
    inbox = Inbox()
    loop = asyncio.get_running_loop()

    def suspend(flag: bool) -> None:
        task = loop.create_task(records.set_suspended(store, config.name, flag))
        task.add_done_callback(lambda _t: inbox.reconcile_now())

    handlers = {
        signal.SIGINT: stop.set,
        signal.SIGTERM: stop.set,
        signal.SIGHUP: inbox.reconcile_now,
        signal.SIGUSR1: lambda: suspend(True),
        signal.SIGUSR2: lambda: suspend(False),
    }
    for sig, fn in handlers.items():
        loop.add_signal_handler(sig, fn)

    def report(_trigger: Trigger, outcome: Outcome) -> None:
        _print_outcome(config.name, outcome)

    try:
        return await run_watcher(config, store, SystemClock(), stop, inbox=inbox, on_outcome=report)
    finally:
        for sig in handlers:
            loop.remove_signal_handler(sig)
        with contextlib.suppress(Exception):
            await kv.close()


@click.command("sync")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--name", help="Name of this sync (default: the directory's name).")
@click.option(
    "--prune", is_flag=True, help="Delete objects this sync applied that left the directory."
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="With --prune, allow an existing but empty directory to prune everything.",
)
@click.option(
    "--prune-delay",
    default="2s",
    show_default=True,
    help="Prune an object only after it has been gone from the directory this long.",
)
@click.option(
    "--drift",
    type=click.Choice(["reassert", "report"]),
    default="reassert",
    show_default=True,
    help="On drift: re-apply the directory, or only report it.",
)
@click.option(
    "--interval",
    default="60s",
    show_default=True,
    help="How often drift is checked (and the directory re-read).",
)
@click.option(
    "--quiet",
    default="300ms",
    show_default=True,
    help="Debounce: wait until the directory was quiet this long.",
)
@click.option(
    "--max-wait",
    default="5s",
    show_default=True,
    help="Debounce: never wait longer than this after the first change.",
)
@click.option("--once", is_flag=True, help="Reconcile once and exit (0 applied/in sync, 1 not).")
@click.option("--endpoints", help=f"Store endpoints host:port,... (env {ENDPOINTS_ENV}).")
@click.option(
    "--store-dir",
    type=click.Path(file_okay=False),
    help="Read the endpoints from DIR/endpoints (as `hactl store up` writes).",
)
@click.option("--server", help="Same as --endpoints: the store endpoints host:port,...")
@click.option(
    "--cacert",
    envvar="HACTL_STORE_CACERT",
    type=click.Path(dir_okay=False),
    help="A store with TLS: the cluster CA (env HACTL_STORE_CACERT), as etcdctl's --cacert.",
)
@click.option(
    "--cert",
    envvar="HACTL_STORE_CERT",
    type=click.Path(dir_okay=False),
    help="A store with client-certificate auth: this client's certificate (env HACTL_STORE_CERT).",
)
@click.option(
    "--key",
    envvar="HACTL_STORE_KEY",
    type=click.Path(dir_okay=False),
    help="The key of --cert (env HACTL_STORE_KEY).",
)
@click.option("--suspend", "suspend_name", metavar="NAME", help="Suspend the sync NAME.")
@click.option("--resume", "resume_name", metavar="NAME", help="Resume the sync NAME.")
@click.option(
    "--reconcile-now", "now_name", metavar="NAME", help="Ask the sync NAME to reconcile now."
)
@click.option("--list", "list_", is_flag=True, help="Show every sync's status and exit.")
@click.option("--events", "events_name", metavar="NAME", help="Show the sync NAME's events.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json"]),
    default="table",
    show_default=True,
    help="Format of --list.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every decision.")
def sync(  # noqa: PLR0917
    directory: str | None,
    name: str | None,
    prune: bool,
    allow_empty: bool,
    prune_delay: str,
    drift: str,
    interval: str,
    quiet: str,
    max_wait: str,
    once: bool,
    endpoints: str | None,
    store_dir: str | None,
    server: str | None,
    cacert: str | None,
    cert: str | None,
    key: str | None,
    suspend_name: str | None,
    resume_name: str | None,
    now_name: str | None,
    list_: bool,
    events_name: str | None,
    output: str,
    verbose: bool,
) -> None:
    """Keep the cluster's desired state equal to DIRECTORY's manifests.

    Every *.yaml/*.yml under DIRECTORY (hidden and editors' temporary files are
    ignored) is validated as one set; one error anywhere applies nothing and keeps
    the last good state. A valid set is applied as one transaction. Objects are
    pruned only with --prune, and only those this sync applied.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    eps = _endpoints(endpoints or server, store_dir)
    creds = _credentials(cacert, cert, key)
    controls = [n for n in (suspend_name, resume_name, now_name, events_name) if n]
    controls += ["--list"] if list_ else []
    try:
        if controls:
            if directory or len(controls) > 1:
                raise click.UsageError(
                    "give one of --suspend/--resume/--reconcile-now/--list/--events, no DIR"
                )
            if list_ or events_name:
                click.echo(asyncio.run(_show(eps, list_, events_name, output, creds)))
                return
            asyncio.run(_control(eps, suspend_name, resume_name, now_name, creds))
            return
        if not directory:
            raise click.UsageError("missing DIRECTORY (or --suspend/--resume/--reconcile-now)")
        root = str(Path(directory).absolute())  # a symlink is followed anew each time
        config = WatcherConfig(
            name=check_watcher_name(name) if name else watcher_name_from_directory(Path(root).name),
            directory=root,
            prune=prune,
            allow_empty=allow_empty,
            drift="report" if drift == "report" else "reassert",
            interval=_seconds(interval, "--interval"),
            quiet=_seconds(quiet, "--quiet"),
            max_wait=max(_seconds(max_wait, "--max-wait"), _seconds(quiet, "--quiet")),
            prune_delay=_seconds(prune_delay, "--prune-delay"),
            once=once,
            node=os.uname().nodename,
        )
        outcome = asyncio.run(_run(config, eps, creds))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except StoreUnavailable as exc:
        click.echo(f"hactl sync: store unreachable at {','.join(eps)}: {exc}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    except (StoreError, HactlError) as exc:
        hint = ""
        if "UNIMPLEMENTED" in str(exc):
            hint = " (is that a hacd API address? `hactl sync` needs the store's endpoints)"
        click.echo(f"hactl sync: {exc}{hint}", err=True)
        sys.exit(EXIT_FAILED)
    if outcome is not None:
        if not outcome.message and outcome.result not in (Result.APPLIED, Result.NOTHING):
            click.echo(
                f"sync {config.name}: {outcome.result.value} (as at the last attempt: "
                f"`hactl sync --list -o wide` shows why)",
                err=True,
            )
        if outcome.unreachable:
            sys.exit(EXIT_UNREACHABLE)
        if outcome.result not in (Result.APPLIED, Result.NOTHING):
            sys.exit(EXIT_FAILED)
