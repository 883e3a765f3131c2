"""Translation between etcd's generated protobuf messages and the pure state machine's values.

Also the log encoding of commands: one tag byte, then the etcd request message, so a
committed Raft entry carries exactly what the client sent (plus the chosen lease id).
"""

from __future__ import annotations

from typing import Any

from aetcd.rpc import kv_pb2, rpc_pb2

from reconciler.kv import types as t

# --- requests: protobuf -> kv ----------------------------------------------------------------


def range_from_pb(r: Any) -> t.RangeRequest:
    return t.RangeRequest(
        key=r.key,
        range_end=r.range_end,
        limit=r.limit,
        revision=r.revision,
        sort_order=t.SortOrder(r.sort_order),
        sort_target=t.SortTarget(r.sort_target),
        serializable=r.serializable,
        keys_only=r.keys_only,
        count_only=r.count_only,
        min_mod_revision=r.min_mod_revision,
        max_mod_revision=r.max_mod_revision,
        min_create_revision=r.min_create_revision,
        max_create_revision=r.max_create_revision,
    )


def put_from_pb(r: Any) -> t.PutRequest:
    return t.PutRequest(
        key=r.key,
        value=r.value,
        lease=r.lease,
        prev_kv=r.prev_kv,
        ignore_value=r.ignore_value,
        ignore_lease=r.ignore_lease,
    )


def delete_from_pb(r: Any) -> t.DeleteRangeRequest:
    return t.DeleteRangeRequest(key=r.key, range_end=r.range_end, prev_kv=r.prev_kv)


def compare_from_pb(c: Any) -> t.Compare:
    return t.Compare(
        key=c.key,
        target=t.CompareTarget(c.target),
        result=t.CompareResult(c.result),
        range_end=c.range_end,
        version=c.version,
        create_revision=c.create_revision,
        mod_revision=c.mod_revision,
        value=c.value,
        lease=c.lease,
    )


def _op_from_pb(op: Any) -> t.RangeRequest | t.PutRequest | t.DeleteRangeRequest | t.TxnRequest:
    which = op.WhichOneof("request")
    if which == "request_range":
        return range_from_pb(op.request_range)
    if which == "request_put":
        return put_from_pb(op.request_put)
    if which == "request_delete_range":
        return delete_from_pb(op.request_delete_range)
    if which == "request_txn":
        return txn_from_pb(op.request_txn)
    raise ValueError("empty RequestOp")


def txn_from_pb(r: Any) -> t.TxnRequest:
    return t.TxnRequest(
        compare=tuple(compare_from_pb(c) for c in r.compare),
        success=tuple(_op_from_pb(o) for o in r.success),
        failure=tuple(_op_from_pb(o) for o in r.failure),
    )


def txn_is_read_only(r: t.TxnRequest) -> bool:
    for op in (*r.success, *r.failure):
        if isinstance(op, t.PutRequest | t.DeleteRangeRequest):
            return False
        if isinstance(op, t.TxnRequest) and not txn_is_read_only(op):
            return False
    return True


# --- responses: kv -> protobuf ---------------------------------------------------------------


def kv_to_pb(kv: t.KeyValue) -> Any:
    return kv_pb2.KeyValue(
        key=kv.key,
        create_revision=kv.create_revision,
        mod_revision=kv.mod_revision,
        version=kv.version,
        value=kv.value,
        lease=kv.lease,
    )


def event_to_pb(ev: t.Event) -> Any:
    out = kv_pb2.Event(type=int(ev.type), kv=kv_to_pb(ev.kv))
    if ev.prev_kv is not None:
        out.prev_kv.CopyFrom(kv_to_pb(ev.prev_kv))
    return out


def header(cluster_id: int, member_id: int, revision: int, raft_term: int) -> Any:
    return rpc_pb2.ResponseHeader(
        cluster_id=cluster_id, member_id=member_id, revision=revision, raft_term=raft_term
    )


def range_to_pb(r: t.RangeResponse, hdr: Any) -> Any:
    return rpc_pb2.RangeResponse(
        header=hdr, kvs=[kv_to_pb(kv) for kv in r.kvs], more=r.more, count=r.count
    )


def put_to_pb(r: t.PutResponse, hdr: Any) -> Any:
    out = rpc_pb2.PutResponse(header=hdr)
    if r.prev_kv is not None:
        out.prev_kv.CopyFrom(kv_to_pb(r.prev_kv))
    return out


