"""The simulated members' state machine: a tiny key/value map with exactly-once requests.

Entries carry JSON requests ``{"id", "op", "k", "v", "exp"}``; a request id seen before is
not applied twice (a duplicated MsgProp may append a request twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from reconciler.raft.types import Entry, EntryType


def encode_request(
    req_id: str, op: str, key: str, value: str | None, expected: str | None
) -> bytes:
    return json.dumps({"id": req_id, "op": op, "k": key, "v": value, "exp": expected}).encode()


@dataclass
class KVApp:
    kv: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    applied: int = 0

    def apply(self, e: Entry) -> tuple[str, object] | None:
        """Apply one committed entry; returns (request id, result) for a request."""
        if e.index != self.applied + 1:
            raise AssertionError(f"applying {e.index} after {self.applied}: a gap")
        self.applied = e.index
        if e.type != EntryType.NORMAL or not e.data:
            return None
        req = json.loads(e.data)
        rid = str(req["id"])
        if rid in self.seen:
            return None
        self.seen.add(rid)
        key = str(req["k"])
        op = req["op"]
        result: object = None
        if op == "put":
            self.kv[key] = req["v"]
        elif op == "cas":
            result = self.kv.get(key) == req["exp"]
            if result:
                self.kv[key] = req["v"]
        elif op == "delete":
            result = self.kv.pop(key, None) is not None
        return rid, result

    def snapshot_data(self) -> bytes:
        return json.dumps({"kv": self.kv, "seen": sorted(self.seen)}, sort_keys=True).encode()

    @classmethod
    def restore(cls, data: bytes, index: int) -> KVApp:
        if not data:
            return cls(applied=index)
        d = json.loads(data)
        return cls(kv=dict(d["kv"]), seen=set(d["seen"]), applied=index)
