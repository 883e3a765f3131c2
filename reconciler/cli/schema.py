"""`hactl schema`: JSON Schema of the manifests, for editors (or the Markdown reference)."""

from __future__ import annotations

import json

import click

from reconciler.model import KINDS
from reconciler.model.reference import json_schema, render_markdown


@click.command("schema")
@click.option(
    "--kind",
    type=click.Choice(list(KINDS), case_sensitive=False),
    default=None,
    help="Only this kind (default: any manifest document).",
)
@click.option(
    "--markdown",
    is_flag=True,
    help="Write the Markdown reference (docs/manifests.md) instead of JSON Schema.",
)
def schema(kind: str | None, markdown: bool) -> None:
    """Write JSON Schema for hactl manifests to stdout."""
    if markdown:
        click.echo(render_markdown(), nl=False)
        return
    if kind is not None:
        kind = next(k for k in KINDS if k.lower() == kind.lower())
    click.echo(json.dumps(json_schema(kind), indent=2, sort_keys=True))
