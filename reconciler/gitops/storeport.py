"""Adapt the shared store port (an etcd v3 client: ``get``, ``range``, ``txn``) to GitOps'.

The store port's compare/put/delete value types are passed in (``ops``), so this
adapter works with whichever port object the caller holds (the statestore port,
or the daemon's ``Kv``) without importing from a layer above this one::

    from reconciler.statestore import etcd as kvport
    store = PortStore(kv, PortOps(kvport.Cmp, kvport.Put, kvport.Delete))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.gitops.port import Compare, Delete, KeyValue, Op, Put


class _Entry(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def value(self) -> bytes: ...
    @property
    def mod_revision(self) -> int: ...
    @property
    def create_revision(self) -> int: ...


class PortLike(Protocol):
    async def get(self, key: str) -> Any: ...
    async def range(self, prefix: str) -> Any: ...
    async def txn(self, compares: Sequence[Any], success: Sequence[Any]) -> Any: ...


@dataclass(frozen=True, slots=True)
class PortOps:
    """Constructors of the port's own values: ``cmp(key, target, op, value)``,
    ``put(key, value)``, ``delete(key)``."""

    cmp: Callable[..., Any]
    put: Callable[..., Any]
    delete: Callable[..., Any]


def _kv(entry: _Entry) -> KeyValue:
    return KeyValue(
        key=entry.key if isinstance(entry.key, str) else bytes(entry.key).decode(),
        value=bytes(entry.value),
        mod_revision=int(entry.mod_revision),
        create_revision=int(entry.create_revision),
    )


class PortStore:
    """:class:`~reconciler.gitops.port.GitopsStore` over the shared store port."""

    def __init__(self, port: PortLike, ops: PortOps | None = None) -> None:
        """``ops`` may be left out by readers (``hactl get syncs``): then ``txn`` refuses."""
        self._port = port
        self._ops = ops

    async def get(self, key: str) -> KeyValue | None:
        entry = await self._port.get(key)
        return None if entry is None else _kv(entry)

    async def range_prefix(self, prefix: str) -> Sequence[KeyValue]:
        result = await self._port.range(prefix)
        entries = result[0] if isinstance(result, tuple) else result
        return [_kv(e) for e in entries]

    async def txn(self, compares: Sequence[Compare], ops: Sequence[Op]) -> bool:
        if self._ops is None:
            raise TypeError("this PortStore was made for reading only (no PortOps given)")
        cmps = [self._ops.cmp(c.key, c.target, "==", c.expected) for c in compares]
        success: list[Any] = []
        for op in ops:
            if isinstance(op, Put):
                success.append(self._ops.put(op.key, op.value))
            elif isinstance(op, Delete):
                success.append(self._ops.delete(op.key))
        result = await self._port.txn(cmps, success)
        return bool(result[0] if isinstance(result, tuple) else result)
