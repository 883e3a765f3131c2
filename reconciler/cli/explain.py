"""`hactl explain KIND[.field…]`: type, default and meaning of a manifest field."""

from __future__ import annotations

import click

from reconciler.model.reference import explain as explain_path


@click.command("explain")
@click.argument("path", metavar="KIND[.field…]")
def explain(path: str) -> None:
    """Describe a kind or a field, e.g. `hactl explain Resource.spec.operations.onFail`."""
    try:
        click.echo(explain_path(path), nl=False)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
