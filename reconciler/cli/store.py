"""`hactl store up|down` (local store clusters) and `hactl certs` (cluster CA and certificates)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.base.errors import ConfigError, HactlError, StoreUnavailable
from reconciler.cli.main import EXIT_FAILED, EXIT_TIMEOUT, EXIT_UNREACHABLE, EXIT_USAGE


@click.group("store")
def store() -> None:
    """Run a local desired-state store: builtin members or real etcd, as OS processes."""


@store.command("up")
@click.option("--members", "-n", type=int, default=3, show_default=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@click.option(
    "--backend", type=click.Choice(["builtin", "etcd"]), default="builtin", show_default=True
)
@click.option("--base-port", type=int, default=23000, show_default=True,
              help="member i listens for clients on P+2i and for peers on P+2i+1")  # fmt: skip
@click.option("--tls", is_flag=True, help="make a CA and certificates; require client certs")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@click.option("--snapshot-count", type=int, default=0,
              help="entries between snapshots (0: the backend's default)")  # fmt: skip
@click.option("--quota-backend-bytes", "quota_bytes", type=int, default=0,
              help="NOSPACE alarm above this size (0: the backend's default)")  # fmt: skip
def up_cmd(  # noqa: PLR0917
    members: int,
    directory: Path,
    backend: str,
    base_port: int,
    tls: bool,
    timeout: float,
    snapshot_count: int,
    quota_bytes: int,
) -> None:
    """Start (or restart, with their data) the members; return once a leader is elected."""
    from reconciler.daemon import store_cluster

    try:
        layout = store_cluster.up(
            directory,
            members,
            backend,
            base_port,
            tls=tls,
            timeout=timeout,
            snapshot_count=snapshot_count,
            quota_bytes=quota_bytes,
        )
    except ConfigError as exc:
        click.echo(f"hactl store up: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except TimeoutError as exc:
        click.echo(f"hactl store up: {exc}", err=True)
        sys.exit(EXIT_TIMEOUT)
    except StoreUnavailable as exc:
        click.echo(f"hactl store up: {exc}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    except (HactlError, OSError) as exc:
        click.echo(f"hactl store up: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(",".join(layout.endpoints()))


@store.command("down")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@click.option("--grace", type=float, default=10.0, show_default=True,
              help="seconds between SIGTERM and SIGKILL")  # fmt: skip
def down_cmd(directory: Path, grace: float) -> None:
    """Stop the members started in DIR (their data stays for the next `up`)."""
    from reconciler.daemon import store_cluster

    stopped = store_cluster.down(directory, grace)
    click.echo(f"stopped {len(stopped)} member(s)" + (f": {', '.join(stopped)}" if stopped else ""))


@store.command("restore")
@click.option("--snapshot", "snapshot", type=click.Path(path_type=Path), required=True,
              help="a file from `etcdctl snapshot save` against a builtin member")  # fmt: skip
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@click.option("--members", "-n", type=int, default=3, show_default=True)
@click.option("--base-port", type=int, default=23000, show_default=True)
def restore_cmd(snapshot: Path, directory: Path, members: int, base_port: int) -> None:
    """Make a new builtin store in DIR holding SNAPSHOT's data (then `hactl store up`).

    The counterpart of `etcdctl snapshot restore`, which reads only etcd's bbolt files.
    """
    from reconciler.daemon import store_restore

    try:
        layout = store_restore.restore(snapshot, directory, members, base_port)
    except ConfigError as exc:
        click.echo(f"hactl store restore: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        click.echo(f"hactl store restore: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(
        f"restored into {directory} ({layout.members} members); start it with "
        f"`hactl store up --members {layout.members} --dir {directory}`"
    )


@click.command("certs")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@click.option(
    "--name", "names", multiple=True, help="certificate to make (repeat); CA only if none"
)
@click.option("--host", "hosts", multiple=True, default=["127.0.0.1", "localhost"],
              show_default=True, help="DNS name or IP the certificates are valid for")  # fmt: skip
def certs(directory: Path, names: tuple[str, ...], hosts: tuple[str, ...]) -> None:
    """Create a cluster CA in DIR (if missing) and certificates signed by it."""
    from reconciler.transport.certs import make_ca, make_cert

    if not (directory / "ca.crt").exists():
        make_ca(directory)
        click.echo(f"{directory / 'ca.crt'}")
    for name in names:
        make_cert(directory, name, list(hosts))
        click.echo(f"{directory / (name + '.crt')}")
