"""The one exception tree of hactl. Foreign exceptions are translated once, at the adapter.

::

    HactlError
    ├── ValidationError          manifests, config or CLI input are wrong (carries Problems)
    ├── ConfigError              a daemon/cluster configuration file is wrong or missing
    ├── SchedulerError           the scheduler was given something it cannot plan
    ├── StoreError               the desired-state store failed a request
    │   ├── StoreUnavailable     no member answered / no leader / no quorum (retry later)
    │   ├── Compacted            the requested revision has been compacted
    │   ├── FutureRevision       the requested revision is in the future
    │   ├── Conflict             a transaction's compare failed (resourceVersion check)
    │   └── NoSpace              the store's disk is full (NOSPACE alarm)
    ├── AgentError               a resource/fence agent could not be run at all
    │                            (missing, not executable); an agent's rc is a value, not this
    ├── StorageCorrupt           a WAL/snapshot failed its checksum (names file and offset)
    └── StaleToken               an action carried a fencing token older than one seen

Expected outcomes (an OCF rc 7, a failed compare) are values, not exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None  # field path, e.g. "spec.operations[0].interval"
    hint: str | None = None  # e.g. "did you mean `migrationThreshold`?"

    def render(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class HactlError(Exception):
    """Base of every error hactl raises on purpose."""


class ValidationError(HactlError):
    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems) or "invalid input")


class ConfigError(HactlError):
    pass


class SchedulerError(HactlError):
    pass


class StoreError(HactlError):
    pass


class StoreUnavailable(StoreError):
    pass


class Compacted(StoreError):
    def __init__(self, compact_revision: int) -> None:
        self.compact_revision = compact_revision
        super().__init__(f"requested revision has been compacted (compacted at {compact_revision})")


class FutureRevision(StoreError):
    pass


class Conflict(StoreError):
    pass


class NoSpace(StoreError):
    pass


class AgentError(HactlError):
    pass


class StorageCorrupt(HactlError):
    def __init__(self, file: str, offset: int, why: str) -> None:
        self.file = file
        self.offset = offset
        super().__init__(f"{file}: corrupt at offset {offset}: {why}")


class StaleToken(HactlError):
    def __init__(self, token: int, highest_seen: int) -> None:
        self.token = token
        self.highest_seen = highest_seen
        super().__init__(f"stale fencing token {token} (highest seen {highest_seen})")
