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
