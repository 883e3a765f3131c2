"""A full disk: the write fails with NoSpace and the log stays valid (a real small tmpfs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.base.errors import NoSpace
from reconciler.persist.snapshotter import Snapshotter
from reconciler.persist.wal import WAL
from reconciler.raft.types import ConfState, Entry, HardState, Snapshot, SnapshotMeta


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    if shutil.which("mount") is None:
        pytest.skip("mount(8) is not installed")
    mnt = tmp_path / "small"
    mnt.mkdir()
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_fails_the_write_and_leaves_the_log_valid(small_fs: Path) -> None:
    wal, _ = WAL.open(small_fs / "wal")
    saved: list[Entry] = []
    index = 0
    with pytest.raises(NoSpace) as exc:
        for _ in range(10_000):
            batch = [Entry(term=1, index=index + k + 1, data=b"x" * 3000) for k in range(4)]
            wal.save(HardState(1, 1, index), batch)
            saved.extend(batch)
            index += len(batch)
    assert "no space left" in str(exc.value)
    assert saved, "some writes fit before the disk filled"
    # the failed batch was cut back: the log ends at a record boundary
    size_after_failure = wal.segment_paths()[-1].stat().st_size
    wal.close()
    wal2, st = WAL.open(small_fs / "wal")
    assert st.truncated_at is None
    assert st.entries == saved
    assert st.hard_state == HardState(1, 1, index - 4)
    assert wal2.segment_paths()[-1].stat().st_size == size_after_failure
    # once space is freed, writing works again
    for p in small_fs.glob("filler*"):
        p.unlink()
    wal2.close()


def test_full_disk_fails_a_snapshot_without_leaving_a_partial_file(small_fs: Path) -> None:
    (small_fs / "filler").write_bytes(b"\0" * (200 * 1024))
    s = Snapshotter(small_fs / "snap")
    meta = SnapshotMeta(index=5, term=1, conf_state=ConfState(voters=(1,)))
    with pytest.raises(NoSpace):
        s.save(Snapshot(meta=meta, data=b"y" * (100 * 1024)))
    assert list((small_fs / "snap").iterdir()) == []
    assert s.load_newest() is None
