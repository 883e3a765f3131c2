"""Helpers shared by the manifest-language tests (imported by name; pytest puts this dir on sys.path)."""

from __future__ import annotations

from pathlib import Path

from reconciler.base.errors import Problem, ValidationError
from reconciler.model import load_paths

HEAD = "apiVersion: hactl.io/v1\n"


def problems_in(files: dict[str, str | bytes], root: Path) -> list[Problem]:
    """Write ``files`` under ``root``, load them all, return every problem (none -> [])."""
    paths = []
    for name, content in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        paths.append(p)
    try:
        load_paths(paths)
    except ValidationError as e:
        return list(e.problems)
    return []
