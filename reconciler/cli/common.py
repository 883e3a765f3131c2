"""What the live commands share: finding the cluster (``--server``, contexts), calling it,
exit codes, and output formats.

Where hactl looks for the cluster, first match wins:
``--server HOST:PORT[,HOST:PORT...]``, ``--context NAME``, ``$HACTL_SERVER``,
the current context in ``~/.config/hactl/contexts.yaml`` (written by
``hactl cluster up``), and the local cluster's directory (``$HACTL_CLUSTER_DIR``,
default ``/tmp/hactl-cluster-<uid>``).

TLS, like a kubeconfig: a context may carry ``certificateAuthority``,
``clientCertificate`` and ``clientKey`` (paths; relative ones are relative to
contexts.yaml); ``--certificate-authority``, ``--client-certificate`` and
``--client-key`` (or ``$HACTL_CA``, ``$HACTL_CERT``, ``$HACTL_KEY`` beside
``$HACTL_SERVER``) give or override them. With a CA, hactl talks TLS.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import yaml

from reconciler.base.errors import HactlError, StoreUnavailable, ValidationError
from reconciler.cli.main import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE
from reconciler.transport.hactl_api import ApiClient
from reconciler.transport.tls import client_credentials

if TYPE_CHECKING:
    import grpc

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def default_cluster_dir() -> Path:
    env = os.environ.get("HACTL_CLUSTER_DIR")
    return Path(env) if env else Path(f"/tmp/hactl-cluster-{os.getuid()}")


def contexts_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hactl" / "contexts.yaml"


def load_contexts() -> dict[str, Any]:
    try:
        data = yaml.safe_load(contexts_file().read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


TLS_KEYS = ("certificateAuthority", "clientCertificate", "clientKey")
TLS_ENV = {"certificateAuthority": "HACTL_CA", "clientCertificate": "HACTL_CERT",
           "clientKey": "HACTL_KEY"}  # fmt: skip
TLS_META = "hactl.tls"  # click context meta: the TLS files of the resolved cluster


@dataclass(frozen=True, slots=True)
class ClientTls:
    """hactl's TLS files for one cluster: the CA, and its client certificate and key."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        return client_credentials(self.ca, self.cert, self.key)


def save_context(
    name: str, servers: str, make_current: bool = True, tls: ClientTls | None = None
) -> None:
    data = load_contexts()
    entry: dict[str, str] = {"server": servers}
    if tls is not None:
        entry["certificateAuthority"] = str(tls.ca.resolve())
        if tls.cert is not None and tls.key is not None:
            entry["clientCertificate"] = str(tls.cert.resolve())
            entry["clientKey"] = str(tls.key.resolve())
    data.setdefault("contexts", {})[name] = entry
    if make_current:
        data["current"] = name
    path = contexts_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=True))
    except OSError:
        pass


def _context_tls(entry: Any) -> dict[str, str]:
    """A context's TLS files, relative paths resolved against contexts.yaml's directory."""
    if not isinstance(entry, dict):
        return {}
    base = contexts_file().parent
    return {k: str(base / str(entry[k])) for k in TLS_KEYS if entry.get(k)}


def resolve_tls(found: dict[str, str]) -> ClientTls | None:
    """The TLS files of the cluster found, with the command line's options on top."""
    ctx = click.get_current_context(silent=True)
    given = dict(ctx.meta.get(TLS_META + ".options", {})) if ctx is not None else {}
    files = {**found, **{k: v for k, v in given.items() if v}}
    if not files:
        return None
    if "certificateAuthority" not in files:
        raise click.UsageError(
            "a client certificate needs the cluster CA too: give --certificate-authority"
        )
    if ("clientCertificate" in files) != ("clientKey" in files):
        raise click.UsageError("--client-certificate and --client-key go together")
    cert, key = files.get("clientCertificate"), files.get("clientKey")
    return ClientTls(
        Path(files["certificateAuthority"]),
        Path(cert) if cert else None,
        Path(key) if key else None,
    )


def resolve_servers(server: str | None, context: str | None) -> list[str]:
    """The cluster's hacd addresses; its TLS files are kept for :class:`Session`."""
    servers, found = _resolve(server, context)
    tls = resolve_tls(found)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[TLS_META] = tls
    return servers


