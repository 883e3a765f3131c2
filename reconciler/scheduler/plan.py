"""The scheduler's output and its entry point, :func:`plan`.

``plan(input, now) -> Plan`` runs the stages unpack -> assign -> actions ->
orderings -> propagation and freezes the result: per-instance placement with
scores and the constraints that contributed, the actions with their ordering
edges (a DAG, pseudo actions for groups and clones), fencing actions, the
Transition Summary changes, and ``recheck_at`` (when a failure-timeout
expires and the cluster must be planned again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from reconciler.scheduler import actions as act
from reconciler.scheduler.assign import assign
from reconciler.scheduler.constraints import colocation_pairs, location_scores, order_pairs
from reconciler.scheduler.graph import Context, apply_orders, build
from reconciler.scheduler.input import SchedulerInput
from reconciler.scheduler.notify import add_notifications
from reconciler.scheduler.unpack import NodeInfo, unpack

_NO_META: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Contribution:
    """One term of a resource's score on a node: ``source`` added ``score``."""

    source: str
    node: str
    score: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one instance will run, in which role, and why."""

    resource: str
    node: str | None
    role: str
    current_nodes: tuple[str, ...]
    current_role: str
    scores: Mapping[str, int]
    contributions: tuple[Contribution, ...]
    reason: str | None


@dataclass(frozen=True, slots=True)
class Action:
    """One action of the transition graph."""

    id: int
    resource: str | None
    task: str
    node: str | None
    pseudo: bool
    optional: bool
    runnable: bool
    reason: str | None
    interval_ms: int = 0
    notify: Mapping[str, str] = field(default_factory=lambda: _NO_META)
    """Clone notifications (``notify=true``): the variables the agent receives as
    ``OCF_RESKEY_CRM_meta_<name>`` (``notify_type``, ``notify_operation``, the
    ``notify_*_resource`` / ``notify_*_uname`` lists); set on ``notify`` actions, on
    the clone's ``notify``/``notified`` pseudo actions (type and operation only) and
    on the instances' required start/stop/promote/demote actions (lists only)."""

    @property
    def key(self) -> str:
        base = self.resource if self.resource is not None else "cluster"
        task = self.task
        if task in ("notify", "notified") and "notify_type" in self.notify:
            # Pacemaker's keys: rsc_pre_notify_start_0, clone_confirmed-post_notify_running_0
            if self.pseudo:
                kind = self.notify.get("notify_key_type", self.notify["notify_type"])
                operation = self.notify.get("notify_key_operation", "")
            else:
                kind, operation = self.notify["notify_type"], self.notify["notify_operation"]
            task = f"{kind}_notify_{operation}"
        return f"{base}_{task}_{self.interval_ms}" + (f"@{self.node}" if self.node else "")


