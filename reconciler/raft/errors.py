"""Errors of the consensus core and of its storage protocol."""

from __future__ import annotations

from reconciler.base.errors import HactlError, StoreUnavailable


class ProposalDropped(StoreUnavailable):
    """The proposal (or read, or conf change) was not accepted: no leader, transfer, or rule."""


class LogCompacted(HactlError):
    """The requested index is older than the storage's first index (it is in a snapshot)."""


class LogUnavailable(HactlError):
    """The requested index is newer than the storage's last index."""


class SnapshotOutOfDate(HactlError):
    """A snapshot older than the current one was offered to the storage."""


class SnapshotTemporarilyUnavailable(HactlError):
    """The storage cannot produce a snapshot right now; the leader retries later."""
