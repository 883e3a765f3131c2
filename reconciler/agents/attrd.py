"""The node agent's attribute socket: where crm_attribute & co. deliver node attributes.

Protocol (one JSON object per line on a Unix stream socket, one reply line each)::

    {"op": "update", "node": "n1", "name": "master-db", "value": "10",
     "lifetime": "reboot", "source": "crm_attribute", "resource": "db:0"}   -> {"ok": true}
    {"op": "update", ..., "value": null}                                  (delete)
    {"op": "query", "node": "n1", "name": "master-db"}   -> {"ok": true, "value": "10"}

Every accepted update becomes an :class:`AttributeUpdate` handed to ``on_update`` (the
daemon routes it to the cluster store). The server also keeps the last value it knows of
each attribute so that queries (``crm_attribute -G``) answer; the daemon may seed it with
:meth:`AttributeServer.set_known`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
MAX_NAME = 256
MAX_VALUE = 4096


@dataclass(frozen=True, slots=True)
class AttributeUpdate:
    """A node attribute set (``value``) or deleted (``value is None``) by an agent."""

    node: str
    name: str
    value: str | None
    lifetime: str  # "reboot" (transient, Pacemaker's status section) or "forever"
    source: str  # crm_attribute, crm_master, attrd_updater
    resource: str = ""  # OCF_RESOURCE_INSTANCE of the agent that set it, if any


class AttributeServer:
    """Listens on ``path``; calls ``on_update`` for every update (from the event loop)."""

    def __init__(self, path: Path, on_update: Callable[[AttributeUpdate], None]) -> None:
        self.path = path
        self._on_update = on_update
        self._known: dict[tuple[str, str], str] = {}
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=MAX_REQUEST_BYTES
        )
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def set_known(self, node: str, name: str, value: str | None) -> None:
        """Tell the server an attribute's current value (for queries)."""
        if value is None:
            self._known.pop((node, name), None)
        else:
            self._known[(node, name)] = value

    def known(self) -> dict[tuple[str, str], str]:
        return dict(sorted(self._known.items()))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._reply(writer, {"ok": False, "error": "request too long"})
                    return
                if not line:
                    return
                await self._reply(writer, self._handle(line))
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
        writer.write(json.dumps(reply).encode() + b"\n")
        await writer.drain()

    def _handle(self, line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "not JSON"}
        if not isinstance(req, dict):
            return {"ok": False, "error": "not a JSON object"}
        node, name = req.get("node"), req.get("name")
        if not isinstance(node, str) or not isinstance(name, str) or not name:
            return {"ok": False, "error": "node and name are required strings"}
        if len(name) > MAX_NAME:
            return {"ok": False, "error": f"name longer than {MAX_NAME}"}
        op = req.get("op")
        if op == "query":
            return {"ok": True, "value": self._known.get((node, name))}
        if op != "update":
            return {"ok": False, "error": f"unknown op {op!r}"}
        value = req.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > MAX_VALUE):
            return {"ok": False, "error": "value must be a string of at most 4096 characters"}
        lifetime = req.get("lifetime") if req.get("lifetime") in ("reboot", "forever") else "reboot"
        update = AttributeUpdate(
            node=node,
            name=name,
            value=value,
            lifetime=str(lifetime),
            source=str(req.get("source", "")),
            resource=str(req.get("resource", "")),
        )
        self.set_known(node, name, value)
        try:
            self._on_update(update)
        except Exception:  # the callback's bug must not kill the socket
            log.exception("attribute update callback failed for %s", update)
            return {"ok": False, "error": "the node agent could not record the attribute"}
        return {"ok": True}
