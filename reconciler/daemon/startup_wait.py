"""Whole-cluster start: the coordinator waits for the configured nodes to join (dc-deadtime).

When every node was down and the cluster starts again, the first coordinator is
elected as soon as the store has quorum, with only some of the nodes joined. Planning
right then would start a resource on the first node up and move it to its preferred
node when that one joins (or, with stickiness, leave it there for good). Like
Pacemaker's DC, which waits ``dc-deadtime`` for the other nodes before it computes
the first transition, the coordinator holds back starts, promotions, migrations, moves
and the fencing of a node it waits for, until every configured node has joined or the
Cluster's ``startupWait`` has passed. Probes, and stops that are not half of a move
(a resource found active twice, a failed or unwanted one), go on meanwhile.

Cluster start or coordinator change? The store key ``/hactl/startup`` (the *marker*)
records, with the wait's outcome, the liveness key of every node as the coordinator
last saw it: ``members`` maps a node to the ``since`` its hacd wrote when it joined
(one value per hacd run; the coordinator keeps it current as nodes join and leave).
A new coordinator whose own liveness key is the one recorded has been part of the
running cluster: a coordinator change (no wait, failover is not delayed; a rolling
restart is one too). When its own hacd joined after the marker was written, every
hacd of the previous run is gone: a cluster start. The liveness keys the marker
recorded are then *stale* (a store restarted with its leases keeps them alive for
one more lease period, e.g. when every member stopped at once): a node counts as
joined only with a key of its own new run.

A node is not waited for when it is known lost: it joined during this wait and went
away again, or it has a successful fencing record (it was fenced and has not come
back since). Nor is a witness (a Node object with ``role: witness``: a store voter
whose hacd does not run). A single-node cluster does not wait. Everything here is pure: the
coordinator passes ``now`` and does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.controller.simple_plan import PlannedAction

MARKER = "/hactl/startup"
DEFAULT_WAIT_S = 20.0
HELD_OPERATIONS = frozenset({"start", "promote", "migrate_to", "migrate_from"})


@dataclass(frozen=True, slots=True)
class Wait:
    """A startup wait in progress (wall-clock seconds)."""

    since: float
    until: float
    seen: frozenset[str] = frozenset()  # nodes that joined at some point during the wait
    stale: Mapping[str, float] = field(default_factory=dict)  # keys of the previous run


@dataclass(frozen=True, slots=True)
class Check:
    waiting_for: tuple[str, ...]  # configured nodes not joined yet (and not known lost)
    lost: tuple[str, ...]  # joined during the wait and gone again, or fenced: not waited for
    expired: bool  # the deadline passed with nodes still missing


def _since(entry: Mapping[str, Any]) -> float | None:
    since = entry.get("since")
    if isinstance(since, int | float) and not isinstance(since, bool):
        return float(since)
    return None


def joined(
    live: Mapping[str, Mapping[str, Any]], stale: Mapping[str, float] | None = None
) -> set[str]:
    """Nodes whose hacd holds a liveness key of this run (neither a stand-in the
    coordinator adds for a lost node nor a key left from the previous run)."""
    old = stale or {}
    return {
        n for n, v in live.items() if not v.get("held") and (n not in old or _since(v) != old[n])
    }


def members(
    live: Mapping[str, Mapping[str, Any]], stale: Mapping[str, float] | None = None
) -> dict[str, float]:
    """node -> the ``since`` of its liveness key: one value per run of its hacd."""
    out: dict[str, float] = {}
    for n in sorted(joined(live, stale)):
        since = _since(live[n])
        if since is not None:
            out[n] = since
    return out


def recorded(marker: Mapping[str, Any] | None, key: str = "members") -> dict[str, float]:
    """A node -> since map from the marker (malformed entries dropped)."""
    got = (marker or {}).get(key)
    if not isinstance(got, dict):
        return {}
    return {str(n): float(v) for n, v in got.items() if _since({"since": v}) is not None}


def continues(
    marker: Mapping[str, Any] | None, live: Mapping[str, Mapping[str, Any]], me: str
) -> bool:
    """Whether the coordinator ``me`` was part of the run the marker describes: its own
    liveness key is the one the marker recorded (its hacd ran on since)."""
    mine = members(live).get(me)
    return mine is not None and recorded(marker).get(me) == mine


def begin(
    marker: Mapping[str, Any] | None,
    live: Mapping[str, Mapping[str, Any]],
    configured: Sequence[str],
    wait_s: float,
    now: float,
    *,
    me: str,
) -> Wait | None:
    """At a coordinator's first pass: the wait to run, or None to plan at once."""
    if len(set(configured)) <= 1 or wait_s <= 0:
        return None
    if marker is not None and continues(marker, live, me):
        if marker.get("complete") is not False:
            return None  # a coordinator change in a running cluster: failover is not delayed
        # the previous coordinator was waiting: go on with its wait, never longer than ours
        until = _float(marker.get("until"), now + wait_s)
        seen = frozenset(str(n) for n in marker.get("seen") or ())
        since = _float(marker.get("since"), now)
        return Wait(since, min(until, now + wait_s), seen, recorded(marker, "stale"))
    return Wait(now, now + wait_s, stale=recorded(marker))  # every key recorded is stale


