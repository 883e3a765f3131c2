"""`hactl import-cib` and `hactl export-cib`: Pacemaker interop.

``import-cib FILE.xml [-o DIR]`` writes ``DIR/manifests/cib.yaml`` (every object,
multi-document) and ``DIR/status.yaml`` (the observed status, kept out of the manifest
directory so that ``-f DIR/manifests`` reads manifests only); without ``-o`` the manifests go
to stdout.
Whatever the manifests cannot express is listed on stderr by name, one warning a line.
Nothing is written when the imported set would not load (exit 1, problems listed).

``export-cib -f DIR [--status FILE] [-o FILE]`` writes a CIB that crm_simulate accepts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.base.errors import Problem, ValidationError
from reconciler.cli.main import EXIT_FAILED
from reconciler.cli.simulate import no_gc

MAX_CIB_BYTES = 512 * 1024 * 1024


def _fail(problems: tuple[Problem, ...] | list[Problem]) -> None:
    for p in problems:
        click.echo(p.render(), err=True)
    sys.exit(EXIT_FAILED)


def _read(path: str) -> str:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_CIB_BYTES:
            _fail([Problem(f"larger than {MAX_CIB_BYTES // 1_048_576} MiB", file=path)])
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        _fail([Problem(f"cannot read: {getattr(e, 'strerror', None) or e}", file=path)])
    raise AssertionError  # unreachable


def _write(path: Path, text: str) -> None:
    """Write whole or not at all: a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@click.command("import-cib")
@click.argument("cib", metavar="FILE.xml")
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write manifests/cib.yaml and status.yaml here (created if missing).",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not list what was not carried over.")
def import_cib_command(cib: str, output_dir: Path | None, quiet: bool) -> None:
    """Turn a Pacemaker CIB into manifests plus an observed-status file."""
    with no_gc():
        from reconciler.cib.importer import import_cib
        from reconciler.model import dump_yaml
        from reconciler.model.status import dump_status_yaml

        try:
            result = import_cib(_read(cib), cib)
        except ValidationError as e:
            _fail(e.problems)
        if result.problems:
            _fail(result.problems)
        manifests = dump_yaml(result.manifests.objects)
        if not quiet:
            for w in result.warnings:
                click.echo(f"warning: {w}", err=True)
        if output_dir is None:
            click.echo(manifests, nl=False)
            return
        (output_dir / "manifests").mkdir(parents=True, exist_ok=True)
        _write(output_dir / "manifests" / "cib.yaml", manifests)
        _write(output_dir / "status.yaml", dump_status_yaml(result.status))
        click.echo(
            f"wrote {output_dir / 'manifests' / 'cib.yaml'} "
            f"({len(result.manifests.objects)} objects) and "
            f"{output_dir / 'status.yaml'} ({len(result.status.nodes)} nodes); "
            f"{len(result.warnings)} item(s) not carried over",
            err=True,
        )


@click.command("export-cib")
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Manifest file or directory (repeatable).",
)
@click.option("--status", "status_path", metavar="FILE", help="Observed-status YAML.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CIB here instead of stdout.",
)
def export_cib_command(
    paths: tuple[str, ...], status_path: str | None, output: Path | None
) -> None:
    """Write a Pacemaker CIB (for crm_simulate) from manifests and an observed status."""
    from reconciler.cib.exporter import export_cib
    from reconciler.model import load_paths
    from reconciler.model.status import load_status_text

    try:
        mset = load_paths(list(paths))
        status = load_status_text(_read(status_path), status_path) if status_path else None
    except ValidationError as e:
        _fail(e.problems)
    text = export_cib(mset, status)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text)
