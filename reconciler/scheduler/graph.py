"""Stage 3b: create the actions for every instance, the fencing actions, and the
orderings (internal per resource, groups, clones, configured constraints)."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

from reconciler.scheduler.actions import (
    ASYMMETRIC,
    IMPLIES_FIRST,
    IMPLIES_THEN,
    OPTIONAL_PSEUDO,
    REQUIRES_ANY,
    RESTART,
    RUNNABLE_LEFT,
    SAME_RSC,
    Act,
    Graph,
)
from reconciler.scheduler.assign import Assignment
from reconciler.scheduler.constraints import Ord
from reconciler.scheduler.units import PROMOTED, STARTED, STOPPED, parse_bool, parse_role
from reconciler.scheduler.unpack import Unpacked


class Context:
    """Cluster-wide facts the action stage needs."""

    def __init__(
        self,
        u: Unpacked,
        asg: Assignment,
        *,
        stonith_enabled: bool,
        no_quorum_policy: str,
        stonith_action: str,
        concurrent_fencing: bool = False,
    ) -> None:
        self.u = u
        self.asg = asg
        self.stonith = stonith_enabled
        self.nqp = no_quorum_policy
        self.stonith_action = stonith_action
        self.concurrent_fencing = concurrent_fencing
        self.nodes = {n.name: n for n in u.nodes}
        self.quorate = u.have_quorum
        self.clone_probes: dict[str, dict[str, tuple[str, ...]]] = {}
        # nodes a resource without history there is probed on
        self.probe_nodes = tuple(
            n.name for n in u.nodes if n.online and not n.unclean and not n.pending
        )

    def can_fence(self, node: str) -> bool:
        if not self.stonith or not self.u.have_stonith_resource:
            return False
        if self.quorate or self.nqp == "ignore":
            return True
        return self.nodes[node].online


def build(ctx: Context) -> Graph:
    g = Graph()
    u = ctx.u
    g.active = {p for p, st in u.state.items() if st.running_on}
    fenced: dict[str, Act] = {}
    for n in u.nodes:
        if n.unclean and ctx.can_fence(n.name):
            a = g.add(None, f"stonith-{n.name}-{ctx.stonith_action}", n.name, optional=False)
            a.fence_reason = n.fence_reason or "node is unclean"
            fenced[n.name] = a
    if not ctx.concurrent_fencing:
        # one fencing at a time; the DC's own fencing last
        chain = sorted(fenced.values(), key=lambda f: (f.node == ctx.u.dc, f.idx))
        for before, after in pairwise(chain):
            g.order(before, after, 0)
    for pid in u.prim_order:
        _primitive_actions(ctx, g, pid, fenced)
    for gid in u.groups:
        _group_actions(ctx, g, gid)
    for cid in u.clones:
        _clone_actions(ctx, g, cid)
    return g


def _quorum_block(ctx: Context, pid: str, active: bool, elevating: bool) -> str | None:
    """The no-quorum reason that makes a start unrunnable, if any."""
    if ctx.quorate:
        return None
    prim = ctx.u.prims[pid]
    requires = prim.meta.get("requires")
    if requires == "nothing":
        return None
    if ctx.nqp in ("stop", "suicide") or (ctx.nqp == "demote" and not prim.promotable):
        return "no quorum"
    if ctx.nqp == "freeze" and (not active or elevating):
        return "quorum freeze"
    return None


def _primitive_actions(ctx: Context, g: Graph, pid: str, fenced: Mapping[str, Act]) -> None:
    u, asg = ctx.u, ctx.asg
    prim = u.prims[pid]
    st = u.state[pid]
    managed = prim.managed and not st.blocked
    role = st.role
    next_role = asg.next_role.get(pid, STOPPED)
    nxt = asg.node.get(pid)
    running = st.running_on
    current = running[0] if running else None
    if not managed:
        # nothing changes on it, but Pacemaker still probes where its state is unknown
        _probes(ctx, g, pid, None)
        return
    multiply = len(running) > 1
    unexpected_only = multiply and prim.multiple_active == "stop_unexpected" and nxt in running
    if unexpected_only:
        # multiple-active=stop_unexpected: keep the instance on the chosen node
        current = nxt
    moving = current is not None and nxt is not None and current != nxt
    restart_all = multiply and not unexpected_only
    need_stop = moving or st.failed or restart_all or (running and next_role == STOPPED)
    # stops (and demotes) on every node where it runs
    stops: list[Act] = []
    for node in running:
        n = ctx.nodes[node]
        stop_required = bool(need_stop) and (
            node != nxt or st.failed or restart_all or next_role == STOPPED
        )
        if restart_all or (st.failed and node in st.failed_nodes):
            stop_required = True
        if unexpected_only and node != nxt:
            stop_required = True
        stop = g.add(pid, "stop", node, optional=not stop_required)
        if not n.online or n.unclean:
            if node in fenced:
                stop.pseudo = True
                g.order(fenced[node], stop, IMPLIES_THEN)
            else:
                stop.runnable = False
        if nxt is None and stop_required:
            stop.reason = asg.stop_reason.get(pid, "node availability")
        stops.append(stop)
        if role == PROMOTED and node == current:
            dem = g.add(pid, "demote", node, optional=not (stop_required or next_role != PROMOTED))
            if not n.online or n.unclean:
                if node in fenced:
                    dem.pseudo = True
                else:
                    dem.runnable = False
            g.order(dem, stop, IMPLIES_FIRST)
    if (
        role == PROMOTED
        and nxt is not None
        and current == nxt
        and next_role != PROMOTED
        and g.find(pid, "demote", current) is None
    ):
        g.add(pid, "demote", current, optional=False)
    # start (and promote) on the chosen node
    start: Act | None = None
    if nxt is not None and next_role != STOPPED:
        changed = nxt in st.changed_nodes and nxt in running
        start_required = need_stop or current is None or nxt not in running or changed
        start = g.add(pid, "start", nxt, optional=not start_required)
        if changed and not need_stop:
            start.reason = "resource definition change"
        elevating = current is None
        why = _quorum_block(ctx, pid, bool(running), elevating)
        if why is not None:
            start.runnable = False
            start.reason = why
        for s in stops:
            if unexpected_only and s.node != nxt:
                g.order(s, start, 0)
            else:
                g.order(s, start, IMPLIES_THEN | RESTART | SAME_RSC)
        if _can_migrate(ctx, pid, moving, next_role) and current is not None and start.runnable:
            # live migration: migrate_to on the source, migrate_from on the target;
            # the stop then only cleans up and the start is implied
            mig_to = g.add(pid, "migrate_to", current, optional=False)
            mig_from = g.add(pid, "migrate_from", nxt, optional=False)
            g.order(mig_to, mig_from, IMPLIES_THEN | RUNNABLE_LEFT)
            for s in stops:
                if s.node == current:
                    g.order(mig_from, s, 0)
            g.order(mig_from, start, 0)
            start.pseudo = True
        if next_role == PROMOTED:
            prom_required = role != PROMOTED or start_required
            prom = g.add(pid, "promote", nxt, optional=not prom_required)
            g.order(start, prom, IMPLIES_THEN | RUNNABLE_LEFT)
            g.order(g.find(pid, "demote"), prom, 0)
    else:
        # an unrunnable placeholder so orderings "after my start" see it
        start = g.add(pid, "start", None, optional=True, runnable=False)
    # fencing must precede recovery of what ran on an unclean node
    for node in running:
        if node in fenced and start is not None:
            g.order(fenced[node], start, 0)
    _probes(ctx, g, pid, start)
    _monitors(ctx, g, pid, next_role)


def _can_migrate(ctx: Context, pid: str, moving: bool, next_role: str) -> bool:
    """Pacemaker's migration conditions (simplified): a healthy, managed, started
    primitive outside groups and clones with allow-migrate, moving between two
    online nodes."""
    prim = ctx.u.prims[pid]
    st = ctx.u.state[pid]
    if not moving or next_role != STARTED or prim.group is not None or prim.clone is not None:
        return False
    if not parse_bool(prim.meta.get("allow-migrate")) or st.failed or len(st.running_on) != 1:
        return False
    src = ctx.nodes[st.running_on[0]]
    return src.online and not src.unclean


def _probes(ctx: Context, g: Graph, pid: str, start: Act | None) -> None:
    """Probe (monitor, interval 0) on every online node that has no history of it."""
    st = ctx.u.state[pid]
    prim = ctx.u.prims[pid]
    if prim.orphan:
        return
    probed = frozenset(st.probed_nodes)
    nodes = ctx.probe_nodes
    if prim.clone is not None and not prim.unique:
        nodes = _anonymous_probe_nodes(ctx, prim.clone).get(pid, ())
    add = g.add_probe
    edges = g.probe_edges
    for name in nodes:
        if name in probed:
            continue
        probe = add(pid, name)
        if start is not None and not probe.ins:
            edges.append((probe.idx, start.idx))  # a pure ordering (no flags)


def _anonymous_probe_nodes(ctx: Context, cid: str) -> dict[str, tuple[str, ...]]:
    """Where each primitive of an anonymous clone is probed (Pacemaker's
    probe_anonymous_clone): per node one instance, the one with history there
    (probed last time), else the one assigned there, else the first; its
    members are probed unless known there."""
    cached = ctx.clone_probes.get(cid)
    if cached is not None:
        return cached
    u = ctx.u
    insts = u.clones[cid].instances
    members = {i: (u.groups[i].members if i in u.groups else (i,)) for i in insts}
    known: dict[str, str] = {}
    assigned: dict[str, str] = {}
    for i in reversed(insts):  # the first instance wins
        for p in members[i]:
            for node in u.state[p].probed_nodes:
                known[node] = i
        target = ctx.asg.node.get(members[i][0]) if members[i] else None
        if target is not None:
            assigned[target] = i
    out: dict[str, list[str]] = {}
    for name in ctx.probe_nodes:
        inst = known.get(name) or assigned.get(name) or (insts[0] if insts else None)
        if inst is not None:
            for p in members[inst]:
                out.setdefault(p, []).append(name)
    result = {p: tuple(nodes) for p, nodes in out.items()}
    ctx.clone_probes[cid] = result
    return result


def _monitors(ctx: Context, g: Graph, pid: str, next_role: str) -> None:
    """Recurring monitors for the role the instance will have on its next node."""
    nxt = ctx.asg.node.get(pid)
    if nxt is None or next_role == STOPPED:
        return
    start = g.find(pid, "start", nxt)
    promote = g.find(pid, "promote", nxt)
    recorded = {interval for node, interval in ctx.u.state[pid].monitors if node == nxt}
    ops = ctx.u.prims[pid].operations
    intervals = [o.interval_ms for o in ops if o.name == "monitor"]
    for op in ops:
        if op.name != "monitor" or op.interval_ms <= 0:
            continue
        if intervals.count(op.interval_ms) > 1:
            continue  # Pacemaker ignores monitors that share an interval (is_op_dup)
        if (op.meta.get("enabled") or "true").lower() in ("false", "no", "0", "off"):
            continue
        role = parse_role(op.role)
        if role not in (None, STARTED) and role != next_role:
            continue
        if role is None and next_role == PROMOTED:
            continue
        after = promote if (role == PROMOTED and promote is not None) else start
        required = after is not None and not after.optional
        demote = g.find(pid, "demote", nxt)
        if role != PROMOTED and demote is not None and not demote.optional:
            # demoted in place: the unpromoted role's monitor starts after the demote
            after, required = demote, True
        if op.interval_ms not in recorded:
            required = True  # not running there yet (Pacemaker: "not active")
        mon = g.add(pid, "monitor", nxt, optional=not required, interval_ms=op.interval_ms)
        g.order(after, mon, IMPLIES_THEN | RUNNABLE_LEFT)


def _pseudo(g: Graph, rsc: str, task: str) -> Act:
    return g.add(rsc, task, None, pseudo=True)


def _group_actions(ctx: Context, g: Graph, gid: str) -> None:
    grp = ctx.u.groups[gid]
    start = _pseudo(g, gid, "start")
    running = _pseudo(g, gid, "running")
    stop = _pseudo(g, gid, "stop")
    stopped = _pseudo(g, gid, "stopped")
    g.order(stop, stopped, IMPLIES_THEN)
    g.order(stopped, start, IMPLIES_THEN)
    g.order(start, running, IMPLIES_THEN)
    prev: str | None = None
    for m in grp.members:
        m_start = g.find(m, "start")
        m_stop_all = g.find_all(m, "stop")
        g.order(start, m_start, RUNNABLE_LEFT)
        g.order(m_start, running, IMPLIES_THEN)
        for s in m_stop_all:
            g.order(stop, s, 0)
            g.order(s, stopped, IMPLIES_THEN)
        if prev is not None:
            p_start = g.find(prev, "start")
            g.order(p_start, m_start, IMPLIES_THEN | RUNNABLE_LEFT)
            for s in m_stop_all:
                for ps in g.find_all(prev, "stop"):
                    g.order(s, ps, 0)
        prev = m
    # the group's pseudo actions are required if any member's are
    for m in grp.members:
        for a in g.find_all(m, "start"):
            if not a.optional and a.runnable:
                running.optional = False
                start.optional = False
        for a in g.find_all(m, "stop"):
            if not a.optional:
                stop.optional = False
                stopped.optional = False


def _clone_actions(ctx: Context, g: Graph, cid: str) -> None:
    clone = ctx.u.clones[cid]
    start = _pseudo(g, cid, "start")
    running = _pseudo(g, cid, "running")
    stop = _pseudo(g, cid, "stop")
    stopped = _pseudo(g, cid, "stopped")
    g.order(stop, stopped, IMPLIES_THEN)
    g.order(stopped, start, IMPLIES_THEN)
    g.order(start, running, IMPLIES_THEN)
    any_start_runnable = False
    for inst in clone.instances:
        rid = inst
        if rid in ctx.u.groups:
            i_start = g.find(rid, "start")
            i_running = g.find(rid, "running")
            i_stops = [a for a in (g.find(rid, "stop"),) if a is not None]
            i_stopped = g.find(rid, "stopped")
        else:
            i_start = g.find(rid, "start")
            i_running = i_start
            i_stops = g.find_all(rid, "stop")
            i_stopped = None
        if i_start is not None:
            g.order(start, i_start, RUNNABLE_LEFT)
            placed = (
                [a for m in ctx.u.groups[rid].members for a in g.find_all(m, "start")]
                if rid in ctx.u.groups
                else [i_start]
            )
            if any(a.node is not None and a.runnable for a in placed):
                any_start_runnable = True
            if i_running is not None and not i_running.optional:
                start.optional = False
                running.optional = False
            g.order(i_running, running, IMPLIES_THEN)
        for s in i_stops:
            g.order(stop, s, 0)
            g.order(s, stopped if i_stopped is None else i_stopped, IMPLIES_THEN)
            if not s.optional:
                stop.optional = False
                stopped.optional = False
        if i_stopped is not None:
            g.order(i_stopped, stopped, IMPLIES_THEN)
    if not any_start_runnable:
        running.runnable = False
    if clone.ordered:
        # ordered=true: instances start one after another and stop in reverse
        prev: str | None = None
        for inst in clone.instances:
            if prev is not None:
                finished = "running" if prev in ctx.u.groups else "start"
                g.order(g.find(prev, finished), g.find(inst, "start"), 0)
                for s_cur in g.find_all(inst, "stop"):
                    for s_prev in g.find_all(prev, "stop"):
                        g.order(s_cur, s_prev, 0)
            prev = inst
    if clone.promotable:
        for task in ("promote", "demote"):
            p = _pseudo(g, cid, task)
            done = _pseudo(g, cid, "promoted" if task == "promote" else "demoted")
            g.order(p, done, IMPLIES_THEN)
            for inst in clone.instances:
                for a in g.find_all(inst, task):
                    g.order(p, a, 0)
                    g.order(a, done, IMPLIES_THEN)
                    if not a.optional:
                        p.optional = False
                        done.optional = False
        g.order(running, g.find(cid, "promote"), 0)
        g.order(g.find(cid, "demoted"), stop, 0)


def _action_for(ctx: Context, g: Graph, rsc: str, task: str, is_first: bool) -> list[Act]:
    """The action(s) an ordering endpoint names (pseudo actions for collectives)."""
    if rsc in ctx.u.groups or rsc in ctx.u.clones:
        if is_first:
            task = {
                "start": "running",
                "stop": "stopped",
                "promote": "promoted",
                "demote": "demoted",
            }.get(task, task)
        a = g.find(rsc, task)
        if a is None and task in ("promote", "demote", "promoted", "demoted"):
            a = _pseudo(g, rsc, task)
        out = [a] if a is not None else []
        if not is_first and rsc in ctx.u.groups:
            # an ordering before a group applies to each member (Pacemaker passes
            # the update down to the members)
            for m in ctx.u.groups[rsc].members:
                out.extend(g.find_all(m, task))
        return out
    if task == "stop":
        return g.find_all(rsc, "stop")
    acts = g.find_all(rsc, task)
    if not acts:
        acts = [g.add(rsc, task, None, optional=True, runnable=False)]
    return acts


def _later_members(ctx: Context, rsc: str) -> frozenset[str]:
    """The members of group ``rsc`` after its first one (empty for other resources)."""
    grp = ctx.u.groups.get(rsc)
    return frozenset(grp.members[1:]) if grp is not None else frozenset()


_INVERSE = {"start": "stop", "stop": "start", "promote": "demote", "demote": "promote"}


def apply_orders(ctx: Context, g: Graph, orders: tuple[Ord, ...]) -> None:
    """Turn configured orderings into edges with Pacemaker's flags."""
    any_pseudo: dict[str, Act] = {}
    for o in orders:
        flags = 0
        if o.kind == "Mandatory":
            if o.symmetrical:
                flags = IMPLIES_THEN
                if o.first_action in ("start", "promote"):
                    flags |= RUNNABLE_LEFT
            else:
                flags = ASYMMETRIC | IMPLIES_THEN
        elif o.kind == "Optional":
            flags = OPTIONAL_PSEUDO
        if (
            o.first in ctx.u.clones
            and o.then in ctx.u.clones
            and ctx.u.clones[o.then].interleave
            and o.require_any is None
        ):
            _interleave(ctx, g, o, flags)
            flags &= ~IMPLIES_THEN
        firsts = _action_for(ctx, g, o.first, o.first_action, True)
        thens = _action_for(ctx, g, o.then, o.then_action, False)
        if o.require_any is not None:
            pseudo = any_pseudo.get(o.require_any)
            if pseudo is None:
                pseudo = g.add(None, o.require_any, None, pseudo=True)
                any_pseudo[o.require_any] = pseudo
            for f in firsts:
                g.order(f, pseudo, REQUIRES_ANY, user=True)
            for t in thens:
                g.order(pseudo, t, flags | RUNNABLE_LEFT, user=True)
            continue
        later = _later_members(ctx, o.then)
        for f in firsts:
            for t in thens:
                # a later group member becomes required through the member before it
                # (Pacemaker reports "required <previous member> start")
                fl = flags & ~IMPLIES_THEN if t.rsc in later else flags
                g.order(f, t, fl, user=True)
        if o.symmetrical and o.kind != "Serialize":
            inv_first = _INVERSE.get(o.then_action, o.then_action)
            inv_then = _INVERSE.get(o.first_action, o.first_action)
            ifl = IMPLIES_FIRST if o.kind == "Mandatory" else 0
            for f in _action_for(ctx, g, o.then, inv_first, True):
                for t in _action_for(ctx, g, o.first, inv_then, False):
                    g.order(f, t, ifl, user=True)
    # a one-or-more pseudo action is runnable only if one of its inputs is
    for p in any_pseudo.values():
        if not any(g.acts[i].runnable for i, _ in p.ins):
            p.runnable = False


