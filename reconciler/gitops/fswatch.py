"""Thin I/O: wake the watcher when anything that could change the snapshot changes.

Watches the directory (not single files: editors save by rename) with watchfiles,
recursively, filtering out hidden and temporary files so editors' scratch files do
not wake anything. A directory that disappears and comes back (or is replaced by
another one, as ``rm -rf d && mv new d`` does) is noticed by its identity
(device, inode) and watched afresh. Events carry nothing the decision depends on:
the reconcile reads the whole directory again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from reconciler.gitops.snapshot import is_manifest_name, is_temporary_name

log = logging.getLogger(__name__)

RECHECK_S = 0.5  # how often a missing or replaced directory is looked for


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def make_filter(root: Path) -> Callable[[Change, str], bool]:
    base = str(root.resolve()).rstrip("/") + "/"

    def accept(_change: Change, path: str) -> bool:
        rel = path[len(base) :] if path.startswith(base) else os.path.basename(path)
        parts = [p for p in rel.split("/") if p]
        if not parts:
            return True  # the directory itself
        if any(p.startswith(".") for p in parts[:-1]):
            return False
        name = parts[-1]
        if is_temporary_name(name):
            return False
        # manifests, and directories (they come and go as wholes, e.g. `mv`)
        return is_manifest_name(name) or "." not in name or os.path.isdir(path)

    return accept


async def watch_directory(root: str, on_change: Callable[[], None], stop: asyncio.Event) -> None:
    """Call ``on_change`` whenever the directory (or its presence) may have changed."""
    path = Path(root)
    while not stop.is_set():
        ident = _identity(path)
        if ident is None or not path.is_dir():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECHECK_S)
            if _identity(path) is not None:
                on_change()  # it came back
            continue
        local_stop = asyncio.Event()
        stream = awatch(
            path,
            watch_filter=make_filter(path),
            debounce=1600,
            step=50,
            stop_event=local_stop,
            rust_timeout=int(RECHECK_S * 1000),
            yield_on_timeout=True,
            recursive=True,
        )
        try:
            async with contextlib.aclosing(stream):
                async for changes in stream:
                    if changes:
                        on_change()
                    if stop.is_set():
                        local_stop.set()
                        break
                    if _identity(path) != ident:
                        on_change()  # gone or replaced: watch it afresh
                        local_stop.set()
                        break
        except Exception as exc:
            # the directory vanished under watchfiles' feet (or the watch broke):
            # look again shortly; the periodic resync covers the gap
            log.debug("watching %s: %s", root, exc)
            on_change()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECHECK_S)
