"""Histories recorded by the Raft simulation are linearizable; a broken read path is caught.

The simulation records every client op (put/get/cas/delete through random members, with
timeouts recorded as "maybe happened"); the checker must accept them, and must reject
the history when the members serve reads locally without ReadIndex (stale reads).
"""

from __future__ import annotations

import pytest

from reconciler.raft.errors import ProposalDropped
from reconciler.testing import linearizability as lin
from reconciler.testing.simcluster import Pending, SimCluster, SimConfig


@pytest.mark.parametrize("seed", range(10))
def test_simulated_cluster_histories_are_linearizable(seed: int) -> None:
    c = SimCluster(SimConfig(seed=seed, members=3))
    c.run()  # checks linearizability at the end and raises on a violation
    answered = [o for o in c.history if o.ret is not None]
    assert len(answered) > 20
    assert lin.check(c.history).ok


class StaleReadCluster(SimCluster):
    """Serves gets from the member's own state at once: no ReadIndex (a planted bug)."""

    def _start_op(self, c: int) -> None:
        before = set(self.pending)
        super()._start_op(c)
        p = self.pending.get(c)
        if p is None or c in before or p.kind != "get":
            return
        self._answer_locally(c, p)

    def _answer_locally(self, c: int, p: Pending) -> None:
        m = self.members[p.member]
        del self.pending[c]
        self.history.append(
            lin.Op(
                client=c,
                kind="get",
                key=p.key,
                call=p.call,
                ret=self._tick_clock(),
                output=m.app.kv.get(p.key),
            )
        )


def test_the_checker_catches_stale_local_reads_in_a_partitioned_cluster() -> None:
    caught = 0
    for seed in range(40):
        c = StaleReadCluster(SimConfig(seed=seed, members=3, p_partition=0.05, p_heal=0.02))
        try:
            for _ in range(c.cfg.chaos_steps):
                c.step(chaos=True)
        except ProposalDropped:
            continue
        if not lin.check(c.history).ok:
            caught += 1
    assert caught >= 3, "stale local reads under partitions must show up as violations"
