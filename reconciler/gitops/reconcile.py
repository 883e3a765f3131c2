"""One reconcile pass: snapshot -> validate -> plan -> one transaction -> status + event.

Ends in one of: nothing to do, applied, invalid (nothing applied, errors per file),
refused (a safety rule), drift reported, suspended, directory missing, unstable
(the directory changed while it was read: try again after the debounce), or a
store error (back off). :class:`Reconciler` keeps only what must survive between
passes in memory (the backoff); everything a user sees is in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconciler.base.clock import Clock
from reconciler.base.errors import (
    Conflict,
    Problem,
    StaleToken,
    StoreError,
    StoreUnavailable,
    ValidationError,
)
from reconciler.gitops import status as st
from reconciler.gitops.applier import Applier, LiveState
from reconciler.gitops.backoff import Backoff
from reconciler.gitops.config import WatcherConfig
from reconciler.gitops.keys import ObjectKey
from reconciler.gitops.objects import DesiredObject, LiveObject
from reconciler.gitops.plan import SyncPlan, make_plan
from reconciler.gitops.snapshot import Snapshot, take_snapshot
from reconciler.gitops.status import SyncEvent, SyncStatus

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 3

Loader = Callable[[Snapshot], Sequence[DesiredObject]]  # raises ValidationError
# (revision, the cluster's objects outside the set) -> problems the set adds to them
ClusterCheck = Callable[[str, Sequence[LiveObject]], list[Problem]]


class Trigger(StrEnum):
    CHANGE = "change"  # the directory changed (after debounce)
    DRIFT = "drift"  # the periodic check
    STARTUP = "startup"
    REQUEST = "request"  # reconcile-now (a store key or a signal), resume


class Result(StrEnum):
    NOTHING = "nothing"
    APPLIED = "applied"
    INVALID = "invalid"
    REFUSED = "refused"
    DRIFT = "drift"
    SUSPENDED = "suspended"
    MISSING = "missing"
    UNSTABLE = "unstable"
    BACKOFF = "backoff"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    revision: str | None = None
    retry_after: float | None = None  # seconds; the watcher wakes then
    message: str = ""
    details: tuple[str, ...] = ()  # every problem (invalid), for a foreground report
    unreachable: bool = False  # the store could not be reached


def problems_by_file(err: ValidationError, root: str) -> dict[str, list[str]]:
    """Group rendered problems by file, with file names relative to the watched directory."""
    prefix = root.rstrip("/") + "/"
    grouped: dict[str, list[str]] = {}
    for p in err.problems:
        file = p.file or "<directory>"
        rel = file[len(prefix) :] if file.startswith(prefix) else file
        rendered = p.render()
        if p.file and p.file.startswith(prefix):
            rendered = rel + rendered[len(p.file) :]
        grouped.setdefault(rel, []).append(rendered)
    return st.errors_by_file(grouped)


def _names(keys: Sequence[object]) -> list[str]:
    out = []
    for k in keys:
        render = getattr(k, "render", None)
        out.append(render() if callable(render) else str(k))
    return out[: st.MAX_LISTED]


class Reconciler:
    def __init__(
        self,
        config: WatcherConfig,
        applier: Applier,
        loader: Loader,
        clock: Clock,
        cluster_check: ClusterCheck | None = None,
    ) -> None:
        self.config = config
        self._applier = applier
        self._load = loader
        self._cluster_check = cluster_check
        self._clock = clock
        self.backoff = Backoff(config.backoff_initial, config.backoff_cap)
        self.last_attempted: str | None = None
        self._absent_since: dict[ObjectKey, float] = {}  # inventory objects gone from the dir

    # -- the pass -----------------------------------------------------------------

    async def reconcile(self, trigger: Trigger) -> Outcome:
        try:
            return await self._reconcile(trigger)
        except StaleToken:
            raise
        except StoreError as exc:
            return await self._store_failed(exc)

    async def _reconcile(self, trigger: Trigger) -> Outcome:
        snap = take_snapshot(self.config.directory)
        if trigger is Trigger.CHANGE and snap.exists and snap.revision == self.last_attempted:
            # an unchanged revision does nothing, not even a read of the store (a failed
            # attempt is retried by the backoff timer, not by file events)
            return Outcome(Result.NOTHING, snap.revision)
        state = await self._applier.read()
        status = self._base_status(state)
        if state.suspended:
            if not status.suspended:
                await self._record(
                    status.with_(suspended=True, message="suspended"),
                    "Normal",
                    "Suspended",
                    None,
                    "sync suspended: nothing is applied",
                )
                return Outcome(Result.SUSPENDED, message="suspended: nothing is applied")
            return Outcome(Result.SUSPENDED)
        if status.suspended:
            status = status.with_(suspended=False)
            trigger = Trigger.REQUEST
        if not snap.exists:
            return await self._missing(status)
        now = self._clock.monotonic()
        if not self.backoff.allows(snap.revision, now) and trigger is not Trigger.REQUEST:
            return Outcome(Result.BACKOFF, snap.revision, self.backoff.wait_for(snap.revision, now))
        try:
            desired = self._validate(snap)
        except ValidationError as err:
            return await self._invalid(status, snap, err)
        if take_snapshot(self.config.directory).revision != snap.revision:
            return Outcome(Result.UNSTABLE, snap.revision, message="changed while being read")
        for attempt in range(MAX_CONFLICT_RETRIES):
            if attempt:
                state = await self._applier.read()
                status = self._base_status(state).with_(suspended=False)
            try:
                return await self._sync(trigger, status, state, snap, desired)
            except Conflict:
                log.info("sync %s: conflict, re-reading (attempt %d)", self.config.name, attempt)
        raise StoreError(f"objects kept changing underneath ({MAX_CONFLICT_RETRIES} conflicts)")

    def _validate(self, snap: Snapshot) -> Sequence[DesiredObject]:
        if snap.unreadable:
            raise ValidationError(
                [
                    Problem(f"cannot read: {why}", file=f"{snap.root.rstrip('/')}/{rel}")
                    for rel, why in snap.unreadable
                ]
            )
        try:
            return self._load(snap)
        except ValidationError:
            raise
        except Exception as exc:  # a bug in validation must not apply anything, nor crash
            log.exception("sync %s: validation failed unexpectedly", self.config.name)
            raise ValidationError(
                [Problem(f"internal error while validating: {exc!r}", file="<directory>")]
            ) from exc

    async def _sync(
        self,
        trigger: Trigger,
        status: SyncStatus,
        state: LiveState,
        snap: Snapshot,
        desired: Sequence[DesiredObject],
    ) -> Outcome:
        cfg = self.config
        prunable, prune_wait = self._prunable(desired, state)
        plan = make_plan(
            desired,
            state.objects,
            state.inventory.objects,
            prune=cfg.prune,
            allow_empty=cfg.allow_empty,
            prunable=prunable,
        )
        rev = snap.revision
        wall = self._clock.wall()
        self.last_attempted = rev
        if plan.refused is not None:
            return await self._refused(status, plan, rev)
        if self._cluster_check is not None:
            wanted = {d.key for d in desired}
            pruned = {o.key for o in plan.prune}
            others = [o for k, o in state.objects.items() if k not in wanted | pruned]
            problems = self._cluster_check(rev, others)
            if problems:
                return await self._invalid(status, snap, ValidationError(problems))
        same_revision = status.last_applied_revision == rev and state.inventory.revision == rev
        report_only = cfg.drift == "report" and same_revision and trigger is not Trigger.REQUEST
        pending = _names(plan.pending_prune)
        # drift = the store differs from what the directory says; prunes that came due
        # (the prune delay) follow from the directory's own change and are applied
        drifted = [d.key for d in plan.create] + [d.key for d, _ in plan.configure]
        if report_only and drifted:
            drift = _names(drifted)
            if status.phase == st.OUT_OF_SYNC and status.drift == drift:
                return Outcome(Result.DRIFT, rev, prune_wait)
            await self._record(
                status.with_(
                    phase=st.OUT_OF_SYNC,
                    in_sync=False,
                    drift=drift,
                    pending_prunes=pending,
                    last_attempted_revision=rev,
                    last_attempted_at=wall,
                    message=f"drift: {len(drift)} objects differ from the directory",
                ),
                "Warning",
                "Drift",
                rev,
                f"{len(drift)} objects differ from the directory: {', '.join(drift[:10])}",
            )
            self.backoff = self.backoff.succeeded()
            return Outcome(Result.DRIFT, rev, prune_wait)
        if (
            same_revision
            and plan.changes == 0
            and status.phase == st.IN_SYNC
            and tuple(plan.inventory) == tuple(state.inventory.objects)
            and status.pending_prunes == pending
        ):
            self.backoff = self.backoff.succeeded()
            return Outcome(Result.NOTHING, rev, prune_wait)
        reason = "Applied"
        if same_revision and drifted:
            reason = "Reasserted"
        elif same_revision and plan.prune:
            reason = "Pruned"
        summary = (
            f"{len(plan.create)} created, {len(plan.configure)} configured, "
            f"{len(plan.unchanged)} unchanged, {len(plan.prune)} pruned"
        )
        new_status = status.with_(
            phase=st.IN_SYNC,
            in_sync=True,
            errors={},
            drift=[],
            pending_prunes=pending,
            last_applied_revision=rev,
            last_applied_at=wall,
            last_attempted_revision=rev,
            last_attempted_at=wall,
            objects=len(plan.inventory),
            failures=0,
            next_retry_at=None,
            message=f"revision {st.short_revision(rev)}: {summary}",
        )
        seq = status.event_seq + 1
        event = SyncEvent(
            seq=seq,
            time=wall,
            type="Normal",
            reason=reason,
            revision=rev,
            message=f"revision {st.short_revision(rev)}: {summary}",
            created=_names([d.key for d in plan.create]),
            configured=_names([d.key for d, _ in plan.configure]),
            unchanged=len(plan.unchanged),
            pruned=_names([o.key for o in plan.prune]),
        )
        await self._applier.apply(plan, state, rev, new_status.with_(event_seq=seq), event)
        self.backoff = self.backoff.succeeded()
        log.info("sync %s: %s", cfg.name, event.message)
        return Outcome(Result.APPLIED, rev, prune_wait, event.message)

    def _prunable(
        self, desired: Sequence[DesiredObject], state: LiveState
    ) -> tuple[frozenset[ObjectKey], float | None]:
        """Inventory objects gone from the directory for at least the prune delay, and how
        long until the next one is due (None: none waiting). A file that vanishes for a
        moment (a slow save, a checkout) is never pruned."""
        now = self._clock.monotonic()
        wanted = {d.key for d in desired}
        gone = {k for k in state.inventory.objects if k not in wanted and k in state.objects}
        self._absent_since = {k: self._absent_since.get(k, now) for k in gone}
        delay = self.config.prune_delay
        ready = frozenset(k for k, t in self._absent_since.items() if now - t >= delay)
        waits = [t + delay - now for k, t in self._absent_since.items() if k not in ready]
        wait = min(waits) if waits and self.config.prune else None
        return ready, wait

    # -- the other endings --------------------------------------------------------

    def _base_status(self, state: LiveState) -> SyncStatus:
        cfg = self.config
        base = state.status or SyncStatus(name=cfg.name)
        return base.with_(
            name=cfg.name,
            directory=cfg.directory,
            node=cfg.node,
            prune=cfg.prune,
            drift_mode=cfg.drift,
        )

    async def _record(
        self, status: SyncStatus, type_: str, reason: str, rev: str | None, message: str
    ) -> None:
        seq = status.event_seq + 1
        event = SyncEvent(
            seq=seq,
            time=self._clock.wall(),
            type=type_,
            reason=reason,
            revision=rev,
            message=message,
        )
        await self._applier.record(status.with_(event_seq=seq), event)

    async def _missing(self, status: SyncStatus) -> Outcome:
        self.last_attempted = None  # whatever comes back is a change
        if status.phase != st.MISSING:
            msg = f"directory {self.config.directory} is missing: nothing applied, nothing pruned"
            await self._record(
                status.with_(phase=st.MISSING, in_sync=False, message=msg),
                "Warning",
                "DirectoryMissing",
                None,
                msg,
            )
            return Outcome(Result.MISSING, message=msg)
        return Outcome(Result.MISSING)

    async def _invalid(self, status: SyncStatus, snap: Snapshot, err: ValidationError) -> Outcome:
        now = self._clock.monotonic()
        wall = self._clock.wall()
        rev = snap.revision
        self.last_attempted = rev
        self.backoff = self.backoff.failed(rev, now)
        errors = problems_by_file(err, snap.root)
        count = sum(len(v) for v in errors.values())
        msg = (
            f"revision {st.short_revision(rev)} is invalid ({count} problems in "
            f"{len(errors)} files): nothing applied, last good revision "
            f"{st.short_revision(status.last_applied_revision)} kept"
        )
        first = [line for lines in errors.values() for line in lines][:5]
        await self._record(
            status.with_(
                phase=st.INVALID,
                in_sync=False,
                errors=errors,
                last_attempted_revision=rev,
                last_attempted_at=wall,
                failures=self.backoff.failures,
                next_retry_at=wall + (self.backoff.not_before - now),
                message=msg,
            ),
            "Warning",
            "Invalid",
            rev,
            msg + "\n" + "\n".join(first),
        )
        log.warning("sync %s: %s", self.config.name, msg)
        every = tuple(line for lines in errors.values() for line in lines)
        return Outcome(Result.INVALID, rev, self.backoff.not_before - now, msg, every)

    async def _refused(self, status: SyncStatus, plan: SyncPlan, rev: str) -> Outcome:
        assert plan.refused is not None
        wall = self._clock.wall()
        pending = _names(plan.pending_prune)
        if status.phase == st.REFUSED and status.last_attempted_revision == rev:
            return Outcome(Result.REFUSED, rev)  # already said
        await self._record(
            status.with_(
                phase=st.REFUSED,
                in_sync=False,
                pending_prunes=pending,
                errors={},
                last_attempted_revision=rev,
                last_attempted_at=wall,
                message=plan.refused,
            ),
            "Warning",
            "Refused",
            rev,
            plan.refused,
        )
        log.warning("sync %s: %s", self.config.name, plan.refused)
        return Outcome(Result.REFUSED, rev, message=plan.refused)

    async def _store_failed(self, exc: StoreError) -> Outcome:
        now = self._clock.monotonic()
        rev = self.last_attempted or "store"
        self.backoff = self.backoff.failed(rev, now)
        msg = f"store error: {exc}"
        if "too many operations" in str(exc):
            msg += (
                " (the set is applied as one transaction; raise the store's limit, "
                "e.g. etcd's --max-txn-ops, above the number of objects + 4)"
            )
        log.warning(
            "sync %s: %s (retrying in %.1fs)", self.config.name, msg, self.backoff.not_before - now
        )
        try:
            state = await self._applier.read()
            status = self._base_status(state)
            await self._record(
                status.with_(
                    phase=st.ERROR, in_sync=False, message=msg, failures=self.backoff.failures
                ),
                "Warning",
                "StoreError",
                self.last_attempted,
                msg,
            )
        except StoreError:
            pass  # the store is down: the status will be written when it is back
        return Outcome(
            Result.ERROR,
            self.last_attempted,
            self.backoff.not_before - now,
            msg,
            unreachable=isinstance(exc, StoreUnavailable),
        )
