"""A linearizability checker for key/value histories (Wing & Gong's search with Lowe's
memoization, as Porcupine does it), partitioned per key.

A history is a list of ``Op``: each has a call time and a return time (``ret=None``: the
client never learned the outcome, e.g. a timed-out write, which may or may not have
happened; it may take effect at any point after its call). Supported operations over a
map of keys to values (``None`` = absent):

* ``put(key, value)`` -> output ignored
* ``get(key)`` -> the value, or None if absent
* ``cas(key, expected, value)`` -> True if the value was ``expected`` (None: the key was
  absent) and is now ``value``; False if it was left unchanged (an etcd Txn
  ``compare value == expected then put else nothing``)
* ``delete(key)`` -> True if the key existed (None: not recorded)

Times are any comparable numbers (event counters, ``time.monotonic_ns()``); a call at the
same time as another op's return is treated as overlapping it (the lenient reading).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: object = _Unknown()  # the output of an op whose outcome the client never saw

KINDS = ("put", "get", "cas", "delete")


@dataclass(frozen=True, slots=True)
class Op:
    client: Hashable
    kind: str
    key: str
    call: float
    ret: float | None  # None: no answer (a write that may or may not have happened)
    value: Hashable = None  # put/cas: the new value
    expected: Hashable = None  # cas: the value compared against (None: key absent)
    output: object = UNKNOWN

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown op kind {self.kind!r} (expected one of {KINDS})")
        if self.ret is not None and self.ret < self.call:
            raise ValueError(f"op returns before its call: {self}")
        if self.kind == "get" and (self.ret is None or self.output is UNKNOWN):
            raise ValueError("a get without an answer tells nothing: leave it out")

    def describe(self) -> str:
        args = {
            "put": f"{self.key}={self.value!r}",
            "get": f"{self.key}",
            "cas": f"{self.key}: {self.expected!r}->{self.value!r}",
            "delete": f"{self.key}",
        }[self.kind]
        out = "?" if self.output is UNKNOWN else repr(self.output)
        ret = "never" if self.ret is None else f"{self.ret}"
        return f"client {self.client}: {self.kind}({args}) -> {out}  [{self.call}, {ret}]"


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    key: str | None = None  # the first key whose history is not linearizable
    detail: str = ""
    explored: int = 0
    exhausted_budget: bool = False  # gave up: neither proven nor refuted

    def __bool__(self) -> bool:
        return self.ok


def step(state: Hashable, op: Op) -> tuple[bool, Hashable]:
    """The sequential specification of one key: (is the output possible, the next state)."""
    out = op.output
    if op.kind == "put":
        return True, op.value
    if op.kind == "get":
        return out == state, state
    if op.kind == "cas":
        succeeded = state == op.expected
        new = op.value if succeeded else state
        return (out is UNKNOWN or out == succeeded), new
    existed = state is not None
    return (out is UNKNOWN or out is None or out == existed), None


class _Node:
    __slots__ = ("id", "is_call", "match", "next", "prev")

    def __init__(self, id_: int, is_call: bool) -> None:
        self.id = id_
        self.is_call = is_call
        self.match: _Node | None = None
        self.prev: _Node | None = None
        self.next: _Node | None = None


def _build(ops: list[Op]) -> _Node:
    events: list[tuple[float, int, int]] = []
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        events.append((math.inf if op.ret is None else op.ret, 1, i))
    events.sort()
    head = _Node(-1, False)
    calls: dict[int, _Node] = {}
    prev = head
    for _, kind, i in events:
        n = _Node(i, kind == 0)
        if kind == 0:
            calls[i] = n
        else:
            calls[i].match = n
        prev.next = n
        n.prev = prev
        prev = n
    return head


def _lift(e: _Node) -> None:
    assert e.prev is not None and e.next is not None and e.match is not None
    e.prev.next = e.next
    e.next.prev = e.prev
    m = e.match
    assert m.prev is not None
    m.prev.next = m.next
    if m.next is not None:
        m.next.prev = m.prev


def _unlift(e: _Node) -> None:
    assert e.prev is not None and e.next is not None and e.match is not None
    m = e.match
    assert m.prev is not None
    m.prev.next = m
    if m.next is not None:
        m.next.prev = m
    e.prev.next = e
    e.next.prev = e


def check_key(ops: list[Op], initial: Hashable = None, budget: int = 2_000_000) -> CheckResult:
    """Check the history of one key. ``budget`` bounds the states explored."""
    key = ops[0].key if ops else None
    head = _build(ops)
    state = initial
    linearized = 0
    cache: set[tuple[int, Hashable]] = set()
    calls: list[tuple[_Node, Hashable]] = []
    entry = head.next
    explored = 0
    deepest: list[int] = []
    while head.next is not None:
        explored += 1
        if explored > budget:
            return CheckResult(
                ok=False,
                key=key,
                explored=explored,
                exhausted_budget=True,
                detail=f"gave up after {budget} states on key {key!r}",
            )
        assert entry is not None
        if entry.is_call:
            ok, new_state = step(state, ops[entry.id])
            if ok:
                new_lin = linearized | (1 << entry.id)
                if (new_lin, new_state) not in cache:
                    cache.add((new_lin, new_state))
                    calls.append((entry, state))
                    state = new_state
                    linearized = new_lin
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if len(calls) > len(deepest):
                deepest = [c.id for c, _ in calls]
            if not calls:
                return CheckResult(
                    ok=False, key=key, explored=explored, detail=_explain(ops, key, deepest)
                )
            top, state = calls.pop()
            linearized &= ~(1 << top.id)
            _unlift(top)
            entry = top.next
    return CheckResult(ok=True, explored=explored)


def _explain(ops: list[Op], key: str | None, deepest: list[int]) -> str:
    lines = [f"key {key!r}: not linearizable. Longest linearizable prefix found:"]
    lines += [f"  {ops[i].describe()}" for i in deepest]
    done = set(deepest)
    lines.append("Operations that could not be placed after it:")
    rest = sorted((i for i in range(len(ops)) if i not in done), key=lambda i: ops[i].call)
    lines += [f"  {ops[i].describe()}" for i in rest[:30]]
    return "\n".join(lines)


def check(
    history: Iterable[Op],
    initial: Mapping[str, Hashable] | None = None,
    budget: int = 2_000_000,
) -> CheckResult:
    """Check a whole history; keys are independent, so each is checked on its own."""
    by_key: dict[str, list[Op]] = {}
    for op in history:
        by_key.setdefault(op.key, []).append(op)
    explored = 0
    for key in sorted(by_key):
        res = check_key(by_key[key], (initial or {}).get(key), budget)
        explored += res.explored
        if not res.ok:
            return res
    return CheckResult(ok=True, explored=explored)


@dataclass(frozen=True, slots=True)
class Call:
    """An operation invoked but not yet finished (see ``HistoryRecorder``)."""

    seq: int
    client: Hashable
    kind: str
    key: str
    call: float
    value: Hashable = None
    expected: Hashable = None


class HistoryRecorder:
    """Records what real clients did, for ``check``.

    ::

        rec = HistoryRecorder()
        c = rec.invoke("client-3", "cas", "k", value="v2", expected="v1")
        try:
            ok = await store.cas(...)
        except TimeoutError:
            rec.unknown(c)        # a write that may or may not have happened
        else:
            rec.ok(c, ok)
        assert rec.check().ok

    ``now`` defaults to ``time.monotonic_ns`` (one clock for all clients of a process).
    """

    def __init__(self, now: Callable[[], float] | None = None) -> None:
        self._now: Callable[[], float] = now or time.monotonic_ns
        self._seq = 0
        self._open: dict[int, Call] = {}
        self.ops: list[Op] = []

    def invoke(
        self,
        client: Hashable,
        kind: str,
        key: str,
        value: Hashable = None,
        expected: Hashable = None,
    ) -> Call:
        if kind not in KINDS:
            raise ValueError(f"unknown op kind {kind!r} (expected one of {KINDS})")
        self._seq += 1
        c = Call(self._seq, client, kind, key, self._now(), value, expected)
        self._open[c.seq] = c
        return c

    def _close(self, c: Call) -> Call:
        if self._open.pop(c.seq, None) is None:
            raise ValueError(f"operation {c} was already finished")
        return c

    def ok(self, c: Call, output: object = None) -> None:
        """The client got an answer: ``output`` as ``Op`` documents it per kind."""
        self._close(c)
        self.ops.append(
            Op(
                client=c.client,
                kind=c.kind,
                key=c.key,
                call=c.call,
                ret=self._now(),
                value=c.value,
                expected=c.expected,
                output=output,
            )
        )

    def unknown(self, c: Call) -> None:
        """No answer (timeout, lost connection): a write may have happened; a read is dropped."""
        self._close(c)
        if c.kind == "get":
            return
        self.ops.append(
            Op(
                client=c.client,
                kind=c.kind,
                key=c.key,
                call=c.call,
                ret=None,
                value=c.value,
                expected=c.expected,
            )
        )

    def failed(self, c: Call) -> None:
        """The operation certainly did not happen (refused before it reached the log)."""
        self._close(c)

    def history(self) -> list[Op]:
        """Finished ops, plus still-open writes as "may have happened"."""
        pending = [
            Op(
                client=c.client,
                kind=c.kind,
                key=c.key,
                call=c.call,
                ret=None,
                value=c.value,
                expected=c.expected,
            )
            for c in self._open.values()
            if c.kind != "get"
        ]
        return self.ops + pending

    def check(self, initial: Mapping[str, Hashable] | None = None) -> CheckResult:
        return check(self.history(), initial)
