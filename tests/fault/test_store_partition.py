"""Real partitions of a store cluster, for both backends (real etcd and the builtin store).

Each member runs in its own network namespace, bound to its namespace address, started
with the command line ``hactl store up`` uses; one client per namespace writes through
its own member throughout. The tests cut the switch (silent packet loss across the cut,
see ``reconciler.testing.netns``) and heal it, then check:

* the minority side acknowledges no write called while it is cut off;
* the majority elects a leader (a new one, if the old leader was cut off) and commits;
* after healing, every acknowledged write of a unique key is present on every member;
* the whole history (timed-out writes may or may not have happened; a final read of every
  key through every member) is linearizable.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from storenet import BASE_PORT, NsStore, final_ops, have_etcd, history

from reconciler.daemon import store_cluster
from reconciler.testing.linearizability import check
from reconciler.testing.netns import Network

pytestmark = [pytest.mark.needs_root, pytest.mark.etcd, pytest.mark.slow]

BACKENDS = ["etcd", "builtin"]


def _store(net: Network, backend: str, directory: Path) -> NsStore:
    if not have_etcd():
        pytest.skip("Debian's etcd-server and etcd-client are not installed")
    layout = store_cluster.Layout(backend, len(net.hosts), BASE_PORT, f"fault-{time.time_ns()}")
    return NsStore(net, backend, directory, layout)


def _partition_run(
    backend: str, tmp_path: Path, members: int, minority_of: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Network(members) as net:
        s = _store(net, backend, tmp_path)
        s.start()
        s.start_clients()
        s.wait_acked(list(range(members)), 0.0, 20)  # everyone writes before the fault
        leader = s.wait_leader(list(range(members)), 10)
        # the leader alone, or (2|3) the leader and one follower
        minority = [leader] if minority_of == "leader" else [leader, (leader + 1) % members]
        majority = [i for i in range(members) if i not in minority]
        net.partition([minority, majority])
        cut = time.monotonic()
        recovered = s.wait_acked(majority, cut, 20)
        new_leader = s.wait_leader(majority, 10)
        # keep the cut while the majority goes on committing and the minority times out
        s.wait_acked(majority, time.monotonic(), 10)
        time.sleep(1.5)  # the minority's clients keep trying meanwhile (not synchronisation)
        heal = time.monotonic()
        net.heal()
        healed = s.wait_acked(minority, heal, 30)
        s.stop_clients()
        final, uniques = final_ops(s, list(range(members)))

    ops, acked, attempted = history(s)
    minority_acks = sum(s.acked_writes(i, cut, heal) for i in minority)
    majority_acks = sum(s.acked_writes(i, cut, heal) for i in majority)
    with capsys.disabled():
        print(
            f"\n{backend} {members} members, minority {[i + 1 for i in minority]}: "
            f"{len(ops)} ops, {len(acked)} acked unique puts; majority committed again "
            f"{recovered:.2f} s after the cut (leader m{new_leader + 1}), {majority_acks} writes "
            f"during the cut; minority writing again {healed:.2f} s after healing"
        )
    assert new_leader in majority
    assert minority_acks == 0, "the minority acknowledged a write while cut off"
    assert majority_acks > 0
    for i, present in enumerate(uniques):
        lost = sorted(acked - present)
        assert not lost, f"member {i + 1} lacks acknowledged writes: {lost[:10]}"
        assert present <= attempted, (
            f"member {i + 1} holds writes never sent: {present - attempted}"
        )
    result = check([*ops, *final])
    assert result, result.detail


@pytest.mark.parametrize("backend", BACKENDS)
def test_isolated_leader_3_members(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _partition_run(backend, tmp_path, 3, "leader", capsys)


@pytest.mark.parametrize("backend", BACKENDS)
def test_symmetric_partition_5_members_2_3(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _partition_run(backend, tmp_path, 5, "pair", capsys)