def check(
    wait: Wait,
    live: Mapping[str, Mapping[str, Any]],
    fencing: Mapping[str, Mapping[str, Any]],
    configured: Sequence[str],
    now: float,
) -> tuple[Wait, Check]:
    """The wait after this pass's state, and whom it still waits for."""
    present = joined(live, wait.stale)
    seen = wait.seen | (present & set(configured))
    fenced = {n for n, rec in fencing.items() if isinstance(rec, Mapping) and rec.get("ok")}
    lost = sorted(((seen | fenced) - present) & set(configured))
    waiting = tuple(sorted(set(configured) - present - set(lost)))
    expired = bool(waiting) and now >= wait.until
    return replace(wait, seen=frozenset(seen)), Check(waiting, tuple(lost), expired)


def held_steps(
    actions: Iterable[PlannedAction],
    active_on: Callable[[str], Sequence[str]],
    waiting_for: Iterable[str],
) -> frozenset[str]:
    """The steps of a plan that wait for the end of the startup wait: starts, promotions,
    migrations, the stop half of a move (a resource active on one node and started on
    another) and the fencing of a node still waited for."""
    actions = list(actions)
    waiting = set(waiting_for)
    started: dict[str, set[str]] = {}
    for pa in actions:
        if pa.step.operation in HELD_OPERATIONS and pa.step.resource:
            started.setdefault(pa.step.resource, set()).add(pa.step.node or "")
    held = set()
    for pa in actions:
        step = pa.step
        if pa.target:
            if pa.target in waiting:
                held.add(step.id)
        elif step.operation in HELD_OPERATIONS:
            held.add(step.id)
        elif step.operation == "stop" and step.resource and started.get(step.resource):
            elsewhere = started[step.resource] - {step.node or ""}
            if elsewhere and list(active_on(step.resource)) == [step.node]:
                held.add(step.id)  # a move: the resource keeps running until the wait ends
    return frozenset(held)


