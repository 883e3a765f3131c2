"""The whole cluster state read from the store at one revision, and its views.

One range over ``/hactl/`` is a consistent snapshot: desired objects, live
nodes, every node's operation history, failcounts and attributes, fencing
records. :func:`observed_status` turns it into the observed-status model the
scheduler's interop reads; node health (online/offline/unclean) is decided by
:mod:`reconciler.controller.fencing`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.controller.fencing import Health, NodeFacts, classify
from reconciler.daemon import keys
from reconciler.daemon.startup_wait import MARKER as STARTUP_MARKER
from reconciler.model.status import (
    Failcount,
    ObservedNode,
    ObservedStatus,
    ResourceHistory,
)
from reconciler.model.status import NodeState as StatusNodeState
from reconciler.statestore.etcd import Entry, Kv

ACTIVE_OPS = ("start", "promote", "demote", "migrate_from")


@dataclass(slots=True)
class ClusterState:
    revision: int
    desired: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # kind -> name
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    histories: dict[str, dict[str, ResourceHistory]] = field(default_factory=dict)
    history_revs: dict[tuple[str, str], int] = field(default_factory=dict)
    failcounts: dict[str, list[Failcount]] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    node_attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    fencing: dict[str, dict[str, Any]] = field(default_factory=dict)
    coordinator: dict[str, Any] | None = None
    election: Entry | None = None
    startup: dict[str, Any] | None = None  # the startup wait's marker (see .startup_wait)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        by_name = self.desired.get(kind.lower(), {})
        return [by_name[n] for n in sorted(by_name)]


def _json(e: Entry) -> Any:
    try:
        return json.loads(e.value)
    except ValueError:
        return None


# (key, mod revision) -> the parsed history or failcount (frozen models): a key that did
# not change since the last read is not parsed again (the coordinator reads every pass)
_Parsed = dict[tuple[str, int], Any]
_parsed: _Parsed = {}


def _cached(e: Entry, cls: type[ResourceHistory] | type[Failcount], seen: _Parsed) -> Any:
    k = (e.key, e.mod_revision)
    v = _parsed.get(k)
    if v is None:
        try:
            v = cls.model_validate_json(e.value)
        except ValueError:
            return None
    seen[k] = v
    return v


def parse(entries: Iterable[Entry], revision: int) -> ClusterState:
    global _parsed
    seen: _Parsed = {}
    try:
        return _parse(entries, revision, seen)
    finally:
        _parsed = seen


def _parse(entries: Iterable[Entry], revision: int, seen: _Parsed) -> ClusterState:
    st = ClusterState(revision=revision)
    for e in entries:
        k = e.key
        if k.startswith(keys.DESIRED):
            kind, _, name = k[len(keys.DESIRED) :].partition("/")
            doc = _json(e)
            if isinstance(doc, dict):
                meta = doc.setdefault("metadata", {})
                meta["resourceVersion"] = str(e.mod_revision)
                st.desired.setdefault(kind, {})[name] = doc
        elif k.startswith(keys.LIVE):
            v = _json(e)
            st.live[k[len(keys.LIVE) :]] = v if isinstance(v, dict) else {}
        elif k.startswith(keys.OBSERVED):
            parts = keys.split(k, keys.OBSERVED)
            if len(parts) < 3:
                continue
            node, what = parts[0], parts[1]
            if what == "rsc":
                h = _cached(e, ResourceHistory, seen)
                if h is None:
                    continue
                st.histories.setdefault(node, {})[h.name] = h
                st.history_revs[(node, h.name)] = e.mod_revision
            elif what == "fail":
                fc = _cached(e, Failcount, seen)
                if fc is None:
                    continue
                st.failcounts.setdefault(node, []).append(fc)
            elif what == "attr":
                st.attributes.setdefault(node, {})["/".join(parts[2:])] = e.value.decode()
        elif k.startswith(keys.NODEATTR):
            node, _, name = k[len(keys.NODEATTR) :].partition("/")
            st.node_attributes.setdefault(node, {})[name] = e.value.decode()
        elif k.startswith(keys.FENCING):
            v = _json(e)
            if isinstance(v, dict):
                st.fencing[k[len(keys.FENCING) :]] = v
        elif k == keys.COORDINATOR:
            v = _json(e)
            st.coordinator = v if isinstance(v, dict) else None
        elif k == keys.ELECTION:
            st.election = e
        elif k == STARTUP_MARKER:
            v = _json(e)
            st.startup = v if isinstance(v, dict) else None
    return st


class Snapshot:
    """Entries of one range, read at one revision, answering narrower reads from memory
    (``range``/``get`` as the store port's, for readers such as the GitOps records)."""

    def __init__(self, entries: list[Entry], revision: int) -> None:
        self.entries = entries
        self.revision = revision

    def under(self, prefix: str) -> list[Entry]:
        return [e for e in self.entries if e.key.startswith(prefix)]

    async def range(self, prefix: str) -> tuple[list[Entry], int]:
        return self.under(prefix), self.revision

    async def get(self, key: str) -> Entry | None:
        return next((e for e in self.entries if e.key == key), None)

    async def txn(self, compares: Sequence[object], success: Sequence[object]) -> None:
        raise TypeError("a snapshot is read only")


async def read(kv: Kv) -> ClusterState:
    entries, revision = await kv.range(keys.ROOT)
    return parse(entries, revision)


def is_active(h: ResourceHistory) -> bool:
    """Whether the last meaningful operation leaves the resource active on the node."""
    ops = sorted((o for o in h.operations if o.interval_ms == 0), key=lambda o: o.call_id)
    if not ops:
        return False
    last = ops[-1]
    if last.operation == "stop":
        return last.rc != 0
    if last.operation == "monitor":
        return last.rc not in (7,)
    return last.operation in ACTIVE_OPS


def base_name(instance: str) -> str:
    """``web:2`` (a clone instance) -> ``web``."""
    head, sep, tail = instance.rpartition(":")
    return head if sep and tail.isdigit() else instance


def instances(state: ClusterState, node: str, rsc: str) -> list[ResourceHistory]:
    """The histories on ``node`` of ``rsc`` itself or of its clone instances."""
    return [
        h for name, h in sorted(state.histories.get(node, {}).items()) if base_name(name) == rsc
    ]


def active_nodes(state: ClusterState, rsc: str) -> list[str]:
    return sorted(n for n in state.histories if any(is_active(h) for h in instances(state, n, rsc)))


def cloned(state: ClusterState) -> set[str]:
    """Resources (and groups' members) that run as clones: active on many nodes by design."""
    out: set[str] = set()
    groups = {d["metadata"]["name"]: d.get("spec") or {} for d in state.objects("group")}
    for d in state.objects("clone"):
        target = str((d.get("spec") or {}).get("resource") or "")
        out.add(target)
        out.update(str(m) for m in groups.get(target, {}).get("resources", []))
    return out


def node_names(state: ClusterState, configured: Iterable[str]) -> list[str]:
    names = set(configured) | set(state.live) | set(state.histories)
    names |= set(state.desired.get("node", {}))
    return sorted(names)


def healths(state: ClusterState, configured: Iterable[str]) -> dict[str, Health]:
    facts = []
    for n in node_names(state, configured):
        holds = any(is_active(h) for h in state.histories.get(n, {}).values())
        fenced = state.fencing.get(n)
        facts.append(
            NodeFacts(
                name=n,
                live=n in state.live,
                holds_resources=holds,
                last_seen=None,
                fenced_at=float(fenced.get("at", 0)) if fenced and fenced.get("ok") else None,
            )
        )
    return classify(facts)


def observed_status(
    state: ClusterState,
    configured: Iterable[str],
    now: float,
    have_quorum: bool = True,
    dc: str | None = None,
) -> ObservedStatus:
    hs = healths(state, configured)
    nodes = []
    for n in sorted(hs):
        h = hs[n]
        attrs = dict(state.node_attributes.get(n, {}))
        attrs.update(state.attributes.get(n, {}))
        if h is Health.ONLINE:
            node_state = StatusNodeState.ONLINE
        elif h is Health.UNCLEAN:
            node_state = StatusNodeState.UNCLEAN
        else:
            node_state = StatusNodeState.OFFLINE
        histories = state.histories.get(n, {})
        nodes.append(
            ObservedNode(
                name=n,
                state=node_state,
                attributes=attrs,
                failcounts=tuple(
                    sorted(
                        state.failcounts.get(n, []),
                        key=lambda f: (f.resource, f.operation or "", f.interval_ms or 0),
                    )
                ),
                resources=tuple(histories[r] for r in sorted(histories)),
            )
        )
    return ObservedStatus(have_quorum=have_quorum, now=int(now), dc_node=dc, nodes=tuple(nodes))


def live_addresses(state: ClusterState) -> Mapping[str, str]:
    return {n: str(v.get("address", "")) for n, v in sorted(state.live.items())}
