"""etcd's KV and Watch services (``etcdserverpb.KV``, ``etcdserverpb.Watch``) over a backend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

from reconciler.kv import errors as kv_errors
from reconciler.kv import types as t
from reconciler.kv.watch import WatchSpec
from reconciler.transport import etcd_codec as codec
from reconciler.transport.etcd_backend import EtcdBackend, etcd_errors

log = logging.getLogger(__name__)
Ctx = grpc.aio.ServicerContext[Any, Any]

MAX_EVENTS_PER_RESPONSE = 1000  # never splits one revision
EVENTS_PER_SLICE = 1000  # events converted between two yields to the loop
DUPLICATE_WATCH_ID = "mvcc: duplicate watch ID provided on the WatchStream"


class KVServicer(rpc_pb2_grpc.KVServicer):  # type: ignore[misc]
    def __init__(self, backend: EtcdBackend) -> None:
        self.b = backend

    def _hdr(self, revision: int) -> Any:
        return codec.header(self.b.cluster_id, self.b.member_id, revision, self.b.raft_term())

    @etcd_errors
    async def Range(self, request: Any, context: Ctx) -> Any:
        resp = await self.b.read(codec.range_from_pb(request))
        return codec.range_to_pb(resp, self._hdr(resp.revision))

    @etcd_errors
    async def Put(self, request: Any, context: Ctx) -> Any:
        resp = await self.b.write(codec.put_from_pb(request), request)
        assert isinstance(resp, t.PutResponse)
        return codec.put_to_pb(resp, self._hdr(resp.revision))

    @etcd_errors
    async def DeleteRange(self, request: Any, context: Ctx) -> Any:
        resp = await self.b.write(codec.delete_from_pb(request), request)
        assert isinstance(resp, t.DeleteRangeResponse)
        return codec.delete_to_pb(resp, self._hdr(resp.revision))

    @etcd_errors
    async def Txn(self, request: Any, context: Ctx) -> Any:
        txn = codec.txn_from_pb(request)
        if codec.txn_is_read_only(txn) and _all_serializable(txn):
            # etcd serves a txn of serializable ranges locally
            applied = self.b.kv.apply(txn)
            if applied.error:
                raise applied.error
            resp = applied.response
        else:
            resp = await self.b.write(txn, request)
        assert isinstance(resp, t.TxnResponse)
        return codec.txn_to_pb(resp, self._hdr(resp.revision))

    @etcd_errors
    async def Compact(self, request: Any, context: Ctx) -> Any:
        resp = await self.b.write(t.CompactionRequest(request.revision, request.physical), None)
        return rpc_pb2.CompactionResponse(header=self._hdr(resp.revision))


def _all_serializable(txn: t.TxnRequest) -> bool:
    ops = (*txn.success, *txn.failure)
    return bool(ops) and all(isinstance(op, t.RangeRequest) and op.serializable for op in ops)


@dataclass(slots=True)
class _Watcher:
    id: int
    spec: WatchSpec
    next_rev: int  # first revision not yet delivered
    progress_notify: bool
    sent_since_tick: bool = False


class WatchServicer(rpc_pb2_grpc.WatchServicer):  # type: ignore[misc]
    """One stream carries many watchers; events are pulled from the local store in order."""

    def __init__(self, backend: EtcdBackend, progress_interval: float = 600.0) -> None:
        self.b = backend
        self.progress_interval = progress_interval

    def _hdr(self, revision: int) -> Any:
        return codec.header(self.b.cluster_id, self.b.member_id, revision, self.b.raft_term())

    async def Watch(self, request_iterator: AsyncIterator[Any], context: Ctx) -> AsyncIterator[Any]:
        out: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)
        watchers: dict[int, _Watcher] = {}
        wake = asyncio.Event()
        done = asyncio.Event()
        reader = asyncio.create_task(self._read(request_iterator, watchers, out, wake, done))
        pump = asyncio.create_task(self._pump(watchers, out, wake))
        ticker = asyncio.create_task(self._progress(watchers, out))
        try:
            while True:
                get = asyncio.create_task(out.get())
                finished = asyncio.create_task(done.wait())
                await asyncio.wait({get, finished}, return_when=asyncio.FIRST_COMPLETED)
                if get.done():
                    finished.cancel()
                    yield get.result()
                    continue
                get.cancel()
                while not out.empty():
                    yield out.get_nowait()
                return
        finally:
            for task in (reader, pump, ticker):
                task.cancel()
            for task in (reader, pump, ticker):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _read(
        self,
        requests: AsyncIterator[Any],
        watchers: dict[int, _Watcher],
        out: asyncio.Queue[Any],
        wake: asyncio.Event,
        done: asyncio.Event,
    ) -> None:
        next_id = 0
        try:
            async for req in requests:
                which = req.WhichOneof("request_union")
                if which == "create_request":
                    c = req.create_request
                    wid = c.watch_id if c.watch_id else next_id
                    if wid in watchers:
                        await out.put(
                            rpc_pb2.WatchResponse(
                                header=self._hdr(self.b.kv.revision),
                                watch_id=-1,
                                created=True,
                                canceled=True,
                                cancel_reason=DUPLICATE_WATCH_ID,
                            )
                        )
                        continue
                    while next_id <= wid:
                        next_id += 1
                    key = c.key or b"\x00"
                    spec = WatchSpec(key, c.range_end, c.prev_kv, frozenset(c.filters))
                    rev = self.b.kv.revision
                    start = c.start_revision if c.start_revision > 0 else rev + 1
                    await out.put(
                        rpc_pb2.WatchResponse(header=self._hdr(rev), watch_id=wid, created=True)
                    )
                    watchers[wid] = _Watcher(wid, spec, start, c.progress_notify)
                    wake.set()
                elif which == "cancel_request":
                    wid = req.cancel_request.watch_id
                    if watchers.pop(wid, None) is not None:
                        await out.put(
                            rpc_pb2.WatchResponse(
                                header=self._hdr(self.b.kv.revision), watch_id=wid, canceled=True
                            )
                        )
                elif which == "progress_request":
                    await out.put(
                        rpc_pb2.WatchResponse(header=self._hdr(self.b.kv.revision), watch_id=-1)
                    )
        except (asyncio.CancelledError, grpc.aio.AioRpcError):
            pass
        except Exception:
            log.exception("watch stream: bad request; closing the stream")
        finally:
            done.set()

    async def _pump(
        self, watchers: dict[int, _Watcher], out: asyncio.Queue[Any], wake: asyncio.Event
    ) -> None:
        while True:
            wake.clear()
            seen = self.b.kv.revision
            for w in sorted(watchers.values(), key=lambda w: w.id):
                if w.next_rev > seen or watchers.get(w.id) is not w:
                    continue
                await self._deliver(w, watchers, out)
            if self.b.kv.revision != seen or wake.is_set():
                continue
            waiter = asyncio.create_task(self.b.wait_applied(seen, 3600.0))
            woken = asyncio.create_task(wake.wait())
            try:
                await asyncio.wait({waiter, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                woken.cancel()

    async def _deliver(
        self, w: _Watcher, watchers: dict[int, _Watcher], out: asyncio.Queue[Any]
    ) -> None:
        kv = self.b.kv
        try:
            events = kv.events_since(w.next_rev)
        except kv_errors.CompactedRevision:
            watchers.pop(w.id, None)
            await out.put(
                rpc_pb2.WatchResponse(
                    header=self._hdr(kv.revision),
                    watch_id=w.id,
                    canceled=True,
                    compact_revision=kv.compact_revision,
                )
            )
            return
        rev_now = kv.revision
        w.next_rev = rev_now + 1
        selected = w.spec.select(events)
        while selected:
            cut = min(len(selected), MAX_EVENTS_PER_RESPONSE)
            while cut < len(selected) and (
                selected[cut].kv.mod_revision == selected[cut - 1].kv.mod_revision
            ):
                cut += 1
            batch, selected = selected[:cut], selected[cut:]
            w.sent_since_tick = True
            # one revision may hold 60,000 events: convert them in pieces and give the loop
            # back in between (heartbeats; see docs/store.md, Timing)
            pbs = [codec.event_to_pb(e) for e in batch[:EVENTS_PER_SLICE]]
            for k in range(EVENTS_PER_SLICE, len(batch), EVENTS_PER_SLICE):
                await asyncio.sleep(0)
                pbs.extend(codec.event_to_pb(e) for e in batch[k : k + EVENTS_PER_SLICE])
            await out.put(
                rpc_pb2.WatchResponse(header=self._hdr(rev_now), watch_id=w.id, events=pbs)
            )

    async def _progress(self, watchers: dict[int, _Watcher], out: asyncio.Queue[Any]) -> None:
        while True:
            await asyncio.sleep(self.progress_interval)
            for w in sorted(watchers.values(), key=lambda w: w.id):
                if w.progress_notify and not w.sent_since_tick:
                    await out.put(
                        rpc_pb2.WatchResponse(header=self._hdr(self.b.kv.revision), watch_id=w.id)
                    )
                w.sent_since_tick = False
