"""Garbage collection that does not hold a member's loop past its heartbeats.

A store member keeps every stored revision as Python objects (hundreds of thousands
after ``etcdctl check perf``). CPython's automatic full collection walks all of them
in one piece: measured 450-1,300 ms at load 11 on this 2-core machine for ~220,000
objects, longer than a 500 ms election timeout allows a leader. So:

* at start (after the state is loaded) everything alive is moved out of the collector's
  sight (``gc.freeze``): modules, classes, the loaded store -- long-lived, not garbage;
* young collections stay frequent and small (``YOUNG`` new objects; the middle
  generation every ``MIDDLE`` of them, so it holds at most ``YOUNG * MIDDLE`` objects);
* the automatic full collection is off. The store's state is not cyclic (frozen
  dataclasses, tuples, lists: reference counting frees it), so what a full collection
  would find is cyclic garbage of long-lived objects elsewhere. It is collected every
  ``FULL_EVERY_S`` while few objects are tracked (``FULL_MAX_OBJECTS``: tens of ms),
  and otherwise every ``FOLLOWER_FULL_EVERY_S`` on a follower -- a follower's pause
  cannot cost the cluster its leader (pre-vote; see docs/store.md, Timing). A member
  that stays leader of a large store defers it until it is small again or not leader.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

YOUNG = 2_000
MIDDLE = 5
FULL_EVERY_S = 60.0
FULL_MAX_OBJECTS = 60_000
FOLLOWER_FULL_EVERY_S = 600.0


def configure() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, 1 << 30)


async def full_collections(is_leader: Callable[[], bool]) -> None:
    """Run the full collections described above, for the life of the member."""
    last = time.monotonic()
    while True:
        await asyncio.sleep(FULL_EVERY_S)
        small = len(gc.get_objects()) < FULL_MAX_OBJECTS  # the frozen ones are not listed
        due = time.monotonic() - last >= FOLLOWER_FULL_EVERY_S
        if small or (due and not is_leader()):
            gc.collect()
            last = time.monotonic()