def delete_to_pb(r: t.DeleteRangeResponse, hdr: Any) -> Any:
    return rpc_pb2.DeleteRangeResponse(
        header=hdr, deleted=r.deleted, prev_kvs=[kv_to_pb(kv) for kv in r.prev_kvs]
    )


def txn_to_pb(r: t.TxnResponse, hdr: Any) -> Any:
    ops = []
    for sub in r.responses:
        inner = rpc_pb2.ResponseHeader(revision=sub.revision)
        if isinstance(sub, t.RangeResponse):
            ops.append(rpc_pb2.ResponseOp(response_range=range_to_pb(sub, inner)))
        elif isinstance(sub, t.PutResponse):
            ops.append(rpc_pb2.ResponseOp(response_put=put_to_pb(sub, inner)))
        elif isinstance(sub, t.DeleteRangeResponse):
            ops.append(rpc_pb2.ResponseOp(response_delete_range=delete_to_pb(sub, inner)))
        else:
            ops.append(rpc_pb2.ResponseOp(response_txn=txn_to_pb(sub, inner)))
    return rpc_pb2.TxnResponse(header=hdr, succeeded=r.succeeded, responses=ops)


# --- commands in the log ---------------------------------------------------------------------

_TAGS = {b"P": "put", b"D": "delete", b"T": "txn", b"C": "compact", b"G": "grant", b"R": "revoke"}


def encode_command(cmd: t.Command, pb: Any | None = None) -> bytes:
    """Encode a write command; ``pb`` is the client's message when we have it (no re-encode)."""
    return bytes(_encode(cmd, pb))


def _encode(cmd: t.Command, pb: Any | None) -> Any:
    if isinstance(cmd, t.PutRequest):
        return b"P" + (pb or _put_to_req(cmd)).SerializeToString()
    if isinstance(cmd, t.DeleteRangeRequest):
        msg = pb or rpc_pb2.DeleteRangeRequest(
            key=cmd.key, range_end=cmd.range_end, prev_kv=cmd.prev_kv
        )
        return b"D" + msg.SerializeToString()
    if isinstance(cmd, t.TxnRequest):
        assert pb is not None, "txns are logged as the client sent them"
        return b"T" + pb.SerializeToString()
    if isinstance(cmd, t.CompactionRequest):
        return b"C" + rpc_pb2.CompactionRequest(revision=cmd.revision).SerializeToString()
    if isinstance(cmd, t.LeaseGrantRequest):
        return b"G" + rpc_pb2.LeaseGrantRequest(ID=cmd.id, TTL=cmd.ttl).SerializeToString()
    if isinstance(cmd, t.LeaseRevokeRequest):
        return b"R" + rpc_pb2.LeaseRevokeRequest(ID=cmd.id).SerializeToString()
    raise TypeError(f"not a write command: {cmd!r}")


def _put_to_req(cmd: t.PutRequest) -> Any:
    return rpc_pb2.PutRequest(
        key=cmd.key,
        value=cmd.value,
        lease=cmd.lease,
        prev_kv=cmd.prev_kv,
        ignore_value=cmd.ignore_value,
        ignore_lease=cmd.ignore_lease,
    )


def decode_command(data: bytes) -> t.Command:
    """Decode a logged command; raises ValueError on anything that is not one."""
    tag, body = data[:1], data[1:]
    kind = _TAGS.get(tag)
    try:
        if kind == "put":
            return put_from_pb(rpc_pb2.PutRequest.FromString(body))
        if kind == "delete":
            return delete_from_pb(rpc_pb2.DeleteRangeRequest.FromString(body))
        if kind == "txn":
            return txn_from_pb(rpc_pb2.TxnRequest.FromString(body))
        if kind == "compact":
            return t.CompactionRequest(rpc_pb2.CompactionRequest.FromString(body).revision)
        if kind == "grant":
            g = rpc_pb2.LeaseGrantRequest.FromString(body)
            return t.LeaseGrantRequest(id=g.ID, ttl=g.TTL)
        if kind == "revoke":
            return t.LeaseRevokeRequest(id=rpc_pb2.LeaseRevokeRequest.FromString(body).ID)
    except Exception as exc:  # protobuf's DecodeError and enum ValueErrors
        raise ValueError(f"undecodable {kind} command: {exc}") from exc
    raise ValueError(f"unknown command tag {tag!r}")