def _instance_node(ctx: Context, inst: str) -> str | None:
    first = ctx.u.groups[inst].members[0] if inst in ctx.u.groups else inst
    return ctx.asg.node.get(first)


def _interleave(ctx: Context, g: Graph, o: Ord, flags: int) -> None:
    """Order clone instances pairwise per node (interleave=true on the "then" clone).

    A "then" instance whose node has no instance of the "first" clone cannot
    start (Pacemaker's find_compatible_child finds none).
    """
    first_by_node: dict[str, str] = {}
    for inst in ctx.u.clones[o.first].instances:
        node = _instance_node(ctx, inst)
        if node is not None:
            first_by_node.setdefault(node, inst)
    for inst in ctx.u.clones[o.then].instances:
        node = _instance_node(ctx, inst)
        if node is None:
            continue
        thens = _action_for(ctx, g, inst, o.then_action, False)
        partner = first_by_node.get(node)
        if partner is None:
            if flags & (RUNNABLE_LEFT | IMPLIES_THEN) and o.then_action in ("start", "promote"):
                for t in thens:
                    t.runnable = False
            continue
        for f in _action_for(ctx, g, partner, o.first_action, True):
            for t in thens:
                g.order(f, t, flags, user=True)
        if o.symmetrical and o.kind == "Mandatory":
            inv_first = _INVERSE.get(o.then_action, o.then_action)
            inv_then = _INVERSE.get(o.first_action, o.first_action)
            for f in _action_for(ctx, g, inst, inv_first, True):
                for t in _action_for(ctx, g, partner, inv_then, False):
                    g.order(f, t, IMPLIES_FIRST, user=True)