def _resolve(server: str | None, context: str | None) -> tuple[list[str], dict[str, str]]:
    env_tls = {k: os.environ[e] for k, e in TLS_ENV.items() if os.environ.get(e)}
    if server:
        return [s.strip() for s in server.split(",") if s.strip()], env_tls
    data = load_contexts()
    ctxs = data.get("contexts") or {}
    if context:
        if context not in ctxs:
            raise click.UsageError(f"no context {context!r} in {contexts_file()}")
        return str(ctxs[context]["server"]).split(","), _context_tls(ctxs[context])
    env = os.environ.get("HACTL_SERVER")
    if env:
        return env.split(","), env_tls
    local = default_cluster_dir() / "servers"
    if local.exists():
        return local.read_text().strip().split(","), {}
    cur = data.get("current")
    if cur and cur in ctxs:
        return str(ctxs[cur]["server"]).split(","), _context_tls(ctxs[cur])
    raise click.UsageError(
        "no cluster to talk to: give --server HOST:PORT, set HACTL_SERVER, "
        "or start a local one with `hactl cluster up`"
    )


def _keep_tls_option(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    names = {
        "certificate_authority": "certificateAuthority",
        "client_certificate": "clientCertificate",
        "client_key": "clientKey",
    }
    if value and param.name in names:
        ctx.meta.setdefault(TLS_META + ".options", {})[names[param.name]] = value


def server_options(f: F) -> F:
    for flag, what in (
        ("--client-key", "The key of --client-certificate."),
        ("--client-certificate", "hactl's client certificate (signed by the cluster CA)."),
        ("--certificate-authority", "The cluster CA (talk TLS; check hacd's certificate)."),
    ):
        f = click.option(
            flag,
            type=click.Path(dir_okay=False),
            default=None,
            expose_value=False,
            callback=_keep_tls_option,
            help=what,
        )(f)
    f = click.option(
        "--context", "context", default=None, help="A named cluster from contexts.yaml."
    )(f)
    f = click.option(
        "--server",
        "-s",
        "server",
        default=None,
        help="hacd address(es), HOST:PORT[,HOST:PORT...].",
    )(f)
    return f


class Session:
    """A connection to the first hacd that answers (over TLS when the cluster found by
    :func:`resolve_servers` has TLS files, or ``tls`` is given)."""

    def __init__(self, servers: Sequence[str], tls: ClientTls | None = None) -> None:
        self.servers = list(servers)
        self.client: ApiClient | None = None
        if tls is None:
            ctx = click.get_current_context(silent=True)
            tls = ctx.meta.get(TLS_META) if ctx is not None else None
        self.tls = tls

    async def __aenter__(self) -> ApiClient:
        last: Exception | None = None
        creds = self.tls.credentials() if self.tls is not None else None
        for s in self.servers:
            c = ApiClient(s, timeout_s=3.0, credentials=creds)
            try:
                await c.get("Cluster", "", "")
            except StoreUnavailable as e:
                last = e
                await c.close()
                continue
            c.timeout_s = 30.0
            self.client = c
            return c
        raise StoreUnavailable(
            f"no hacd answered at {', '.join(self.servers)}" + (f" ({last})" if last else "")
        )

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await self.client.close()


def run(coro: Awaitable[T]) -> T:
    """Run a command's coroutine; map errors to the documented exit codes."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except ValidationError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FAILED)
    except StoreUnavailable as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    except HactlError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_FAILED)


def fail(message: str, code: int = EXIT_FAILED) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def usage(message: str) -> None:
    fail(message, EXIT_USAGE)


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    cols = [list(header), *[list(r) for r in rows]]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    lines = [
        "   ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cols
    ]
    return "\n".join(lines)


def age(created: str | None, now: float) -> str:
    if not created:
        return "-"
    from datetime import datetime

    try:
        t = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").timestamp() - (
            datetime.now().astimezone().utcoffset().total_seconds()  # type: ignore[union-attr]
        )
    except ValueError:
        return "-"
    s = max(0, int(now - t))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def dump(data: Any, output: str) -> str:
    if output == "json":
        return json.dumps(data, indent=2, sort_keys=True)
    return yaml.safe_dump(data, sort_keys=False)
