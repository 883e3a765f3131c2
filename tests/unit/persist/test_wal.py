"""The write-ahead log on a real filesystem: group commit, replay, torn tails, corruption."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reconciler.base.errors import StorageCorrupt
from reconciler.persist.wal import WAL
from reconciler.raft.types import Entry, HardState


def ents(lo: int, hi: int, term: int = 1, size: int = 10) -> list[Entry]:
    return [Entry(term=term, index=i, data=bytes([i % 256]) * size) for i in range(lo, hi + 1)]


def test_round_trip_of_entries_and_hard_state(tmp_path: Path) -> None:
    wal, st = WAL.open(tmp_path)
    assert st.entries == [] and st.hard_state == HardState()
    wal.save(HardState(term=2, vote=1, commit=3), ents(1, 5))
    wal.close()
    _, st = WAL.open(tmp_path)
    assert st.entries == ents(1, 5)
    assert st.hard_state == HardState(term=2, vote=1, commit=3)
    assert st.truncated_at is None


def test_one_batch_is_one_fdatasync_group_commit(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1, vote=1, commit=0), ents(1, 100))
    assert wal.syncs == 1


def test_a_later_entry_replaces_the_conflicting_suffix(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(None, ents(1, 5, term=1))
    wal.save(None, ents(3, 4, term=2))
    wal.close()
    _, st = WAL.open(tmp_path)
    assert [(e.index, e.term) for e in st.entries] == [(1, 1), (2, 1), (3, 2), (4, 2)]


def test_torn_tail_is_truncated_and_the_log_continues(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(1, 1, 2), ents(1, 3))
    wal.save(HardState(1, 1, 3), ents(4, 6))
    seg = wal.segment_paths()[-1]
    wal.close()
    size = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.truncate(size - 7)  # a crash in the middle of the last record
    wal, st = WAL.open(tmp_path)
    assert [e.index for e in st.entries] == [1, 2, 3, 4, 5, 6]  # the hard state was last
    assert st.hard_state == HardState(1, 1, 2)
    assert st.truncated_at is not None and st.truncated_at[0] == str(seg)
    wal.save(HardState(1, 1, 7), ents(7, 7))
    wal.close()
    _, st = WAL.open(tmp_path)
    assert [e.index for e in st.entries] == list(range(1, 8))
    assert st.hard_state == HardState(1, 1, 7)


def test_zero_filled_tail_is_truncated(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(None, ents(1, 2))
    seg = wal.segment_paths()[-1]
    wal.close()
    with open(seg, "ab") as f:
        f.write(b"\0" * 4096)
    _, st = WAL.open(tmp_path)
    assert [e.index for e in st.entries] == [1, 2]
    assert st.truncated_at is not None


def test_bad_checksum_inside_the_log_is_corruption_naming_file_and_offset(
    tmp_path: Path,
) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(None, ents(1, 1))
    second = wal.segment_paths()[-1].stat().st_size
    wal.save(None, ents(2, 4))
    seg = wal.segment_paths()[-1]
    wal.close()
    raw = bytearray(seg.read_bytes())
    raw[second + 12] ^= 0xFF  # inside entry 2's body; entries 3 and 4 follow
    seg.write_bytes(bytes(raw))
    with pytest.raises(StorageCorrupt) as exc:
        WAL.open(tmp_path)
    assert exc.value.file == str(seg)
    assert exc.value.offset == second
    assert str(seg) in str(exc.value) and f"offset {second}" in str(exc.value)


def _apply(log: list[Entry], batch: list[Entry]) -> list[Entry]:
    return [e for e in log if e.index < batch[0].index] + batch if batch else log


def test_crash_at_any_byte_recovers_whole_batches_and_a_prefix_of_the_torn_one(
    tmp_path: Path,
) -> None:
    """Cut the log at random byte offsets (a crash mid-write, before fdatasync returned)."""
    rng = random.Random(7)
    src = tmp_path / "src"
    wal, _ = WAL.open(src)
    states: list[tuple[int, list[Entry], HardState, list[Entry]]] = []
    log: list[Entry] = []
    for b in range(12):
        lo = len(log) + 1 - (rng.randrange(3) if log and b % 4 == 3 else 0)
        batch = ents(lo, lo + rng.randrange(1, 5), term=b + 1, size=rng.randrange(1, 40))
        hs = HardState(term=b + 1, vote=1, commit=max(0, lo - 1))
        wal.save(hs, batch)
        log = _apply(log, batch)
        states.append((wal.segment_paths()[-1].stat().st_size, list(log), hs, batch))
    seg = wal.segment_paths()[-1]
    wal.close()
    full = seg.read_bytes()
    for cut in sorted(rng.sample(range(len(full)), 60)):
        d = tmp_path / f"cut{cut}"
        d.mkdir()
        (d / seg.name).write_bytes(full[:cut])
        _, st = WAL.open(d)
        done = [s for s in states if s[0] <= cut]
        prev_log, prev_hs = (done[-1][1], done[-1][2]) if done else ([], HardState())
        assert st.hard_state == prev_hs, cut
        torn = states[len(done)][3] if len(done) < len(states) else []
        candidates = [_apply(prev_log, torn[:j]) for j in range(len(torn) + 1)]
        assert st.entries in candidates, cut
        assert (d / seg.name).stat().st_size <= cut


def test_segments_rotate_and_release_after_a_snapshot(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_bytes=400)
    for i in range(1, 41):
        wal.save(HardState(1, 1, i - 1), ents(i, i, size=50))
    segs = wal.segment_paths()
    assert len(segs) > 5
    removed = wal.release_to(30)
    assert removed and len(wal.segment_paths()) < len(segs)
    wal.close()
    _, st = WAL.open(tmp_path)
    assert st.entries[-1].index == 40
    assert st.entries[0].index <= 31
    assert st.hard_state == HardState(1, 1, 39)
