"""Read a directory of manifests into a :class:`Snapshot` and digest it into a revision.

Only ``*.yaml``/``*.yml`` files count, recursively. Hidden files and directories
(``.git``, ``.x.yaml.tmp``) and editors' temporary files (``.#x``, ``x~``,
``x.swp``, vim's ``4913`` probe, ``#x#``) are skipped. The revision is the sha256
of the sorted (relative path, content) pairs, so it depends on nothing but what a
reader of the directory sees.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from reconciler.base.limits import MAX_MANIFEST_BYTES

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_SNAPSHOT_FILES = 10_000

_TEMP_NAME = re.compile(r"(^\.#)|(^#.*#$)|(~$)|(\.sw[a-p]$)|(^\d+$)|(\.tmp$)|(\.bak$)")


def is_temporary_name(name: str) -> bool:
    """Hidden files and editors' scratch files (``.#x``, ``x~``, ``x.swp``, ``4913``, ...)."""
    return name.startswith(".") or _TEMP_NAME.search(name) is not None


def is_manifest_name(name: str) -> bool:
    """True for a file name that the watcher reads (not hidden, not temporary, *.yaml/*.yml)."""
    if is_temporary_name(name):
        return False
    return name.endswith(MANIFEST_SUFFIXES)


def is_manifest_relpath(relpath: str) -> bool:
    """True when every directory on the path is visible and the file name is a manifest's."""
    parts = relpath.replace(os.sep, "/").split("/")
    if any(part.startswith(".") or part == "" for part in parts[:-1]):
        return False
    return is_manifest_name(parts[-1])


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    relpath: str  # "/"-separated, relative to the watched directory
    content: bytes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the directory held at one moment. ``exists`` is False when it was missing."""

    root: str
    exists: bool
    files: tuple[SnapshotFile, ...]
    revision: str
    unreadable: tuple[tuple[str, str], ...] = ()  # (relpath, why): cannot be trusted

    @property
    def empty(self) -> bool:
        return not self.files and not self.unreadable


def digest(files: tuple[SnapshotFile, ...]) -> str:
    """sha256 over sorted (path, content): path and content are length-prefixed."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.relpath):
        path = f.relpath.encode()
        h.update(len(path).to_bytes(8, "big") + path)
        h.update(len(f.content).to_bytes(8, "big") + f.content)
    return "sha256:" + h.hexdigest()


MISSING_REVISION = "missing"


def take_snapshot(root: str | Path) -> Snapshot:
    """Read every manifest file under ``root``. A missing directory is a value, not an error."""
    base = Path(root)
    if not base.is_dir():
        return Snapshot(str(base), False, (), MISSING_REVISION)
    files: list[SnapshotFile] = []
    unreadable: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not is_manifest_name(name):
                continue
            full = Path(dirpath) / name
            rel = full.relative_to(base).as_posix()
            try:
                if full.stat().st_size > MAX_MANIFEST_BYTES:
                    unreadable.append((rel, f"larger than {MAX_MANIFEST_BYTES} bytes"))
                    continue
                content = full.read_bytes()
            except FileNotFoundError:
                continue  # vanished between listing and reading: the next snapshot sees it
            except OSError as exc:
                unreadable.append((rel, exc.strerror or str(exc)))
                continue
            files.append(SnapshotFile(rel, content))
            if len(files) > MAX_SNAPSHOT_FILES:
                unreadable.append((rel, f"more than {MAX_SNAPSHOT_FILES} manifest files"))
                break
    ordered = tuple(sorted(files, key=lambda f: f.relpath))
    return Snapshot(str(base), True, ordered, digest(ordered), tuple(sorted(unreadable)))
