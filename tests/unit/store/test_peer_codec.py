"""The peer stream's byte encoding of Raft messages: every field survives, garbage is refused."""

from __future__ import annotations

import contextlib
import random

import pytest

from reconciler.raft.types import ConfState, Entry, EntryType, Message, MsgType, SnapshotMeta
from reconciler.transport import peer_codec


def _messages() -> list[Message]:
    big = 2**64 - 1
    return [
        Message(MsgType.MsgHeartbeat, to=1, frm=2, term=3, commit=4),
        Message(
            MsgType.MsgApp,
            to=big,
            frm=7,
            term=9,
            log_term=8,
            index=100,
            commit=99,
            entries=(
                Entry(9, 101, EntryType.NORMAL, b"x" * 300),
                Entry(9, 102, EntryType.CONF_CHANGE, b""),
                Entry(9, 103, EntryType.NORMAL, bytes(range(256))),
            ),
        ),
        Message(MsgType.MsgAppResp, to=7, frm=1, term=9, index=50, reject=True, reject_hint=42),
        Message(MsgType.MsgReadIndex, to=7, frm=1, term=9, context=b"\x00ctx\xff"),
        Message(
            MsgType.MsgSnap,
            to=3,
            frm=7,
            term=9,
            snapshot=SnapshotMeta(500, 8, ConfState((1, 2, 3), (4,), (5, 6))),
            snap_data=b"chunk" * 10,
            snap_offset=1000,
            snap_total=5000,
        ),
        Message(
            MsgType.MsgSnap,
            to=3,
            frm=7,
            term=9,
            snapshot=SnapshotMeta(1, 1, ConfState((), (), ())),
        ),
    ]


def test_every_field_round_trips_one_message_at_a_time_and_as_a_batch() -> None:
    msgs = _messages()
    for m in msgs:
        assert peer_codec.decode_many(peer_codec.encode(m)) == [m]
    assert peer_codec.decode_many(peer_codec.encode_many(msgs)) == msgs
    assert peer_codec.decode_many(b"") == []


def test_truncated_or_trailing_bytes_are_refused_with_value_error() -> None:
    buf = peer_codec.encode_many(_messages())
    for cut in (1, 10, len(buf) // 2, len(buf) - 1):
        with pytest.raises(ValueError, match=r"malformed|unknown"):
            peer_codec.decode_many(buf[:cut])
    with pytest.raises(ValueError):
        peer_codec.decode_many(buf + b"\x01")


def test_unknown_message_or_entry_type_is_refused() -> None:
    buf = bytearray(peer_codec.encode(_messages()[0]))
    buf[0] = 250
    with pytest.raises(ValueError, match="unknown"):
        peer_codec.decode_many(bytes(buf))
    app = bytearray(peer_codec.encode(_messages()[1]))
    app[peer_codec._HEAD.size + 16] = 99  # the first entry's type byte
    with pytest.raises(ValueError, match="unknown"):
        peer_codec.decode_many(bytes(app))


def test_random_garbage_never_raises_anything_but_value_error() -> None:
    rng = random.Random(7)
    good = peer_codec.encode_many(_messages())
    for _ in range(2000):
        buf = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        with contextlib.suppress(ValueError):
            peer_codec.decode_many(bytes(buf[: rng.randint(0, len(buf))]))
