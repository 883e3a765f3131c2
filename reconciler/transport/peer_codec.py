"""Raft messages as compact bytes for the peer stream (one ``bytes`` field per batch).

Building a protobuf message per Raft message and per entry (and parsing them back) cost
more Python time than the Raft core itself on a busy leader; a batch now carries its
messages as one byte string, packed with ``struct``:

    message := header | context | snap_data | [snapshot meta] | entry*
    header  := type u8, reject u8, has_snapshot u8, to, frm, term, log_term, index,
               commit, reject_hint, snap_offset, snap_total (u64 each),
               entry count, context length, snap_data length (u32 each)
    meta    := index u64, term u64, voters/learners/witnesses counts (u32 each), ids (u64)
    entry   := term u64, index u64, type u8, data length u32, data

Anything that does not parse (short, trailing bytes, unknown message or entry type)
raises ``ValueError``: the receiver refuses the batch and logs it.
"""

from __future__ import annotations

import struct

from reconciler.raft.types import ConfState, Entry, EntryType, Message, MsgType, SnapshotMeta

_HEAD = struct.Struct("<BBB9Q3I")
_META = struct.Struct("<QQ3I")
_ENT = struct.Struct("<QQBI")
_MSG_TYPES = {int(t): t for t in MsgType}
_ENT_TYPES = {int(t): t for t in EntryType}


def encode(m: Message) -> bytes:
    ents = m.entries
    parts = [
        _HEAD.pack(
            m.type,
            m.reject,
            m.snapshot is not None,
            m.to,
            m.frm,
            m.term,
            m.log_term,
            m.index,
            m.commit,
            m.reject_hint,
            m.snap_offset,
            m.snap_total,
            len(ents),
            len(m.context),
            len(m.snap_data),
        ),
        m.context,
        m.snap_data,
    ]
    s = m.snapshot
    if s is not None:
        cs = s.conf_state
        ids = (*cs.voters, *cs.learners, *cs.witnesses)
        parts.append(
            _META.pack(s.index, s.term, len(cs.voters), len(cs.learners), len(cs.witnesses))
        )
        parts.append(struct.pack(f"<{len(ids)}Q", *ids))
    pack = _ENT.pack
    for e in ents:
        parts.append(pack(e.term, e.index, e.type, len(e.data)))
        parts.append(e.data)
    return b"".join(parts)


def encode_many(msgs: list[Message]) -> bytes:
    return b"".join(encode(m) for m in msgs)


def decode_many(buf: bytes) -> list[Message]:
    """All the messages in ``buf``; raises ValueError if it does not parse exactly."""
    try:
        return _decode_many(memoryview(buf))
    except KeyError as exc:
        raise ValueError(f"unknown message or entry type {exc}") from None
    except struct.error as exc:
        raise ValueError(f"malformed Raft message ({exc})") from None


def _decode_many(mv: memoryview) -> list[Message]:
    out = []
    pos, end = 0, len(mv)
    head_size, ent_size = _HEAD.size, _ENT.size
    unpack_ent = _ENT.unpack_from
    while pos < end:
        (
            mtype,
            reject,
            has_snap,
            to,
            frm,
            term,
            log_term,
            index,
            commit,
            reject_hint,
            snap_offset,
            snap_total,
            n_ents,
            n_ctx,
            n_snap,
        ) = _HEAD.unpack_from(mv, pos)
        pos += head_size
        if pos + n_ctx + n_snap > end:
            raise ValueError("malformed Raft message (truncated)")
        context = bytes(mv[pos : pos + n_ctx])
        pos += n_ctx
        snap_data = bytes(mv[pos : pos + n_snap])
        pos += n_snap
        snap = None
        if has_snap:
            s_index, s_term, nv, nl, nw = _META.unpack_from(mv, pos)
            pos += _META.size
            ids = struct.unpack_from(f"<{nv + nl + nw}Q", mv, pos)
            pos += 8 * (nv + nl + nw)
            cs = ConfState(ids[:nv], ids[nv : nv + nl], ids[nv + nl :])
            snap = SnapshotMeta(s_index, s_term, cs)
        ents = []
        for _ in range(n_ents):
            e_term, e_index, e_type, n = unpack_ent(mv, pos)
            pos += ent_size
            if pos + n > end:
                raise ValueError("malformed Raft message (truncated entry)")
            ents.append(Entry(e_term, e_index, _ENT_TYPES[e_type], bytes(mv[pos : pos + n])))
            pos += n
        out.append(
            Message(
                type=_MSG_TYPES[mtype],
                to=to,
                frm=frm,
                term=term,
                log_term=log_term,
                index=index,
                entries=tuple(ents),
                commit=commit,
                reject=bool(reject),
                reject_hint=reject_hint,
                context=context,
                snapshot=snap,
                snap_data=snap_data,
                snap_offset=snap_offset,
                snap_total=snap_total,
            )
        )
    return out
