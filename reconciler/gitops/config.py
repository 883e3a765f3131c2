"""Configuration of one watcher (what `hactl sync` flags or a node's config say)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from reconciler.base.errors import ConfigError
from reconciler.gitops.keys import check_watcher_name, watcher_name_from_directory
from reconciler.model.values import Duration

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
    prune_delay: float = 2.0  # an object must be gone from the directory this long to be pruned
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
        if self.prune_delay < 0:
            raise ValueError("the prune delay cannot be negative")
        if (self.fence_key is None) != (self.fence_revision is None):
            raise ValueError("fence_key and fence_revision go together")


_FIELDS = {
    "name": "name",
    "directory": "directory",
    "prune": "prune",
    "allowEmpty": "allow_empty",
    "drift": "drift",
    "interval": "interval",
    "quiet": "quiet",
    "maxWait": "max_wait",
    "pruneDelay": "prune_delay",
    "eventRetention": "event_retention",
}
_DURATIONS = ("interval", "quiet", "max_wait", "prune_delay")


def from_mapping(data: Mapping[str, Any], *, node: str = "", where: str = "syncs") -> WatcherConfig:
    """A watcher from a node configuration's ``syncs:`` entry (camelCase keys)::

        syncs:
          - name: prod                  # default: the directory's base name
            directory: /srv/hactl/prod  # required
            prune: true
            allowEmpty: false
            drift: report               # or reassert (default)
            interval: 1m
            quiet: 300ms
            maxWait: 5s
            pruneDelay: 2s              # gone this long before it is pruned

    Raises :class:`~reconciler.base.errors.ConfigError` naming the field.
    """
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    directory = data.get("directory")
    if not isinstance(directory, str) or not directory:
        raise ConfigError(f"{where}.directory: required (a directory of manifests)")
    values: dict[str, Any] = {"node": node}
    for key, attr in _FIELDS.items():
        if key not in data:
            continue
        raw = data[key]
        if attr in _DURATIONS:
            try:
                values[attr] = Duration.parse(raw).seconds
            except ValueError as exc:
                raise ConfigError(f"{where}.{key}: {exc}") from None
        elif attr in ("prune", "allow_empty") and not isinstance(raw, bool):
            raise ConfigError(f"{where}.{key}: expected true or false, not {raw!r}")
        elif attr == "event_retention" and (not isinstance(raw, int) or raw < 1):
            raise ConfigError(f"{where}.{key}: expected a positive integer, not {raw!r}")
        else:
            values[attr] = raw
    values.setdefault("name", watcher_name_from_directory(PurePath(directory).name))
    if "quiet" in values and "max_wait" not in values:
        values["max_wait"] = max(5.0, values["quiet"])
    try:
        return WatcherConfig(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
