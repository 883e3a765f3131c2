"""`hactl`: the entry point. Subcommands load lazily so `hactl` starts fast.

To add a command, add ``"name": "reconciler.cli.module:attr"`` to ``COMMANDS``.

Exit codes (stable, documented in docs/cli.md):
  0 success · 1 the operation failed or found problems (invalid manifests, differences)
  2 usage error · 3 the cluster/store cannot be reached · 4 timed out waiting
"""

from __future__ import annotations

import importlib
import sys

import click

from reconciler import __version__

COMMANDS: dict[str, str] = {
    # name: "module:attribute"
    # the live cluster
    "apply": "reconciler.cli.objects:apply",
    "get": "reconciler.cli.objects:get",
    "describe": "reconciler.cli.objects:describe",
    "delete": "reconciler.cli.objects:delete",
    "diff": "reconciler.cli.objects:diff",
    "wait": "reconciler.cli.objects:wait",
    "events": "reconciler.cli.objects:events",
    "status": "reconciler.cli.status:status",
    "export": "reconciler.cli.status:export",
    "cleanup": "reconciler.cli.ha:cleanup",
    "refresh": "reconciler.cli.ha:refresh",
    "move": "reconciler.cli.ha:move",
    "ban": "reconciler.cli.ha:ban",
    "clear": "reconciler.cli.ha:clear",
    "node": "reconciler.cli.ha:node",
    "enable": "reconciler.cli.ha:enable",
    "disable": "reconciler.cli.ha:disable",
    "restart": "reconciler.cli.ha:restart",
    "fence": "reconciler.cli.ha:fence",
    "cluster": "reconciler.cli.cluster:cluster",
    "demo": "reconciler.cli.demo:demo",
    "validate": "reconciler.cli.validate:validate",
    "explain": "reconciler.cli.explain:explain",
    "schema": "reconciler.cli.schema:schema",
    "store": "reconciler.cli.store:store",
    "certs": "reconciler.cli.store:certs",
    "sync": "reconciler.cli.sync:sync",
    "simulate": "reconciler.cli.simulate:simulate",
    "import-cib": "reconciler.cli.cib:import_cib_command",
    "export-cib": "reconciler.cli.cib:export_cib_command",
    "agents": "reconciler.cli.agents:agents",
    "agent": "reconciler.cli.agents:agent",
}

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_TIMEOUT = 4


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hactl")
def cli() -> None:
    """hactl: declarative high-availability clusters.

    Write Resources, Constraints and Fencing as YAML, `hactl apply -f`, and the
    cluster converges and keeps converging.
    """


def main() -> None:
    try:
        cli.main(prog_name="hactl", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
