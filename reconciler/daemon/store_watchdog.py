"""A diagnostic: log where the event loop is when it is held too long.

Enabled with ``HACTL_STORE_STALL_STACKS=1`` in a builtin member's environment. A daemon
thread looks every 50 ms at when the loop last ran its Raft ticker; when that is more
than ``threshold_s`` ago it logs the loop thread's stack once per stall. Used to find
what keeps a member from heartbeating (see docs/store.md, "Timing").
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)


def start(last_beat: Callable[[], float], threshold_s: float = 0.2) -> None:
    """Watch the loop of the calling thread; ``last_beat``: monotonic time of its last tick."""
    loop_thread = threading.get_ident()

    def watch() -> None:
        reported = 0.0
        while True:
            time.sleep(0.05)
            beat = last_beat()
            if time.monotonic() - beat > threshold_s and beat != reported:
                reported = beat
                frame = sys._current_frames().get(loop_thread)
                stack = "".join(traceback.format_stack(frame, limit=25)) if frame else "?"
                log.warning("event loop held > %.0f ms, now at:\n%s", threshold_s * 1000, stack)

    threading.Thread(target=watch, name="stall-watchdog", daemon=True).start()
    began = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.monotonic()
            return
        took = time.monotonic() - began[0]
        if took > threshold_s / 4:
            log.warning(
                "garbage collection of generation %d took %.0f ms (%d objects tracked)",
                info.get("generation", -1),
                took * 1000,
                sum(gc.get_count()) + len(gc.get_objects(2)) if took > threshold_s else -1,
            )

    gc.callbacks.append(on_gc)