class StartupGate:
    """The coordinator's startup wait across its passes. Pure: it is given ``now`` and
    returns the events to emit and the marker to write; the coordinator does the I/O."""

    def __init__(self, configured: Sequence[str], me: str) -> None:
        self.configured = tuple(sorted(set(configured)))
        self.me = me  # the coordinator's node
        self.decided = False
        self.wait: Wait | None = None
        self.stale: Mapping[str, float] = {}  # liveness keys left from the previous run
        self.waiting_for: tuple[str, ...] = ()
        self.held: frozenset[str] = frozenset()

    @property
    def waiting(self) -> bool:
        return self.wait is not None

    def stale_nodes(self, live: Mapping[str, Mapping[str, Any]]) -> set[str]:
        """Nodes whose liveness key is one left from the previous run: down, whatever the
        key says (the coordinator plans without them)."""
        return set(live) - joined(live, self.stale) - {n for n, v in live.items() if v.get("held")}

    def observe(
        self,
        marker: Mapping[str, Any] | None,
        live: Mapping[str, Mapping[str, Any]],
        fencing: Mapping[str, Mapping[str, Any]],
        wait_s: float,
        now: float,
        *,
        about: str = "cluster",
        witnesses: Iterable[str] = (),
        stale_ttl: float = 10.0,
    ) -> list[tuple[str, str, str]]:
        """Update the wait from one pass's state; the events to emit (type, object, text):
        about the Cluster object ``about``, and about each node that did not join.
        ``witnesses`` (Nodes with ``role: witness``: no hacd runs there) are not waited for.
        ``stale_ttl``: how long after the start of the wait a liveness key left from the
        previous run can still be there (a lease period and the store's grace); one
        still there later is renewed: its hacd never stopped, the node counts as joined
        (and the wait never ends before that is known)."""
        events: list[tuple[str, str, str]] = []
        skip = set(witnesses)
        nodes = [n for n in self.configured if n not in skip]
        first = not self.decided
        if first:
            self.decided = True
            self.wait = begin(marker, live, nodes, wait_s, now, me=self.me)
            self.stale = self.wait.stale if self.wait is not None else {}
        if self.wait is None:
            self.waiting_for = ()
            self.held = frozenset()
            return events
        # a startupWait lowered meanwhile (0: stop waiting) shortens the wait in progress
        self.wait = replace(self.wait, until=min(self.wait.until, self.wait.since + wait_s))
        settled = self.wait.since + stale_ttl
        lingering = {n for n, s in self.wait.stale.items() if n in live and _since(live[n]) == s}
        if lingering and now >= settled:  # renewed all along: a node that never stopped
            kept = {n: s for n, s in self.wait.stale.items() if n not in lingering}
            self.wait = replace(self.wait, stale=kept)
            self.stale = kept
            lingering = set()
        self.wait, c = check(self.wait, live, fencing, nodes, now)
        if c.expired and lingering:  # not before an old key is known to be stale or renewed
            self.wait = replace(self.wait, until=max(self.wait.until, settled))
            c = replace(c, expired=False)
        if c.waiting_for and not c.expired:
            if first or c.waiting_for != self.waiting_for:
                events.append(
                    (
                        "Normal",
                        about,
                        f"cluster start: waiting up to {max(0.0, self.wait.until - now):.0f} s "
                        f"for {', '.join(c.waiting_for)} to join before starting resources "
                        "(startupWait)",
                    )
                )
            self.waiting_for = c.waiting_for
            return events
        took = now - self.wait.since
        if c.expired:
            events += [
                (
                    "Warning",
                    n,
                    f"cluster start: {n} did not join within startupWait ({wait_s:g} s); "
                    "resources start without it",
                )
                for n in c.waiting_for
            ]
        elif not first:
            gone = f" ({', '.join(c.lost)} known lost)" if c.lost else ""
            events.append(
                ("Normal", about, f"cluster start: every node joined after {took:.1f} s{gone}")
            )
        self.wait = None
        self.waiting_for = ()
        self.held = frozenset()
        return events

    def hold(
        self, actions: Iterable[PlannedAction], active_on: Callable[[str], Sequence[str]]
    ) -> None:
        """Compute the steps of this pass's plan held back by the wait."""
        self.held = (
            held_steps(actions, active_on, self.waiting_for) if self.waiting else frozenset()
        )

    def report(self) -> dict[str, Any] | None:
        """What the coordinator's report says about the wait (None: not waiting)."""
        if self.wait is None:
            return None
        return {
            "since": self.wait.since,
            "until": self.wait.until,
            "waitingFor": list(self.waiting_for),
            "held": sorted(self.held),
        }

    def marker(
        self, stored: Mapping[str, Any] | None, live: Mapping[str, Mapping[str, Any]], token: int
    ) -> dict[str, Any] | None:
        """The marker to write now, or None when the stored one already says it."""
        if not self.decided:
            return None
        doc: dict[str, Any] = {
            "complete": self.wait is None,
            "members": members(live, self.stale),
        }
        if self.wait is not None:
            doc |= {
                "since": self.wait.since,
                "until": self.wait.until,
                "seen": sorted(self.wait.seen),
                "stale": dict(sorted(self.wait.stale.items())),
            }
        current = {k: v for k, v in (stored or {}).items() if k != "token"}
        if current == doc:
            return None
        return doc | {"token": token}


def _float(value: object, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default
