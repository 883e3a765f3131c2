"""Stage 3 (actions): the actions that take the cluster from its current state to the
assignment, the ordering edges between them, and flag propagation along the edges.

Each action is optional or required and runnable or not, as in Pacemaker; the
orderings carry Pacemaker's flags (implies-then, implies-first, runnable-left,
restart) and :func:`propagate` applies them until nothing changes, recording the
reason ("required rsc1 start", "unrunnable rsc3 start") the first time an
action's flags change because of another action.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.scheduler.assign import Assignment
from reconciler.scheduler.constraints import Ord
from reconciler.scheduler.units import PROMOTED, STARTED, STOPPED, UNPROMOTED
from reconciler.scheduler.unpack import Unpacked

IMPLIES_THEN = 1
IMPLIES_FIRST = 2
RUNNABLE_LEFT = 4
RESTART = 8
ASYMMETRIC = 16
SAME_RSC = 32
REQUIRES_ANY = 64
OPTIONAL_PSEUDO = 128


@dataclass(slots=True)
class Act:
    """An action under construction (frozen into the plan at the end)."""

    idx: int
    rsc: str | None
    task: str
    node: str | None
    pseudo: bool = False
    optional: bool = True
    runnable: bool = True
    reason: str | None = None
    interval_ms: int = 0
    fence_reason: str | None = None
    meta: dict[str, str] | None = None  # notification variables (clone notify=true)
    ins: list[tuple[int, int]] = field(default_factory=list)  # (first idx, flags)
    outs: list[tuple[int, int]] = field(default_factory=list)  # (then idx, flags)

    @property
    def label(self) -> str:
        if self.rsc is None:
            return self.task
        return f"{self.rsc} {self.task}"


class Graph:
    """Actions indexed by (resource, task, node) plus the ordering edges."""

    def __init__(self) -> None:
        self.acts: list[Act] = []
        self.index: dict[tuple[str | None, str, str | None], int] = {}
        self.by_rsc: dict[str, list[int]] = {}
        self.edges: set[tuple[int, int]] = set()
        # probe -> start orderings, in creation order: a probe has no inputs, so it
        # is never on a cycle and these edges need no cycle check
        self.probe_edges: list[tuple[int, int]] = []
        self.user_edges: set[tuple[int, int]] = set()
        self.active: set[str] = set()

    def add(
        self,
        rsc: str | None,
        task: str,
        node: str | None,
        *,
        pseudo: bool = False,
        optional: bool = True,
        runnable: bool = True,
        reason: str | None = None,
        interval_ms: int = 0,
        key_task: str | None = None,
    ) -> Act:
        """Add (or find) an action; ``key_task`` tells apart actions of one task on
        one node (notifications: ``pre_notify_start``, ``post_notify_start``)."""
        key = (rsc, key_task or (f"{task}_{interval_ms}" if interval_ms else task), node)
        if key in self.index:
            a = self.acts[self.index[key]]
            if not optional:
                a.optional = False
            return a
        a = Act(len(self.acts), rsc, task, node, pseudo, optional, runnable, reason, interval_ms)
        self.acts.append(a)
        self.index[key] = a.idx
        if rsc is not None:
            self.by_rsc.setdefault(rsc, []).append(a.idx)
        return a

    def add_probe(self, rsc: str, node: str) -> Act:
        """A required probe (monitor, interval 0): ``add`` without the keywords."""
        key = (rsc, "monitor", node)
        i = self.index.get(key)
        if i is not None:
            a = self.acts[i]
            a.optional = False
            return a
        a = Act(len(self.acts), rsc, "monitor", node, False, False)
        self.acts.append(a)
        self.index[key] = a.idx
        mine = self.by_rsc.get(rsc)
        if mine is None:
            self.by_rsc[rsc] = [a.idx]
        else:
            mine.append(a.idx)
        return a

    def find(self, rsc: str, task: str, node: str | None = None) -> Act | None:
        if node is not None:
            i = self.index.get((rsc, task, node))
            return self.acts[i] if i is not None else None
        for i in self.by_rsc.get(rsc, []):
            a = self.acts[i]
            if a.task == task and a.interval_ms == 0:
                return a
        return None

    def find_all(self, rsc: str, task: str) -> list[Act]:
        return [
            self.acts[i]
            for i in self.by_rsc.get(rsc, [])
            if self.acts[i].task == task and self.acts[i].interval_ms == 0
        ]

    def order(self, first: Act | None, then: Act | None, flags: int, *, user: bool = False) -> None:
        if first is None or then is None or first.idx == then.idx:
            return
        if flags:
            # pure orderings (flags 0) never change flags: keep them out of propagation
            first.outs.append((then.idx, flags))
            then.ins.append((first.idx, flags))
        self.edges.add((first.idx, then.idx))
        if user:
            self.user_edges.add((first.idx, then.idx))


def _set_reason(a: Act, text: str | None, overwrite: bool = False) -> None:
    if text is None:
        return
    if a.reason is None or overwrite:
        a.reason = text


def propagate(g: Graph) -> None:
    """Apply ordering flags until a fixpoint (bounded: flags only ever clear)."""
    # only actions with flagged orderings can change anything (probes, for one, have none)
    work = [a.idx for a in g.acts if a.ins or a.outs]
    queued = set(work)
    while work:
        i = work.pop()
        queued.discard(i)
        a = g.acts[i]
        changed: list[int] = []
        for t_idx, flags in a.outs:
            t = g.acts[t_idx]
            if _forward(a, t, flags, g):
                changed.append(t_idx)
        for f_idx, flags in a.ins:
            f = g.acts[f_idx]
            if _backward(f, a, flags):
                changed.append(f_idx)
        for c in changed:
            if c not in queued:
                queued.add(c)
                work.append(c)
        if changed and i not in queued:
            queued.add(i)
            work.append(i)


def _label_for(first: Act) -> str:
    return first.label


def _forward(first: Act, then: Act, flags: int, g: Graph) -> bool:
    changed = False
    if flags & REQUIRES_ANY:
        # then is a one-or-more pseudo action: runnable if any input is
        if then.runnable and not any(g.acts[i].runnable for i, _ in then.ins):
            then.runnable = False
            changed = True
        return changed
    if flags & RUNNABLE_LEFT and not first.runnable and then.runnable:
        then.runnable = False
        if first.rsc != then.rsc or then.rsc is None:
            _set_reason(then, f"unrunnable {_label_for(first)}")
        changed = True
    if flags & SAME_RSC and not first.runnable and then.runnable:
        then.runnable = False
        changed = True
    if (
        flags & ASYMMETRIC
        and not first.runnable
        and then.runnable
        and (then.rsc is None or then.rsc not in g.active)
    ):
        then.runnable = False
        _set_reason(then, f"unrunnable {_label_for(first)}")
        changed = True
    if (flags & IMPLIES_THEN or (flags & OPTIONAL_PSEUDO and first.pseudo)) and (
        not first.optional and then.optional and first.runnable
    ):
        then.optional = False
        if first.rsc != then.rsc:
            _set_reason(then, f"required {_label_for(first)}")
        changed = True
    return changed


def _backward(first: Act, then: Act, flags: int) -> bool:
    changed = False
    if flags & IMPLIES_FIRST and not then.optional and first.optional:
        first.optional = False
        changed = True
    if flags & RESTART and first.optional and (not then.optional or not then.runnable):
        first.optional = False
        changed = True
    return changed


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """What the summary needs to know about one primitive instance."""

    rsc: str
    role: str
    next_role: str
    current: tuple[str, ...]
    next_node: str | None
    failed: bool
    managed: bool


def resource_changes(u: Unpacked, asg: Assignment) -> Mapping[str, ResourceChange]:
    out: dict[str, ResourceChange] = {}
    for pid, prim in u.prims.items():
        st = u.state[pid]
        out[pid] = ResourceChange(
            rsc=pid,
            role=st.role,
            next_role=asg.next_role.get(pid, STOPPED),
            current=st.running_on,
            next_node=asg.node.get(pid),
            failed=st.failed,
            managed=prim.managed and not st.blocked,
        )
    return out


def running_role(role: str) -> bool:
    return role in (STARTED, UNPROMOTED, PROMOTED)


def ordering_targets(u: Unpacked, o: Ord) -> None:  # pragma: no cover - placeholder
    _ = (u, o)


def _cyclic_nodes(n: int, edges: set[tuple[int, int]]) -> set[int]:
    """Nodes left over by Kahn's algorithm: those on or behind a cycle."""
    # A node on a cycle has edges in and out; most actions (probes, monitors) have
    # only one kind. Kahn's algorithm on the edges between nodes with both finds
    # every cycle; when there is none (the usual case) the answer is the empty set.
    has_in = {b for _, b in edges}
    has_out = {a for a, _ in edges}
    both = has_in & has_out
    inner = {(a, b) for a, b in edges if a in both and b in both}
    if not _kahn_leftover(n, inner):
        return set()
    return _kahn_leftover(n, edges)


