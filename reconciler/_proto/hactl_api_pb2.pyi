from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ApplyRequest(_message.Message):
    __slots__ = ("documents_json", "dry_run", "prune", "selector", "source")
    DOCUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    PRUNE_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    documents_json: str
    dry_run: bool
    prune: bool
    selector: str
    source: str
    def __init__(self, documents_json: _Optional[str] = ..., dry_run: _Optional[bool] = ..., prune: _Optional[bool] = ..., selector: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class ApplyReply(_message.Message):
    __slots__ = ("result_json", "revision", "error", "transition")
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    result_json: str
    revision: int
    error: str
    transition: str
    def __init__(self, result_json: _Optional[str] = ..., revision: _Optional[int] = ..., error: _Optional[str] = ..., transition: _Optional[str] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("kind", "name", "selector")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    selector: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., selector: _Optional[str] = ...) -> None: ...

class GetReply(_message.Message):
    __slots__ = ("objects_json", "revision", "error")
    OBJECTS_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    objects_json: str
    revision: int
    error: str
    def __init__(self, objects_json: _Optional[str] = ..., revision: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("kind", "name", "selector")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    selector: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., selector: _Optional[str] = ...) -> None: ...

class DeleteReply(_message.Message):
    __slots__ = ("result_json", "error")
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    result_json: str
    error: str
    def __init__(self, result_json: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class ViewRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ViewReply(_message.Message):
    __slots__ = ("view_json", "revision")
    VIEW_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    view_json: str
    revision: int
    def __init__(self, view_json: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class CommandRequest(_message.Message):
    __slots__ = ("verb", "args_json")
    VERB_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    verb: str
    args_json: str
    def __init__(self, verb: _Optional[str] = ..., args_json: _Optional[str] = ...) -> None: ...

class CommandReply(_message.Message):
    __slots__ = ("result_json", "error")
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    result_json: str
    error: str
    def __init__(self, result_json: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("prefix",)
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    def __init__(self, prefix: _Optional[str] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class NodeStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeStatusReply(_message.Message):
    __slots__ = ("status_json",)
    STATUS_JSON_FIELD_NUMBER: _ClassVar[int]
    status_json: str
    def __init__(self, status_json: _Optional[str] = ...) -> None: ...
