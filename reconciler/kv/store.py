"""The key/value state machine with etcd's semantics (multi-version, revisions, txn, leases).

One :class:`KVStore` per member. It is applied, in log order, with the commands the
Raft log committed (:meth:`KVStore.apply`) and read directly (:meth:`KVStore.range`).
Every member that applied the same commands holds the same state, byte for byte.

Semantics follow etcd 3.4's ``mvcc`` and ``etcdserver/apply.go``:

* the store revision starts at 1 and grows by one for every command that changes
  something (a txn with many writes is one revision; its writes get sub-revisions);
* every key carries ``create_revision``, ``mod_revision`` and ``version`` (1 on
  creation, +1 per put, reset by a delete);
* reads at an old revision see the store as it was, until that revision is compacted;
* a txn's compares run against the state before it; its ops see each other's writes.

Atomicity for readers while a large command is applied in steps (:meth:`KVStore.apply_steps`
yields every :data:`APPLY_CHUNK` keys, so the caller can serve other work between steps):
a command's writes are stored under the next revision, and every read sees the store at
the *committed* revision, which moves only when the command is complete. A reader between
two steps of a DeleteRange of 60,000 keys therefore sees all of them or none; the
lease-to-key bookkeeping and the watch events are published at the same moment.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from dataclasses import dataclass, field, replace

from reconciler.kv import errors
from reconciler.kv.types import (
    Applied,
    Command,
    CompactionRequest,
    CompactionResponse,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    EventType,
    KeyValue,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseRevokeRequest,
    LeaseRevokeResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    Response,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
)

MAX_TXN_OPS = 128  # etcd's --max-txn-ops default
MAX_LEASE_TTL = 9_000_000_000  # etcd's lease.MaxLeaseTTL
MIN_LEASE_TTL = 2  # etcd with --heartbeat-interval=100ms --election-timeout=1000ms
ENTRY_OVERHEAD = 64  # bytes counted per stored revision on top of key and value
APPLY_CHUNK = 1000  # keys written (or scanned) between two steps of a command's apply

# One stored revision of a key: (main revision, sub revision, value or None for a tombstone).
_Rev = tuple[int, int, KeyValue | None]
_Op = RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest
_OpResponse = RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse


@dataclass(slots=True)
class LeaseRecord:
    """The replicated part of a lease: its granted TTL and the keys attached to it."""

    id: int
    ttl: int
    keys: set[bytes] = field(default_factory=set)


def _in_range(key: bytes, start: bytes, end: bytes) -> bool:
    if not end:
        return key == start
    if end == b"\x00":
        return key >= start
    return start <= key < end


class KVStore:
    """The multi-version key/value store. Mutable; apply commands in log order only."""

    def __init__(self) -> None:
        self.revision = 1
        self.compact_revision = 0
        self._keys: list[bytes] = []  # sorted; every key with stored revisions
        self._history: dict[bytes, list[_Rev]] = {}
        self._events: list[Event] = []
        self._event_revs: list[int] = []
        self.leases: dict[int, LeaseRecord] = {}
        self.size_bytes = 0
        # write buffer of the command being applied (published when it completes)
        self._sub = 0
        self._pending: list[Event] = []
        self._lease_ops: list[tuple[int, bytes, bool]] = []  # (lease, key, attach?)
        self._revoked: list[int] = []

    # --- reads ----------------------------------------------------------------------------

    def get(self, key: bytes, revision: int = 0) -> KeyValue | None:
        """The value of ``key`` at ``revision`` (0: the committed revision), or None."""
        hist = self._history.get(key)
        if not hist:
            return None
        if revision <= 0:
            last = hist[-1]
            if last[0] <= self.revision:
                return last[2]
            revision = self.revision  # a command being applied wrote it: not visible yet
        i = bisect.bisect_right(hist, revision, key=lambda r: r[0])
        return hist[i - 1][2] if i > 0 else None

    def _latest(self, key: bytes) -> KeyValue | None:
        """The value including the writes of the command being applied (for that command)."""
        hist = self._history.get(key)
        return hist[-1][2] if hist else None

    def _key_span(self, start: bytes, end: bytes) -> list[bytes]:
        lo = bisect.bisect_left(self._keys, start)
        hi = len(self._keys) if end == b"\x00" else bisect.bisect_left(self._keys, end)
        return self._keys[lo:hi]

    def _scan(
        self, start: bytes, end: bytes, revision: int, latest: bool = False
    ) -> list[KeyValue]:
        look = self._latest if latest else (lambda k: self.get(k, revision))
        if not end:
            kv = look(start)
            return [kv] if kv is not None else []
        out = []
        for key in self._key_span(start, end):
            kv = look(key)
            if kv is not None:
                out.append(kv)
        return out

    def _check_revision(self, revision: int) -> None:
        if revision > self.revision:
            raise errors.FutureRevision()
        if 0 < revision < self.compact_revision:
            raise errors.CompactedRevision()

    def range(self, req: RangeRequest) -> RangeResponse:
        """Serve a Range as etcd does (filters, sort, limit, count, keys_only)."""
        return self._range(req, latest=False)

    def _range(self, req: RangeRequest, latest: bool) -> RangeResponse:
        if not req.key:
            raise errors.EmptyKey()
        self._check_revision(req.revision)
        kvs = self._scan(req.key, req.range_end, req.revision, latest and req.revision <= 0)
        count = len(kvs)
        if req.count_only:
            return RangeResponse(revision=self.revision, kvs=(), more=False, count=count)
        if req.min_mod_revision:
            kvs = [kv for kv in kvs if kv.mod_revision >= req.min_mod_revision]
        if req.max_mod_revision:
            kvs = [kv for kv in kvs if kv.mod_revision <= req.max_mod_revision]
        if req.min_create_revision:
            kvs = [kv for kv in kvs if kv.create_revision >= req.min_create_revision]
        if req.max_create_revision:
            kvs = [kv for kv in kvs if kv.create_revision <= req.max_create_revision]
        order = req.sort_order
        if req.sort_target != SortTarget.KEY and order == SortOrder.NONE:
            order = SortOrder.ASCEND
        if order != SortOrder.NONE and not (
            req.sort_target == SortTarget.KEY and order == SortOrder.ASCEND
        ):
            kvs = sorted(kvs, key=_sort_key(req.sort_target), reverse=order == SortOrder.DESCEND)
        more = False
        if req.limit > 0 and len(kvs) > req.limit:
            kvs = kvs[: req.limit]
            more = True
        if req.keys_only:
            kvs = [replace(kv, value=b"") for kv in kvs]
        return RangeResponse(revision=self.revision, kvs=tuple(kvs), more=more, count=count)

    def events_since(self, revision: int) -> list[Event]:
        """Every event with revision >= ``revision``; raises when compacted away."""
        if 0 < revision < self.compact_revision:
            raise errors.CompactedRevision()
        i = bisect.bisect_left(self._event_revs, revision)
        return self._events[i:]

    def keys_of_lease(self, lease_id: int) -> list[bytes]:
        rec = self.leases.get(lease_id)
        return sorted(rec.keys) if rec else []

    # --- writes ---------------------------------------------------------------------------

    def apply(self, cmd: Command) -> Applied:
        """Apply one committed command. Errors are values: nothing changed when one is set."""
        steps = self.apply_steps(cmd)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                result: Applied = done.value
                return result

    def apply_steps(self, cmd: Command) -> Generator[None, None, Applied]:
        """Apply ``cmd`` in steps: yields every :data:`APPLY_CHUNK` keys, returns the result.

        Between two steps the store may be read (it shows the committed revision, without
        any of this command's writes) and a read-only txn may be applied, but no other
        command: commands are applied one at a time, in log order.
        """
        outer = (self._sub, self._pending, self._lease_ops, self._revoked)
        self._sub, self._pending, self._lease_ops, self._revoked = 0, [], [], []
        try:
            try:
                resp = yield from self._dispatch(cmd)
            except errors.KvError as exc:
                assert not self._pending, "a failing command must not have written"
                return Applied(response=None, error=exc)
            events = tuple(self._pending)
            self._publish()
            if events:
                self._events.extend(events)
                self._event_revs.extend(e.kv.mod_revision for e in events)
                self.revision += 1
                resp = _with_revision(resp, self.revision)
            return Applied(response=resp, events=events)
        finally:
            self._sub, self._pending, self._lease_ops, self._revoked = outer

    def _publish(self) -> None:
        """The command's lease bookkeeping takes effect (with its revision)."""
        for lease, key, attach in self._lease_ops:
            rec = self.leases.get(lease)
            if rec is not None:
                if attach:
                    rec.keys.add(key)
                else:
                    rec.keys.discard(key)
        for lease in self._revoked:
            self.leases.pop(lease, None)

    def _dispatch(self, cmd: Command) -> Generator[None, None, Response]:
        if isinstance(cmd, PutRequest):
            self._check_put(cmd)
            return self._put(cmd)
        if isinstance(cmd, DeleteRangeRequest):
            if not cmd.key:
                raise errors.EmptyKey()
            return (yield from self._delete(cmd))
        if isinstance(cmd, TxnRequest):
            self._check_txn(cmd)
            return (yield from self._txn(cmd, self._txn_path(cmd)))
        if isinstance(cmd, RangeRequest):
            return self.range(cmd)
        if isinstance(cmd, CompactionRequest):
            return (yield from self._compact(cmd.revision))
        if isinstance(cmd, LeaseGrantRequest):
            return self._grant(cmd)
        if isinstance(cmd, LeaseRevokeRequest):
            return (yield from self._revoke(cmd.id))
        raise TypeError(f"not a command: {cmd!r}")

    def _next_rev(self) -> int:
        return self.revision + 1

    def _record(self, key: bytes, kv: KeyValue | None, ev: Event) -> None:
        hist = self._history.get(key)
        if hist is None:
            hist = self._history[key] = []
            bisect.insort(self._keys, key)
        hist.append((self._next_rev(), self._sub, kv))
        self._sub += 1
        self._pending.append(ev)
        self.size_bytes += len(key) + (len(kv.value) if kv else 0) + ENTRY_OVERHEAD

    def _check_put(self, req: PutRequest) -> None:
        if not req.key:
            raise errors.EmptyKey()
        if req.ignore_value and req.value:
            raise errors.ValueProvided()
        if req.ignore_lease and req.lease:
            raise errors.LeaseProvided()
        if req.lease and req.lease not in self.leases:
            raise errors.LeaseNotFound()
        if (req.ignore_value or req.ignore_lease) and self.get(req.key) is None:
            raise errors.KeyNotFound()

    def _put(self, req: PutRequest) -> PutResponse:
        prev = self._latest(req.key)
        rev = self._next_rev()
        value = prev.value if (req.ignore_value and prev) else req.value
        lease = prev.lease if (req.ignore_lease and prev) else req.lease
        kv = KeyValue(
            key=req.key,
            create_revision=prev.create_revision if prev else rev,
            mod_revision=rev,
            version=(prev.version + 1) if prev else 1,
            value=value,
            lease=lease,
        )
        if prev and prev.lease and prev.lease != lease:
            self._lease_ops.append((prev.lease, req.key, False))
        if lease:
            self._lease_ops.append((lease, req.key, True))
        self._record(req.key, kv, Event(EventType.PUT, kv, prev))
        return PutResponse(revision=rev, prev_kv=prev if req.prev_kv else None)

    def _delete(self, req: DeleteRangeRequest) -> Generator[None, None, DeleteRangeResponse]:
        if req.range_end:
            victims = []
            for n, key in enumerate(self._key_span(req.key, req.range_end), 1):
                kv = self._latest(key)
                if kv is not None:
                    victims.append(kv)
                if n % APPLY_CHUNK == 0:
                    yield
        else:
            victims = self._scan(req.key, b"", 0, latest=True)
        rev = self._next_rev()
        for n, kv in enumerate(victims, 1):
            if kv.lease:
                self._lease_ops.append((kv.lease, kv.key, False))
            tomb = KeyValue(key=kv.key, mod_revision=rev)
            self._record(kv.key, None, Event(EventType.DELETE, tomb, kv))
            if n % APPLY_CHUNK == 0:
                yield
        return DeleteRangeResponse(
            revision=rev if victims else self.revision,
            deleted=len(victims),
            prev_kvs=tuple(victims) if req.prev_kv else (),
        )

    # --- txn ------------------------------------------------------------------------------

    def _compare(self, c: Compare) -> bool:
        kvs = self._scan(c.key, c.range_end, 0)
        if not kvs:
            if c.target == CompareTarget.VALUE:
                return False
            kvs = [KeyValue(key=c.key)]
        return all(_compare_kv(c, kv) for kv in kvs)

    def _branch(self, req: TxnRequest) -> tuple[bool, tuple[_Op, ...]]:
        ok = all(self._compare(c) for c in req.compare)
        return ok, req.success if ok else req.failure

    def _check_txn(self, req: TxnRequest) -> None:
        """Validate the whole txn against the state before it, as etcd's checkTxn does."""
        for ops in (req.success, req.failure):
            if len(req.compare) > MAX_TXN_OPS or len(ops) > MAX_TXN_OPS:
                raise errors.TooManyOps()
        for ops in (req.success, req.failure):
            _check_duplicates(ops)
        _, ops = self._branch(req)
        for op in ops:
            if isinstance(op, RangeRequest):
                if not op.key:
                    raise errors.EmptyKey()
                self._check_revision(op.revision)
            elif isinstance(op, PutRequest):
                self._check_put(op)
            elif isinstance(op, DeleteRangeRequest):
                if not op.key:
                    raise errors.EmptyKey()
            else:
                self._check_txn(op)

    def _txn_path(self, req: TxnRequest) -> list[bool]:
        """Every compare of the txn and its nested txns, decided before any op runs (etcd)."""
        ok, ops = self._branch(req)
        path = [ok]
        for op in ops:
            if isinstance(op, TxnRequest):
                path.extend(self._txn_path(op))
        return path

    def _txn(self, req: TxnRequest, path: list[bool]) -> Generator[None, None, TxnResponse]:
        ok = path.pop(0)
        ops = req.success if ok else req.failure
        out: list[_OpResponse] = []
        for op in ops:
            if isinstance(op, RangeRequest):
                # the txn's ops see each other's writes (and only this txn's pending ones)
                r = self._range(op, latest=bool(self._pending))
                out.append(replace(r, revision=self._next_rev() if self._pending else r.revision))
            elif isinstance(op, PutRequest):
                out.append(self._put(op))
            elif isinstance(op, DeleteRangeRequest):
                out.append((yield from self._delete(op)))
            else:
                out.append((yield from self._txn(op, path)))
        return TxnResponse(revision=self.revision, succeeded=ok, responses=tuple(out))

    # --- compaction -----------------------------------------------------------------------

    def _compact(self, revision: int) -> Generator[None, None, CompactionResponse]:
        """Drop revisions older than ``revision``, in steps.

        Readers between steps are served as after the compaction: ``compact_revision`` is
        set first, and what is dropped is only what a read at or after it cannot see.
        """
        if revision <= self.compact_revision:
            raise errors.CompactedRevision()
        if revision > self.revision:
            raise errors.FutureRevision()
        self.compact_revision = revision
        dead = []
        for n, key in enumerate(list(self._keys), 1):
            if n % APPLY_CHUNK == 0:
                yield
            hist = self._history[key]
            i = bisect.bisect_right(hist, revision, key=lambda r: r[0])
            keep_from = i - 1 if i > 0 and hist[i - 1][2] is not None else i
            if keep_from > 0:
                for _, _, kv in hist[:keep_from]:
                    self.size_bytes -= len(key) + (len(kv.value) if kv else 0) + ENTRY_OVERHEAD
                del hist[:keep_from]
            if not hist:
                dead.append(key)
        for key in dead:
            del self._history[key]
        if dead:
            gone = set(dead)
            self._keys = [k for k in self._keys if k not in gone]
        j = bisect.bisect_right(self._event_revs, revision)
        del self._events[:j]
        del self._event_revs[:j]
        return CompactionResponse(revision=self.revision)

    # --- leases ---------------------------------------------------------------------------

    def _grant(self, req: LeaseGrantRequest) -> LeaseGrantResponse:
        if req.id in self.leases:
            raise errors.LeaseExists()
        if req.ttl > MAX_LEASE_TTL:
            raise errors.LeaseTTLTooLarge()
        if req.id <= 0:
            raise ValueError("lease ids are chosen (non-zero, positive) before proposing")
        ttl = max(req.ttl, MIN_LEASE_TTL)
        self.leases[req.id] = LeaseRecord(id=req.id, ttl=ttl)
        return LeaseGrantResponse(revision=self.revision, id=req.id, ttl=ttl)

    def _revoke(self, lease_id: int) -> Generator[None, None, LeaseRevokeResponse]:
        rec = self.leases.get(lease_id)
        if rec is None:
            raise errors.LeaseNotFound()
        rev = self._next_rev()
        for n, key in enumerate(sorted(rec.keys), 1):
            kv = self._latest(key)
            if kv is None:
                continue
            tomb = KeyValue(key=key, mod_revision=rev)
            self._record(key, None, Event(EventType.DELETE, tomb, kv))
            if n % APPLY_CHUNK == 0:
                yield
        self._revoked.append(lease_id)
        return LeaseRevokeResponse(revision=self.revision)

    # --- snapshots (see reconciler.kv.snapshot) -------------------------------------------

    def history_items(self) -> list[tuple[bytes, list[_Rev]]]:
        out: list[tuple[bytes, list[_Rev]]] = []
        for steps in self.history_steps():
            out.extend(steps)
        return out

    def history_steps(self) -> Generator[list[tuple[bytes, list[_Rev]]], None, None]:
        """The committed history in pieces of :data:`APPLY_CHUNK` keys (for snapshots).

        The pieces form one consistent copy only if no command is applied between them
        (the member takes its snapshots between two commands, on the path that applies).
        """
        keys = list(self._keys)
        rev = self.revision
        for i in range(0, len(keys), APPLY_CHUNK):
            piece = []
            for k in keys[i : i + APPLY_CHUNK]:
                hist = self._history.get(k)
                if not hist:
                    continue
                if hist[-1][0] > rev:  # writes of a command still being applied
                    hist = [r for r in hist if r[0] <= rev]
                    if not hist:
                        continue
                piece.append((k, list(hist)))
            yield piece

    def load(
        self,
        revision: int,
        compact_revision: int,
        history: list[tuple[bytes, list[_Rev]]],
        leases: list[LeaseRecord],
    ) -> None:
        """Replace the whole state (from a snapshot); rebuilds the event log."""
        self.__init__()  # type: ignore[misc]
        self.revision = revision
        self.compact_revision = compact_revision
        events: list[tuple[int, int, Event]] = []
        for key, hist in history:
            self._keys.append(key)
            self._history[key] = hist
            prev: KeyValue | None = None
            for main, sub, kv in hist:
                self.size_bytes += len(key) + (len(kv.value) if kv else 0) + ENTRY_OVERHEAD
                if main > compact_revision:
                    if kv is None:
                        ev = Event(EventType.DELETE, KeyValue(key=key, mod_revision=main), prev)
                    else:
                        ev = Event(EventType.PUT, kv, prev)
                    events.append((main, sub, ev))
                prev = kv
        self._keys.sort()
        events.sort(key=lambda t: (t[0], t[1]))
        self._events = [e for _, _, e in events]
        self._event_revs = [m for m, _, _ in events]
        for rec in leases:
            self.leases[rec.id] = rec


def _sort_key(target: SortTarget):  # type: ignore[no-untyped-def]
    if target == SortTarget.KEY:
        return lambda kv: kv.key
    if target == SortTarget.VERSION:
        return lambda kv: kv.version
    if target == SortTarget.CREATE:
        return lambda kv: kv.create_revision
    if target == SortTarget.MOD:
        return lambda kv: kv.mod_revision
    return lambda kv: kv.value


def _compare_kv(c: Compare, kv: KeyValue) -> bool:
    left: int | bytes
    right: int | bytes
    if c.target == CompareTarget.VALUE:
        left, right = kv.value, c.value
    elif c.target == CompareTarget.VERSION:
        left, right = kv.version, c.version
    elif c.target == CompareTarget.CREATE:
        left, right = kv.create_revision, c.create_revision
    elif c.target == CompareTarget.MOD:
        left, right = kv.mod_revision, c.mod_revision
    else:
        left, right = kv.lease, c.lease
    if c.result == CompareResult.EQUAL:
        return left == right
    if c.result == CompareResult.NOT_EQUAL:
        return left != right
    if c.result == CompareResult.GREATER:
        return left > right  # type: ignore[operator]
    return left < right  # type: ignore[operator]


def _check_duplicates(ops: tuple[_Op, ...]) -> None:
    """etcd refuses a txn branch that writes one key twice (puts and deletes overlapping)."""
    puts: set[bytes] = set()
    dels: list[tuple[bytes, bytes]] = []
    for op in ops:
        if isinstance(op, PutRequest):
            if op.key in puts:
                raise errors.DuplicateKey()
            puts.add(op.key)
        elif isinstance(op, DeleteRangeRequest):
            dels.append((op.key, op.range_end))
    for key in sorted(puts):
        for start, end in dels:
            if _in_range(key, start, end):
                raise errors.DuplicateKey()


def _with_revision(resp: Response, revision: int) -> Response:
    if isinstance(resp, PutResponse | DeleteRangeResponse | TxnResponse | LeaseRevokeResponse):
        return replace(resp, revision=revision)
    return resp
