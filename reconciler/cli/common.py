"""What the live commands share: finding the cluster (``--server``, contexts), calling it,
exit codes, and output formats.

Where hactl looks for the cluster, first match wins:
``--server HOST:PORT[,HOST:PORT...]``, ``--context NAME``, ``$HACTL_SERVER``,
the current context in ``~/.config/hactl/contexts.yaml`` (written by
``hactl cluster up``), and the local cluster's directory (``$HACTL_CLUSTER_DIR``,
default ``/tmp/hactl-cluster-<uid>``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from reconciler.base.errors import HactlError, StoreUnavailable, ValidationError
from reconciler.cli.main import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE
from reconciler.transport.hactl_api import ApiClient

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


def save_context(name: str, servers: str, make_current: bool = True) -> None:
    data = load_contexts()
    data.setdefault("contexts", {})[name] = {"server": servers}
    if make_current:
        data["current"] = name
    path = contexts_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=True))
    except OSError:
        pass


def resolve_servers(server: str | None, context: str | None) -> list[str]:
    if server:
        return [s.strip() for s in server.split(",") if s.strip()]
    data = load_contexts()
    ctxs = data.get("contexts") or {}
    if context:
        if context not in ctxs:
            raise click.UsageError(f"no context {context!r} in {contexts_file()}")
        return str(ctxs[context]["server"]).split(",")
    env = os.environ.get("HACTL_SERVER")
    if env:
        return env.split(",")
    local = default_cluster_dir() / "servers"
    if local.exists():
        return local.read_text().strip().split(",")
    cur = data.get("current")
    if cur and cur in ctxs:
        return str(ctxs[cur]["server"]).split(",")
    raise click.UsageError(
        "no cluster to talk to: give --server HOST:PORT, set HACTL_SERVER, "
        "or start a local one with `hactl cluster up`"
    )


def server_options(f: F) -> F:
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
    """A connection to the first hacd that answers."""

    def __init__(self, servers: Sequence[str]) -> None:
        self.servers = list(servers)
        self.client: ApiClient | None = None

    async def __aenter__(self) -> ApiClient:
        last: Exception | None = None
        for s in self.servers:
            c = ApiClient(s, timeout_s=3.0)
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
