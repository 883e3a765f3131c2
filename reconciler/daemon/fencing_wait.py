"""Without fencing: wait out a lost node's lease before recovering its resources.

With ``fencingEnabled: false`` nothing powers a lost node off, so the only
guarantee that it stopped its resources is its own: a node agent that cannot
renew its liveness lease stops its resources before the lease runs out (the
no-quorum-policy self-stop). The coordinator therefore recovers a lost node's
resources only once that lease has *provably* expired plus a margin:

    not before  lost_at + lease_ttl + margin

where ``lost_at`` is the moment this coordinator first read a state without
the node's liveness key — the last moment the node may still have believed
itself a member (a coordinator that just took over counts from its first
look). The node's own deadline (its last successful renewal + the lease TTL)
lies before ``lost_at + lease_ttl``, and its agent stops its resources before
that deadline, so once the wait is over nothing of it still runs. Until then
the node is treated as still present: its resources stay where they are and
nothing is started elsewhere. Measured on this process's monotonic clock, so
wall-clock jumps change nothing.

With fencing enabled a lost node is fenced as soon as it is lost; the lease is
what says it is lost. :class:`EarlyLoss` says it sooner for a node whose ``hacd``
is known dead: the coordinator's idle connection to its agent port broke and a
reconnect was refused (:func:`reconciler.controller.fencing.lost_early`). Such a
node counts as not live for planning, so it is fenced at once; its resources move
only once that fencing succeeded, as after a lease expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from reconciler.base.errors import StoreError
from reconciler.controller.fencing import REFUSED_CAUSE, lost_early
from reconciler.daemon import keys
from reconciler.daemon.election import holder
from reconciler.daemon.planning import cluster_spec
from reconciler.daemon.state import ClusterState
from reconciler.statestore.etcd import Kv
from reconciler.transport.agent_api import AgentClient

log = logging.getLogger("hacd.coordinator")


@dataclass(slots=True)
class LeaseWatch:
    lease_ttl: float
    margin: float
    lost_at: dict[str, float] = field(default_factory=dict)

    def observe(self, live: Iterable[str], known: Iterable[str], now: float | None = None) -> None:
        """Note which of the ``known`` nodes are live now (a node newly absent starts its wait)."""
        t = time.monotonic() if now is None else now
        present = set(live)
        for n in present:
            self.lost_at.pop(n, None)
        for n in sorted(set(known) - present):
            self.lost_at.setdefault(n, t)

    def waiting(self, lost: Iterable[str], now: float | None = None) -> Mapping[str, float]:
        """Lost nodes still inside their wait: node → seconds left."""
        t = time.monotonic() if now is None else now
        out: dict[str, float] = {}
        for n in sorted(set(lost)):
            left = self.lost_at.get(n, t) + self.lease_ttl + self.margin - t
            if left > 0:
                out[n] = left
        return out


def incarnation(node: str, live: Mapping[str, object]) -> str:
    """One run of a node's hacd: its liveness value names its address, pid and start."""
    return f"{node}|{live.get('address', '')}|{live.get('pid', '')}|{live.get('since', '')}"


class EarlyLoss:
    """Live nodes whose hacd is known dead (refused agent port), treated as lost at once."""

    def __init__(self, agents: AgentClient, wake: Callable[[], None], own_node: str) -> None:
        self._agents = agents
        self._wake = wake
        self._own = own_node
        # node -> why it was taken as lost early; kept after the node left (the fencing
        # that follows records it) until the node is live again
        self.causes: dict[str, str] = {}

    def apply(self, state: ClusterState) -> ClusterState:
        """Watch every other live node's agent port; drop the known-dead ones from ``live``."""
        watch = self._agents.port_watch(self._wake)
        live = {
            n: incarnation(n, v)
            for n, v in sorted(state.live.items())
            if n != self._own and v.get("address")
        }
        watch.watch({key: str(state.live[n]["address"]) for n, key in live.items()})
        enabled = cluster_spec(state).get("fencingEnabled", True) is not False
        dead = lost_early(live, watch.refused, enabled)
        for n in [n for n in self.causes if n in live and n not in dead]:
            del self.causes[n]  # live again (a new incarnation) or alive after all
        if not dead:
            return state
        for n in dead:
            if n not in self.causes:
                at = watch.refused_at.get(live[n], time.time())
                log.warning(
                    "node %s is lost: %s (%.3fs ago); fencing it without waiting for its lease",
                    n,
                    REFUSED_CAUSE,
                    time.time() - at,
                )
                self.causes[n] = REFUSED_CAUSE
        return replace(state, live={n: v for n, v in state.live.items() if n not in dead})

    def cause(self, node: str) -> str:
        return self.causes.get(node, "")


