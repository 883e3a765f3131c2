"""Garbage collection that does not hold a member's loop past its heartbeats.

A store member keeps every stored revision as Python objects (hundreds of thousands
after ``etcdctl check perf``). CPython's automatic full collection walks all of them
in one piece: measured 450-530 ms at load 11 on this 2-core machine for ~220,000
objects, longer than a 500 ms election timeout allows. So:

* young collections stay frequent and small (``YOUNG`` new objects; the second
  generation every ``MIDDLE`` of them, so it holds at most ``YOUNG * MIDDLE`` objects);
* the automatic full collection is off: the store's state is not cyclic (frozen
  dataclasses, tuples, lists: reference counting frees it), and what reaches the oldest
  generation has survived two collections already;
* a full collection still runs every ``FULL_EVERY_S`` while the process is small
  (fewer than ``FULL_MAX_OBJECTS`` tracked objects, a few tens of ms), so cyclic
  garbage of long-lived objects is reclaimed in the usual deployments; with a larger
  store it waits until compaction makes it small again.
"""

from __future__ import annotations

import asyncio
import gc
import logging

log = logging.getLogger(__name__)

YOUNG = 2_000
MIDDLE = 5
FULL_EVERY_S = 60.0
FULL_MAX_OBJECTS = 60_000


def configure() -> None:
    gc.set_threshold(YOUNG, MIDDLE, 1 << 30)


async def full_collections() -> None:
    """Run a full collection every ``FULL_EVERY_S`` while few objects are tracked."""
    while True:
        await asyncio.sleep(FULL_EVERY_S)
        if len(gc.get_objects()) < FULL_MAX_OBJECTS:
            gc.collect()
