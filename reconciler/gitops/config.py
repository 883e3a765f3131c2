"""Configuration of one watcher (what `hactl sync` flags or a node's config say)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.gitops.keys import check_watcher_name

DriftMode = Literal["reassert", "report"]


@dataclass(frozen=True, slots=True)
class WatcherConfig:
    name: str
    directory: str
    prune: bool = False
    allow_empty: bool = False
    drift: DriftMode = "reassert"
    interval: float = 60.0  # drift check / full resync period, seconds
    quiet: float = 0.3  # debounce: quiet period after the last change
    max_wait: float = 5.0  # debounce: at most this long after the first change
    backoff_initial: float = 1.0
    backoff_cap: float = 300.0
    control_poll: float = 1.0  # how often suspend/reconcile-now keys are read
    event_retention: int = 100
    once: bool = False  # reconcile once and return
    node: str = ""  # shown in the status record
    fence_key: str | None = None  # leadership guard (hacd): key and its create revision
    fence_revision: int | None = None

    def __post_init__(self) -> None:
        check_watcher_name(self.name)
        if self.drift not in ("reassert", "report"):
            raise ValueError(f"drift must be reassert or report, not {self.drift!r}")
        if self.interval <= 0 or self.quiet < 0 or self.max_wait < self.quiet:
            raise ValueError("need interval > 0 and 0 <= quiet <= max wait")
        if (self.fence_key is None) != (self.fence_revision is None):
            raise ValueError("fence_key and fence_revision go together")
