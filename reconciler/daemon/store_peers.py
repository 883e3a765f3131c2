"""Who the members of a builtin store are: their ids, names and URLs (``PeerInfo``, carried
in membership changes and snapshots), and membership errors worded as etcd's."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

from reconciler.kv.errors import KvError


@dataclass(frozen=True, slots=True)
class PeerInfo:
    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return json.dumps(
            {"name": self.name, "peer": list(self.peer_urls), "client": list(self.client_urls)},
            sort_keys=True,
        ).encode()

    @classmethod
    def decode(cls, node_id: int, data: bytes) -> PeerInfo:
        try:
            d = json.loads(data or b"{}")
        except ValueError:
            d = {}
        return cls(node_id, d.get("name", ""), tuple(d.get("peer", ())), tuple(d.get("client", ())))


def peer_target(url: str) -> str:
    return url.split("://", 1)[-1]


PROBE_TIMEOUT_S = 0.2


async def port_refuses(target: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether ``host:port`` refuses a TCP connection: nothing listens there, so the
    member that served it is not running (crashed, killed, stopped). A powered-off or
    cut-off machine does not refuse, it is silent: False then, as for any other doubt."""
    host, _, port = target.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host.strip("[]"), int(port)), timeout
        )
    except ConnectionRefusedError:
        return True
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return False


class MembershipError(KvError):
    """An error with etcd's code and text (from the leader, or etcd's own wording)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
