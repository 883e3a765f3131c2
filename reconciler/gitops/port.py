"""The few store operations GitOps needs, as a Protocol (etcd v3 semantics).

:mod:`reconciler.gitops.storeport` adapts the shared statestore port to it; tests may
hand in anything that keeps etcd's meaning: revisions are the store's global
revisions, a transaction is all-or-nothing, a compare is an equality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``target`` of ``key`` must equal ``expected`` (a create/mod revision 0 = key absent)."""

    key: str
    target: Literal["mod", "create"]
    expected: int


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    key: str


Op = Put | Delete


class GitopsStore(Protocol):
    async def get(self, key: str) -> KeyValue | None: ...

    async def range_prefix(self, prefix: str) -> Sequence[KeyValue]: ...

    async def txn(self, compares: Sequence[Compare], ops: Sequence[Op]) -> bool:
        """Apply every op if every compare holds; return whether it did."""
        ...