@dataclass(frozen=True, slots=True)
class Fencing:
    """A node that will be fenced first, and why."""

    node: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the scheduler decided for one (input, now)."""

    placements: Mapping[str, Placement]
    actions: tuple[Action, ...]
    edges: tuple[tuple[int, int], ...]
    dropped_edges: tuple[tuple[int, int], ...]
    fencing: tuple[Fencing, ...]
    changes: Mapping[str, act.ResourceChange]
    graph_actions: tuple[act.Act, ...]
    resource_order: tuple[str, ...]
    recheck_at: int | None
    node_status: Mapping[str, str] = field(default_factory=dict)

    def required_actions(self) -> tuple[Action, ...]:
        """The actions that will be executed (required and runnable)."""
        return tuple(a for a in self.actions if not a.optional and a.runnable)


def plan(inp: SchedulerInput, now: int) -> Plan:
    """Plan the cluster described by ``inp`` at time ``now`` (epoch seconds)."""
    u = unpack(inp, now)
    known: dict[str, object] = {}
    for k in u.prims:
        known[k] = k
    for k in u.groups:
        known[k] = k
    for k in u.clones:
        known[k] = k
    for c in u.clones.values():
        known.setdefault(c.base_child, c.id)
    # constraints naming a clone's child address the clone
    alias = {c.base_child: c.id for c in u.clones.values()}
    nodes_attrs = {n.name: n.attrs for n in u.nodes}
    locs = tuple(
        type(loc)(alias.get(loc.resource, loc.resource), loc.node, loc.score, loc.source, loc.role)
        for loc in location_scores(inp, nodes_attrs, known, now)
    )
    colocs = tuple(
        type(c)(
            c.id,
            alias.get(c.dependent, c.dependent),
            alias.get(c.primary, c.primary),
            c.score,
            c.dependent_role,
            c.primary_role,
            c.node_attribute,
            c.influence,
        )
        for c in colocation_pairs(inp, known)
    )
    orders = tuple(
        type(o)(
            o.id,
            alias.get(o.first, o.first),
            o.first_action,
            alias.get(o.then, o.then),
            o.then_action,
            o.kind,
            o.symmetrical,
            o.require_any,
        )
        for o in order_pairs(inp, known)
    )
    asg = assign(
        u,
        locs,
        colocs,
        symmetric=inp.options.symmetric_cluster,
        strategy=inp.options.placement_strategy.lower(),
        no_quorum_policy=inp.options.no_quorum_policy,
        stop_all=inp.options.stop_all_resources,
    )
    ctx = Context(
        u,
        asg,
        stonith_enabled=inp.options.stonith_enabled,
        no_quorum_policy=inp.options.no_quorum_policy.lower(),
        stonith_action=inp.options.stonith_action,
        concurrent_fencing=inp.options.concurrent_fencing,
    )
    g = build(ctx)
    apply_orders(ctx, g, orders)
    act.propagate(g)
    add_notifications(ctx, g)
    changes = act.resource_changes(u, asg)
    placements: dict[str, Placement] = {}
    for pid in u.prim_order:
        st = u.state[pid]
        placements[pid] = Placement(
            resource=pid,
            node=asg.node.get(pid),
            role=asg.next_role.get(pid, "Stopped"),
            current_nodes=st.running_on,
            current_role=st.role,
            scores=asg.scores.get(pid, MappingProxyType({})),
            contributions=tuple(
                Contribution(s, n, v) for s, n, v in asg.contributions.get(pid, ())
            ),
            reason=asg.stop_reason.get(pid),
        )
    frozen = tuple([_freeze(a) for a in g.acts])
    fencing = tuple(
        Fencing(a.node or "", inp.options.stonith_action, a.fence_reason or "")
        for a in g.acts
        if a.rsc is None and a.fence_reason is not None
    )
    edges, dropped = act.acyclic_edges(g)
    return Plan(
        placements=MappingProxyType(placements),
        actions=frozen,
        edges=edges,
        dropped_edges=dropped,
        fencing=fencing,
        changes=MappingProxyType(dict(changes)),
        graph_actions=tuple(g.acts),
        resource_order=u.prim_order,
        recheck_at=u.recheck_at,
        node_status=MappingProxyType({n.name: _status(n) for n in u.nodes}),
    )


_new = object.__new__
_set = object.__setattr__
ACTION_FIELDS = (
    "id",
    "resource",
    "task",
    "node",
    "pseudo",
    "optional",
    "runnable",
    "reason",
    "interval_ms",
    "notify",
)


def _freeze(a: act.Act) -> Action:
    """``Action(...)`` for one working action, setting the slots directly: a large
    cluster has hundreds of thousands of probes and the frozen dataclass's
    ``__init__`` costs twice as much. Sets every field in ``ACTION_FIELDS``
    (a unit test keeps that list equal to the dataclass's fields)."""
    out: Action = _new(Action)
    _set(out, "id", a.idx)
    _set(out, "resource", a.rsc)
    _set(out, "task", a.task)
    _set(out, "node", a.node)
    _set(out, "pseudo", a.pseudo)
    _set(out, "optional", a.optional)
    _set(out, "runnable", a.runnable)
    _set(out, "reason", a.reason)
    _set(out, "interval_ms", a.interval_ms)
    _set(out, "notify", _NO_META if a.meta is None else MappingProxyType(a.meta))
    return out


def _status(n: NodeInfo) -> str:
    """One word for why a node can or cannot run resources."""
    if n.unclean:
        return "unclean"
    if not n.online:
        return "offline"
    for flag, word in (
        (n.pending, "pending"),
        (n.shutdown, "shutting down"),
        (n.maintenance, "maintenance"),
        (n.standby, "standby"),
    ):
        if flag:
            return word
    return "online"
