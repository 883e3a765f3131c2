"""Node health and fencing decisions.

A node is *online* while its liveness lease exists in the store. A node that
is not online is *unclean* when it may still run something: its last observed
state shows active resources (or an operation that was in flight), and no
successful fencing of it has been recorded since it was last seen. Unclean
nodes are fenced before their resources are recovered elsewhere; a node that
held nothing is simply *offline* (fencing an idle node buys no safety).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Health(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # down, known to run nothing (clean)
    UNCLEAN = "unclean"  # down, may run resources: must be fenced first


@dataclass(frozen=True, slots=True)
class NodeFacts:
    name: str
    live: bool
    holds_resources: bool  # observed state shows an active resource on it
    last_seen: float | None  # wall time its lease was last observed (None: never)
    fenced_at: float | None  # wall time of the last successful fencing (None: never)


def health(facts: NodeFacts) -> Health:
    if facts.live:
        return Health.ONLINE
    if not facts.holds_resources:
        return Health.OFFLINE
    if facts.fenced_at is not None and (
        facts.last_seen is None or facts.fenced_at >= facts.last_seen
    ):
        return Health.OFFLINE
    return Health.UNCLEAN


def classify(facts: Iterable[NodeFacts]) -> dict[str, Health]:
    return {f.name: health(f) for f in sorted(facts, key=lambda f: f.name)}


def choose_fencer(
    target: str, healths: Mapping[str, Health], prefer: str | None = None
) -> str | None:
    """The node whose agent runs the fence action: never the target, always online.

    The coordinator's own node is preferred (one hop fewer), else the first
    online node by name, so the choice is deterministic.
    """
    online = sorted(n for n, h in healths.items() if h is Health.ONLINE and n != target)
    if not online:
        return None
    if prefer is not None and prefer in online:
        return prefer
    return online[0]


def may_recover(node: str, healths: Mapping[str, Health], stonith_enabled: bool) -> bool:
    """Whether resources last seen on ``node`` may be started elsewhere now.

    With fencing disabled an unclean node is treated as offline (the operator
    chose availability over safety, and ``hactl status`` warns about it).
    """
    h = healths.get(node, Health.OFFLINE)
    if h is Health.ONLINE:
        return False
    return h is Health.OFFLINE or not stonith_enabled


# --------------------------------------------------------------------------- fast loss
# A node's hacd that died while its kernel lives is known dead long before its lease
# expires: the coordinator's idle connection to its agent port breaks and a reconnect
# is *refused* (nothing listens there any more). A broken connection alone proves
# nothing (a live node behind a cut looks the same: no answer, or a timeout), and a
# port that was never reached proves nothing either (a node still starting). Only
# connected -> broken -> refused does. Fencing such a node at once is safe: fencing a
# node that is in fact alive is disruptive, never unsafe, and its resources still move
# only after the fencing succeeded.

REFUSED_CAUSE = "agent port refused connections"


class Port(StrEnum):
    NEVER = "never"  # not connected yet: a refusal here proves nothing
    UP = "up"  # connected
    BROKEN = "broken"  # was connected, the connection broke; reconnecting
    REFUSED = "refused"  # was connected, then a reconnect was refused: hacd is gone


class PortEvent(StrEnum):
    CONNECTED = "connected"
    CLOSED = "closed"  # the established connection ended (EOF, reset)
    REFUSED = "refused"  # a connect attempt got ECONNREFUSED
    NO_ANSWER = "no-answer"  # a connect attempt timed out or the host was unreachable


def port_step(state: Port, event: PortEvent) -> Port:
    """The watch of one agent port incarnation; REFUSED is final for that incarnation."""
    if state is Port.REFUSED:
        return Port.REFUSED
    if event is PortEvent.CONNECTED:
        return Port.UP
    if state is Port.NEVER:
        return Port.NEVER
    if event is PortEvent.REFUSED:
        return Port.REFUSED
    return Port.BROKEN  # CLOSED or NO_ANSWER after having been connected


def lost_early(
    live: Mapping[str, str], refused: Iterable[str], stonith_enabled: bool
) -> tuple[str, ...]:
    """Live nodes (node -> incarnation key) to treat as lost before their lease expires.

    Only with fencing enabled (without it safety rests on the lease wait alone), and
    only for the incarnation whose port refused: a node that restarted since is a new
    incarnation and is not touched.
    """
    if not stonith_enabled:
        return ()
    dead = set(refused)
    return tuple(n for n in sorted(live) if live[n] in dead)
