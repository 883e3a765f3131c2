from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ActionRequest(_message.Message):
    __slots__ = ("token", "coordinator", "action_id", "resource", "operation", "interval_ms", "timeout_ms", "agent", "params", "meta", "expected_rc", "target")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MetaEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_RC_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    token: int
    coordinator: str
    action_id: str
    resource: str
    operation: str
    interval_ms: int
    timeout_ms: int
    agent: str
    params: _containers.ScalarMap[str, str]
    meta: _containers.ScalarMap[str, str]
    expected_rc: int
    target: str
    def __init__(self, token: _Optional[int] = ..., coordinator: _Optional[str] = ..., action_id: _Optional[str] = ..., resource: _Optional[str] = ..., operation: _Optional[str] = ..., interval_ms: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., agent: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., meta: _Optional[_Mapping[str, str]] = ..., expected_rc: _Optional[int] = ..., target: _Optional[str] = ...) -> None: ...

class ActionResult(_message.Message):
    __slots__ = ("action_id", "rc", "op_status", "output", "duration_s", "refused", "reason")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RC_FIELD_NUMBER: _ClassVar[int]
    OP_STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    rc: int
    op_status: int
    output: str
    duration_s: float
    refused: bool
    reason: str
    def __init__(self, action_id: _Optional[str] = ..., rc: _Optional[int] = ..., op_status: _Optional[int] = ..., output: _Optional[str] = ..., duration_s: _Optional[float] = ..., refused: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingReply(_message.Message):
    __slots__ = ("node", "highest_token")
    NODE_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    node: str
    highest_token: int
    def __init__(self, node: _Optional[str] = ..., highest_token: _Optional[int] = ...) -> None: ...