async def watch_coordinator(kv: Kv, own_node: str, agents: AgentClient) -> None:
    """On every node: end the coordinator's lease at once when its hacd is known dead.

    The election key lives under the coordinator node's lease, so after a kill -9 of
    that hacd the next coordinator is elected (and the dead node is seen lost and
    fenced) only once the lease TTL has run out. Every other node therefore holds an
    idle connection to the coordinator's agent port; when it breaks and a reconnect is
    *refused* (the same proof as :class:`EarlyLoss`), the node revokes that lease: the
    election key and the dead node's liveness key go at once, the campaign picks the
    next coordinator, and that one fences the dead node before its resources move.
    Only with fencing enabled (without it, the lease wait alone keeps things safe, and
    nothing changes). A coordinator that was in fact alive loses nothing it relies on
    for safety: its writes are guarded by its token, its agent rejoins.
    """
    changed = asyncio.Event()
    watch = agents.port_watch(changed.set)
    follower = asyncio.create_task(_follow(kv, changed))
    try:
        while True:
            changed.clear()
            try:
                target = await _coordinator_target(kv, own_node)
            except StoreError:
                # the store is electing (the dead coordinator's node often led it too):
                # keep watching what we watched and ask again soon, not in 5 s
                await asyncio.sleep(0.1)
                continue
            watch.watch({target[0]: target[1]} if target else {})
            if target and target[0] in watch.refused:
                at = watch.refused_at.get(target[0], time.time())
                if not await _end_lease(kv, target, at):
                    await asyncio.sleep(0.1)  # the store is electing (it was its leader)
                    continue
                await asyncio.sleep(0.2)  # the deletions wake us; no busy loop meanwhile
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), 5.0)
    finally:
        follower.cancel()
        await agents.close()


async def _coordinator_target(kv: Kv, own_node: str) -> tuple[str, str, int, str] | None:
    """(incarnation key, agent address, election lease, node) of another node's coordinator;
    StoreError when the store cannot tell now."""
    try:
        cur = await kv.get(keys.ELECTION)
        if cur is None or not cur.lease:
            return None
        node = holder(cur.value)
        if not node or node == own_node:
            return None
        live = await kv.get(keys.live(node))
        if live is None:
            return None
        value = json.loads(live.value)
        if not isinstance(value, dict) or not value.get("address") or live.lease != cur.lease:
            return None
        return incarnation(node, value), str(value["address"]), cur.lease, node
    except ValueError:
        return None


async def _end_lease(kv: Kv, target: tuple[str, str, int, str], refused_at: float) -> bool:
    """Revoke the dead coordinator's lease; False when the store did not answer (retry)."""
    _, _, lease, node = target
    try:
        entries, _ = await kv.range(keys.desired_kind("Cluster"))
        for e in entries:
            spec = (json.loads(e.value) or {}).get("spec") or {}
            if spec.get("fencingEnabled", True) is False:
                return True  # without fencing the lease wait stays
        cur = await kv.get(keys.ELECTION)
        if cur is None or cur.lease != lease:
            return True  # already gone, or someone else coordinates now
        log.warning(
            "coordinator %s is lost: %s (%.3fs ago); ending its lease so that the next "
            "coordinator fences it without waiting for the lease",
            node,
            REFUSED_CAUSE,
            time.time() - refused_at,
        )
        await kv.revoke(lease)
    except StoreError as e:
        log.info("ending the lease of coordinator %s: %s; retrying", node, e)
        return False
    except ValueError as e:
        log.info("ending the lease of coordinator %s: %s", node, e)
    return True


async def _follow(kv: Kv, changed: asyncio.Event) -> None:
    """Set ``changed`` on every change of the election key (and of liveness)."""
    while True:
        try:
            _, rev = await kv.range(keys.ELECTION)
            changed.set()
            async for _ in kv.watch(keys.ELECTION, rev + 1):
                changed.set()
        except StoreError:
            await asyncio.sleep(0.5)
