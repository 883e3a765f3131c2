"""When a member fails the writes it waits for as "leader changed" (store_raft.py).

A write forwarded to a leader is failed as indeterminate when another leadership takes
over (the answer cannot come from where it went), but not when the member merely forgets
its leader for a moment: a follower whose election timer fires under load becomes a
pre-candidate, and hears the same leader of the same term again a few ms later. Failing
then failed hundreds of `etcdctl check perf --load=l` writes with no leader change at all.
"""

from __future__ import annotations

import asyncio
import random

from reconciler.base.clock import ManualClock
from reconciler.base.errors import StoreUnavailable
from reconciler.daemon.store_member import MemberConfig, StoreMember
from reconciler.daemon.store_raft import RaftEngine
from reconciler.kv.types import Applied
from reconciler.raft.storage import MemoryStorage
from reconciler.raft.types import Ready, SoftState, StateType


def _waiting_write(member: StoreMember) -> asyncio.Future[Applied]:
    """A write this member forwarded and waits for (as ``StoreMember.write`` leaves it)."""
    fut: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
    member._waiting[len(member._waiting) + 1] = fut
    return fut


async def _scenario() -> None:
    rng = random.Random(1)
    member = StoreMember(MemberConfig("m1", "t", 7, 1), ManualClock(), rng)
    engine = RaftEngine(member, MemoryStorage(), rng)
    follower = StateType.FOLLOWER

    await engine._apply(Ready(soft_state=SoftState(lead=2, role=follower)))
    write = _waiting_write(member)
    # the election timer fired: a pre-candidate knows no leader ...
    await engine._apply(Ready(soft_state=SoftState(lead=0, role=StateType.PRE_CANDIDATE)))
    assert not write.done(), "a write failed while its leader was only unknown"
    # ... and hears the same leader of the same term again
    await engine._apply(Ready(soft_state=SoftState(lead=2, role=follower)))
    assert not write.done(), "a write failed although the leader never changed"
    # another leader: the write went where no answer can come from
    await engine._apply(Ready(soft_state=SoftState(lead=3, role=follower)))
    assert write.done() and isinstance(write.exception(), StoreUnavailable)
    assert "leader changed" in str(write.exception())


def test_a_forwarded_write_fails_at_a_leader_change_not_at_a_pre_vote() -> None:
    asyncio.run(_scenario())
