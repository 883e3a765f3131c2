"""`hactl validate -f PATH…`: check manifests without touching a cluster.

Exit 0 when valid, 1 when invalid, 2 on usage errors. Every problem is printed, as
``file:line:col: field.path: message (hint)``, or as JSON with ``-o json``.

More checkers (e.g. parameters against installed agents' meta-data) are added by listing
``"module:attribute"`` entries in ``EXTRA_CHECKERS``; each names a
``Callable[[ManifestSet], list[Problem]]`` and is imported only when validate runs.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

from reconciler.base.errors import Problem
from reconciler.cli.main import EXIT_FAILED, EXIT_OK
from reconciler.model import Checker, ManifestSet, parse_paths, validate_set

EXTRA_CHECKERS: list[str] = [
    # "module:attribute" of Callable[[ManifestSet], list[Problem]]
    "reconciler.agents.manifest_check:check_installed_agents",
]


def extra_checkers() -> list[Checker]:
    out: list[Checker] = []
    for ref in EXTRA_CHECKERS:
        module_name, attr = ref.split(":")
        out.append(getattr(importlib.import_module(module_name), attr))
    return out


def check_paths(
    paths: list[str], checkers: list[Checker] | None = None
) -> tuple[ManifestSet, list[Problem]]:
    """Everything ``hactl validate`` reports for ``paths``: per document and across objects."""
    mset, problems = parse_paths(paths)
    more = validate_set(mset, extra=extra_checkers() if checkers is None else checkers)
    everything = list(dict.fromkeys([*problems, *more]))
    everything.sort(
        key=lambda p: (p.file or "", p.line or 0, p.column or 0, p.path or "", p.message)
    )
    return mset, everything


def problem_json(p: Problem) -> dict[str, object]:
    return {
        "file": p.file,
        "line": p.line,
        "column": p.column,
        "path": p.path,
        "message": p.message,
        "hint": p.hint,
    }


@click.command("validate")
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    metavar="PATH",
    help="A manifest file, a directory of *.yaml/*.yml, or - for stdin. Repeatable.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--agent-check/--no-agent-check",
    default=True,
    show_default=True,
    help="Check params against the agents installed on this machine (their meta-data).",
)
def validate(paths: tuple[str, ...], output: str, agent_check: bool) -> None:
    """Check manifests and report every problem at once (nothing is applied)."""
    for path in paths:
        if path != "-" and not Path(path).exists():
            raise click.UsageError(f"{path}: no such file or directory")
    if paths.count("-") > 1:
        raise click.UsageError("stdin (-) can be read only once")
    mset, problems = check_paths(list(paths), None if agent_check else [])
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "valid": not problems,
                    "objects": len(mset),
                    "problems": [problem_json(p) for p in problems],
                },
                indent=2,
            )
        )
    else:
        for p in problems:
            click.echo(p.render())
        if problems:
            click.echo(
                f"{len(problems)} problem(s); nothing is valid until all are fixed", err=True
            )
        else:
            kinds = sorted({o.kind for o in mset})
            click.echo(f"valid: {len(mset)} object(s) ({', '.join(kinds)})")
    sys.exit(EXIT_FAILED if problems else EXIT_OK)
