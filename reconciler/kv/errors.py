"""Errors of the state machine, worded and coded exactly as etcd returns them.

``code`` is the name of the gRPC status code etcd uses (``grpc.StatusCode[code]``);
``str(error)`` is etcd's message, byte for byte, so clients that match on it work.
"""

from __future__ import annotations

from reconciler.base.errors import StoreError


class KvError(StoreError):
    code = "UNKNOWN"
    message = "etcdserver: unknown error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)


class EmptyKey(KvError):
    code = "INVALID_ARGUMENT"
    message = "etcdserver: key is not provided"


class KeyNotFound(KvError):
    code = "INVALID_ARGUMENT"
    message = "etcdserver: key not found"


class ValueProvided(KvError):
    code = "INVALID_ARGUMENT"
    message = "etcdserver: value is provided"


class LeaseProvided(KvError):
    code = "INVALID_ARGUMENT"
    message = "etcdserver: lease is provided"


class TooManyOps(KvError):
    code = "INVALID_ARGUMENT"
    message = "etcdserver: too many operations in txn request"


class DuplicateKey(KvError):
    code = "INVALID_ARGUMENT"
    message = "etcdserver: duplicate key given in txn request"


class CompactedRevision(KvError):
    code = "OUT_OF_RANGE"
    message = "etcdserver: mvcc: required revision has been compacted"


class FutureRevision(KvError):
    code = "OUT_OF_RANGE"
    message = "etcdserver: mvcc: required revision is a future revision"


class LeaseNotFound(KvError):
    code = "NOT_FOUND"
    message = "etcdserver: requested lease not found"


class LeaseExists(KvError):
    code = "FAILED_PRECONDITION"
    message = "etcdserver: lease already exists"


class LeaseTTLTooLarge(KvError):
    code = "OUT_OF_RANGE"
    message = "etcdserver: too large lease TTL"


class NoSpace(KvError):
    code = "RESOURCE_EXHAUSTED"
    message = "etcdserver: mvcc: database space exceeded"


class RequestTooLarge(KvError):
    code = "INVALID_ARGUMENT"
    message = "etcdserver: request is too large"
