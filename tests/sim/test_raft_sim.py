"""Deterministic simulation of the Raft core: 3 and 5 members, crashes, partitions, loss.

Each seed runs a whole cluster life: chaos (drop, delay, duplicate, reorder, partitions,
crashes that keep only fsynced state, sometimes a torn last write), then healing. After
every step: one leader per term, committed entries never change, applied prefixes agree,
commit indexes never go back; every ~10 steps: leader completeness. After healing the
cluster must commit within a bound, no acknowledged write may be lost, and the clients'
history must be linearizable. Every 20th seed runs on the real write-ahead log.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.testing.simcluster import SimCluster, SimConfig, SimFailure
from reconciler.testing.simnet import NetFaults


def sim_config(seed: int) -> SimConfig:
    cfg = _shape(seed)
    # two seeds in three take the store's shell shape: a Ready's fsync runs for a few steps
    # while the node keeps being stepped (proposals, messages, ticks)
    return replace(cfg, max_fsync_steps=0 if seed % 3 == 0 else 3)


def _shape(seed: int) -> SimConfig:
    """The cluster shape of a seed: mostly 3 members, every 4th has 5, some with a witness,
    some with membership changes (add learner -> promote -> remove a voter) under chaos."""
    if seed % 4 == 3:
        return SimConfig(seed=seed, members=5, chaos_steps=300)
    if seed % 8 == 5:
        return SimConfig(seed=seed, members=3, witnesses=1)
    if seed % 8 == 1:
        return SimConfig(seed=seed, members=3, p_conf=0.03)
    if seed % 8 == 7:
        return hard(seed)
    return SimConfig(seed=seed, members=3)


def hard(seed: int) -> SimConfig:
    """Without pre-vote/check-quorum, short election timeouts, frequent crashes, a bad
    network: many competing elections (this profile catches a member that forgets its
    vote across a restart)."""
    return SimConfig(
        seed=seed,
        members=3,
        guards=False,
        election_tick=4,
        p_crash=0.05,
        p_restart=0.5,
        net=NetFaults(drop=0.1, duplicate=0.05, max_delay=5),
    )


def replay_command(seed: int) -> str:
    return (
        f".venv/bin/pytest tests/sim/test_raft_sim.py --sim-seeds=1 --sim-seed-start={seed}"
        f"  (or: make sim SEEDS=1 SEED_START={seed})"
    )


def fast_dir(tmp_path: Path) -> Path:
    """A directory on tmpfs when there is one (fsync there costs nothing)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="raft-sim-", dir=shm))
    return tmp_path


def test_cluster_survives_chaos(seed: int, tmp_path: Path) -> None:
    cfg = sim_config(seed)
    d = None
    if seed % 20 == 0:
        # every 20th seed runs on the real write-ahead log and snapshot files; a crash in
        # the middle of a write cuts the WAL at a random byte (real torn-tail recovery)
        d = fast_dir(tmp_path)
        cfg = replace(cfg, disk_dir=str(d))
    cluster = SimCluster(cfg)
    failure = None
    try:
        cluster.run()
    except SimFailure as e:
        failure = str(e)
    except Exception as e:  # a crash of the core itself: keep its traceback, add the replay
        e.add_note(f"seed {seed}; replay: {replay_command(seed)}")
        raise
    finally:
        if d is not None and d != tmp_path:
            shutil.rmtree(d, ignore_errors=True)
    if failure is not None:
        pytest.fail(f"{failure}\nreplay: {replay_command(seed)}", pytrace=False)


def test_the_simulation_catches_a_planted_election_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """Members that grant votes to any log (no election restriction) must be caught."""
    from reconciler.raft.log import RaftLog

    monkeypatch.setattr(RaftLog, "is_up_to_date", lambda self, index, term: True)
    caught = []
    for seed in range(12):
        try:
            SimCluster(sim_config(seed)).run()
        except AssertionError as e:
            caught.append(str(e).splitlines()[0])
    assert caught, "a broken election restriction went unnoticed"
