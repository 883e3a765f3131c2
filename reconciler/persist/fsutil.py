"""fsync helpers and the one place OS errors of the disk become our errors."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from reconciler.base.errors import NoSpace


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create ``path`` (and parents) durably: each new directory's parent is fsynced."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    path.mkdir(exist_ok=True)
    fsync_dir(path.parent)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def is_no_space(e: OSError) -> bool:
    return e.errno in (errno.ENOSPC, errno.EDQUOT)


def no_space(path: Path, what: str) -> NoSpace:
    return NoSpace(f"{path}: no space left on device while {what}; nothing was written")
