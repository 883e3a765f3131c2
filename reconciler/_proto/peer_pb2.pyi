from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Batch(_message.Message):
    __slots__ = ("cluster_id", "frm", "frames")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    FRM_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    cluster_id: int
    frm: int
    frames: bytes
    def __init__(self, cluster_id: _Optional[int] = ..., frm: _Optional[int] = ..., frames: _Optional[bytes] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class LeaseCall(_message.Message):
    __slots__ = ("cluster_id", "what", "lease_id")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    WHAT_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    cluster_id: int
    what: str
    lease_id: int
    def __init__(self, cluster_id: _Optional[int] = ..., what: _Optional[str] = ..., lease_id: _Optional[int] = ...) -> None: ...

class LeaseReply(_message.Message):
    __slots__ = ("ttl", "error")
    TTL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ttl: int
    error: str
    def __init__(self, ttl: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...