def _kahn_leftover(n: int, edges: set[tuple[int, int]]) -> set[int]:
    """Kahn's algorithm over the nodes that have edges (the others cannot be stuck)."""
    _ = n
    succ: dict[int, list[int]] = {}
    indeg: dict[int, int] = {}
    for a, b in edges:
        out = succ.get(a)
        if out is None:
            succ[a] = [b]
        else:
            out.append(b)
        indeg[b] = indeg.get(b, 0) + 1
    ready = [a for a in succ if a not in indeg]
    while ready:
        i = ready.pop()
        for j in succ.get(i, ()):
            left = indeg[j] - 1
            indeg[j] = left
            if left == 0:
                ready.append(j)
    return {i for i, d in indeg.items() if d > 0}


def acyclic_edges(g: Graph) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """The ordering edges as a DAG, and the edges dropped to break loops.

    Contradictory configured orderings (A before B and B before A) would make a
    loop; the configured edges inside the loop are dropped first, then (never
    seen in practice) the remaining edges inside it.
    """
    edges = set(g.edges)
    acts = g.acts
    if g.probe_edges and any(
        acts[b].task == "monitor" and not acts[b].interval_ms for _, b in edges
    ):
        # something is ordered before a probe (unusual): check those edges too
        edges.update(g.probe_edges)
        g.probe_edges = []
    dropped: list[tuple[int, int]] = []
    for only_user in (True, False):
        stuck = _cyclic_nodes(len(g.acts), edges)
        if not stuck:
            break
        for e in sorted(edges):
            if e[0] in stuck and e[1] in stuck and (e in g.user_edges or not only_user):
                edges.discard(e)
                dropped.append(e)
    # probe edges come sorted (one per probe, probes numbered as created): a linear sort
    return tuple(heapq.merge(sorted(edges), sorted(g.probe_edges))), tuple(sorted(dropped))
