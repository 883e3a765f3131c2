"""Deterministic simulation of the Raft core: 3 and 5 members, crashes, partitions, loss.

Each seed runs a whole cluster life: chaos (drop, delay, duplicate, reorder, partitions,
crashes that keep only fsynced state, sometimes a torn last write), then healing. After
every step: one leader per term, committed entries never change, applied prefixes agree,
commit indexes never go back; every ~10 steps: leader completeness. After healing the
cluster must commit within a bound, no acknowledged write may be lost, and the clients'
history must be linearizable.
"""

from __future__ import annotations

import pytest

from reconciler.testing.simcluster import SimCluster, SimConfig, SimFailure


def sim_config(seed: int) -> SimConfig:
    """The cluster shape of a seed: mostly 3 members, every 4th has 5, some with a witness,
    some with membership changes (add learner -> promote -> remove a voter) under chaos."""
    if seed % 4 == 3:
        return SimConfig(seed=seed, members=5, chaos_steps=300)
    if seed % 8 == 5:
        return SimConfig(seed=seed, members=3, witnesses=1)
    if seed % 8 == 1:
        return SimConfig(seed=seed, members=3, p_conf=0.03)
    return SimConfig(seed=seed, members=3)


def replay_command(seed: int) -> str:
    return f"make sim SEEDS=1 SEED_START={seed}"


def test_cluster_survives_chaos(seed: int) -> None:
    cluster = SimCluster(sim_config(seed))
    try:
        cluster.run()
    except SimFailure as e:
        pytest.fail(f"{e}\nreplay: {replay_command(seed)}", pytrace=False)
