"""Clone notifications (``notify=true``): Pacemaker's pre/post notify actions.

For every clone with ``notify=true`` and each of its operations (start and
stop; promote and demote for promotable clones) Pacemaker wraps the clone's
pseudo actions in notification boundaries::

    pre_notify_<op> -> confirmed-pre_notify_<op> -> <clone> <op>
    <clone> <op>ed -> post_notify_<op>ed -> confirmed-post_notify_<op>ed
    confirmed-pre_notify_<op> -> post_notify_<op>ed

and sends a ``notify`` action to every instance that takes part: the pre
notification to the instances running now (stop, demote) or staying where
they are (start, promote), the post notification to those that run afterwards.
Each notify action carries the data the agent receives as
``OCF_RESKEY_CRM_meta_<name>``: ``notify_type`` (pre/post),
``notify_operation`` and the space-separated lists ``notify_<list>_resource``
/ ``notify_<list>_uname`` for start, stop, promote, demote, active,
promoted, unpromoted (and the legacy master/slave names), inactive
resources, and the available and all node names (an empty list is a single
space, as Pacemaker passes it).

This runs after flag propagation, as Pacemaker creates notifications when it
writes the graph: which instances start, stop, promote or demote is final
then. The added orderings carry no flags. Follows Pacemaker 2.1.5's
``pcmk_sched_notif.c``. Not modelled: the two extra pseudo actions Pacemaker
puts between a fencing and the survivors' post-stop notifications when a stop
is implied by that fencing (the notifications follow the fencing anyway,
through the clone's stopped action), and notifications for bundles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reconciler.scheduler.actions import Act, Graph
from reconciler.scheduler.graph import Context
from reconciler.scheduler.units import PROMOTED, STOPPED, UNPROMOTED, parse_bool

# operation -> (the clone's pseudo action it precedes, the one it follows)
_BOUNDS = {
    "start": ("start", "running"),
    "stop": ("stop", "stopped"),
    "promote": ("promote", "promoted"),
    "demote": ("demote", "demoted"),
}
_LISTS = ("start", "stop", "promote", "demote")


def _natural(name: str) -> tuple[tuple[int, str | int], ...]:
    """Node names in Pacemaker's order (numbers inside names compare as numbers)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", name)
        if part
    )


@dataclass(slots=True)
class _Bounds:
    """The four pseudo actions around one operation of one clone."""

    pre: Act | None = None
    pre_done: Act | None = None
    post: Act | None = None
    post_done: Act | None = None
    keys: dict[str, str] = field(default_factory=dict)


def add_notifications(ctx: Context, g: Graph) -> None:
    """Add notify actions for every clone with ``notify=true`` (after propagation)."""
    for cid in sorted(ctx.u.clones):
        if parse_bool(ctx.u.clones[cid].meta.get("notify")):
            _clone(ctx, g, cid)


def _members(ctx: Context, cid: str) -> list[str]:
    out: list[str] = []
    for inst in ctx.u.clones[cid].instances:
        grp = ctx.u.groups.get(inst)
        out.extend(grp.members if grp is not None else (inst,))
    return out


def _words(entries: list[tuple[str, str | None]], with_nodes: bool) -> tuple[str, str]:
    """Pacemaker's expand_list: sorted by resource, one entry per resource."""
    rscs: list[str] = []
    unames: list[str] = []
    last: str | None = None
    for rsc, node in sorted(entries, key=lambda e: (e[0], e[1] is None, e[1] or "")):
        if with_nodes and node is None:
            continue
        if rsc == last:
            continue
        last = rsc
        rscs.append(rsc)
        if node is not None:
            unames.append(node)
    return " ".join(rscs) or " ", " ".join(unames) or " "


def _collect(ctx: Context, g: Graph, cid: str, prims: list[str]) -> dict[str, str]:
    """The notification variables of one clone (the same for all its operations)."""
    lists: dict[str, list[tuple[str, str | None]]] = {
        k: [] for k in ("active", "inactive", "promoted", "unpromoted", *_LISTS)
    }
    for p in prims:
        st = ctx.u.state[p]
        node = st.running_on[0] if st.running_on else None
        if st.role == STOPPED or node is None:
            lists["inactive"].append((p, None))
        else:
            lists["active"].append((p, node))
            if st.role == PROMOTED:
                lists["promoted"].append((p, node))
            elif st.role == UNPROMOTED:
                lists["unpromoted"].append((p, node))
        for i in g.by_rsc.get(p, ()):
            a = g.acts[i]
            if a.task not in _LISTS or a.optional or a.node is None or a.interval_ms:
                continue
            unclean_stop = a.task == "stop" and ctx.nodes[a.node].unclean
            if a.runnable or unclean_stop:
                lists[a.task].append((p, a.node))
    keys: dict[str, str] = {}
    for name in (*_LISTS, "active", "unpromoted", "promoted"):
        rscs, unames = _words(lists[name], True)
        keys[f"notify_{name}_resource"] = rscs
        keys[f"notify_{name}_uname"] = unames
    keys["notify_slave_resource"] = keys["notify_unpromoted_resource"]
    keys["notify_slave_uname"] = keys["notify_unpromoted_uname"]
    keys["notify_master_resource"] = keys["notify_promoted_resource"]
    keys["notify_master_uname"] = keys["notify_promoted_uname"]
    keys["notify_inactive_resource"] = _words(lists["inactive"], False)[0]
    allowed = ctx.asg.scores.get(cid)
    every = [n.name for n in ctx.u.nodes]
    available = [n for n in every if allowed is None or n in allowed]
    keys["notify_available_uname"] = " ".join(sorted(available, key=_natural)) or " "
    keys["notify_all_uname"] = " ".join(sorted(every, key=_natural)) or " "
    keys["_required"] = ",".join(k for k in _LISTS if lists[k])
    return keys


def _pseudo(g: Graph, cid: str, op: str, key_type: str, key_op: str, *, required: bool) -> Act:
    a = g.add(
        cid,
        "notified" if key_type.startswith("confirmed") else "notify",
        None,
        pseudo=True,
        optional=not required,
        runnable=True,
        key_task=f"{key_type}_notify_{key_op}",
    )
    a.meta = {
        "notify_type": "post" if "post" in key_type else "pre",
        "notify_operation": op,
        "notify_key_type": key_type,
        "notify_key_operation": key_op,
    }
    return a


def _bounds(g: Graph, cid: str, op: str, required: bool) -> _Bounds | None:
    """The pseudo actions around ``op``; required when some instance does ``op``
    (Pacemaker takes their flags from the clone's pseudo actions first, but only
    what is required when the graph is written matters)."""
    begin_task, end_task = _BOUNDS[op]
    begin = g.find(cid, begin_task)
    end = g.find(cid, end_task)
    if begin is None or end is None:
        return None
    b = _Bounds()
    b.pre = _pseudo(g, cid, op, "pre", begin_task, required=required)
    b.pre_done = _pseudo(g, cid, op, "confirmed-pre", begin_task, required=required)
    g.order(b.pre_done, begin, 0)
    g.order(b.pre, b.pre_done, 0)
    b.post = _pseudo(g, cid, op, "post", end_task, required=required)
    b.post_done = _pseudo(g, cid, op, "confirmed-post", end_task, required=required)
    for a in (b.post, b.post_done):
        a.runnable = end.runnable
    g.order(end, b.post, 0)
    g.order(b.post, b.post_done, 0)
    g.order(b.pre_done, b.post, 0)
    return b


def _clone(ctx: Context, g: Graph, cid: str) -> None:
    clone = ctx.u.clones[cid]
    prims = _members(ctx, cid)
    keys = _collect(ctx, g, cid, prims)
    required = set(keys.pop("_required").split(",")) - {""}
    ops = ("start", "stop", "promote", "demote") if clone.promotable else ("start", "stop")
    bounds: dict[str, _Bounds] = {}
    for op in ops:
        b = _bounds(g, cid, op, op in required)
        if b is None:
            continue
        b.keys = keys
        bounds[op] = b
    # the operations of one clone follow each other's notifications
    for first_op, then_op in (
        ("stop", "start"),
        ("stop", "promote"),
        ("start", "promote"),
        ("demote", "promote"),
        ("demote", "start"),
        ("demote", "stop"),
    ):
        if first_op in bounds and then_op in bounds:
            g.order(bounds[first_op].post_done, bounds[then_op].pre, 0)
    # configured orderings after this clone's operation wait for its notifications
    # (Pacemaker orders them after confirmed-post_notify_<op>ed instead)
    ends = {i: op for op in bounds for i in [_end(g, cid, op)] if i >= 0}
    for first, then in sorted(e for e in g.user_edges if e[0] in ends):
        op_of = ends.get(first)
        rsc = g.acts[then].rsc
        prim = ctx.u.prims.get(rsc) if rsc is not None else None
        if op_of is not None and (prim is None or prim.group is None):
            # (a group member follows its group's pseudo action, which gets the edge)
            g.order(bounds[op_of].post_done, g.acts[then], 0, user=True)
    # the real actions carry the lists too (Pacemaker's add_notify_data_to_action_meta)
    for p in prims:
        for i in g.by_rsc.get(p, ()):
            a = g.acts[i]
            if a.task in _LISTS and not a.optional and a.node is not None and not a.interval_ms:
                a.meta = dict(keys)
    for op, b in bounds.items():
        if op not in required:
            continue
        for p in prims:
            _instance(ctx, g, p, op, b)


def _end(g: Graph, cid: str, op: str) -> int:
    end = g.find(cid, _BOUNDS[op][1])
    return -1 if end is None else end.idx


def _instance(ctx: Context, g: Graph, p: str, op: str, b: _Bounds) -> None:
    """Pacemaker's create_notifications for one primitive instance."""
    st = ctx.u.state[p]
    stop = g.find(p, "stop")
    if st.role != STOPPED and op in ("stop", "demote"):
        for node in st.running_on:
            n = ctx.nodes[node]
            if stop is not None and stop.pseudo and n.unclean:
                continue  # the stop is implied by fencing that node
            _notify(ctx, g, p, node, b, post=False)
            if op == "demote" or stop is None or stop.optional:
                _notify(ctx, g, p, node, b, post=True)
    nxt = ctx.asg.node.get(p)
    if (
        ctx.asg.next_role.get(p, STOPPED) != STOPPED
        and nxt is not None
        and op
        in (
            "start",
            "promote",
        )
    ):
        start = g.find(p, "start", nxt)
        if op != "start" or start is None or start.optional:
            _notify(ctx, g, p, nxt, b, post=False)
        _notify(ctx, g, p, nxt, b, post=True)


def _notify(ctx: Context, g: Graph, p: str, node: str, b: _Bounds, *, post: bool) -> None:
    op_act = b.post if post else b.pre
    confirm = b.post_done if post else b.pre_done
    if op_act is None or confirm is None:
        return
    n = ctx.nodes[node]
    if not n.online or n.unclean or not op_act.runnable:
        return
    meta = op_act.meta or {}
    ntype, operation = meta["notify_type"], meta["notify_operation"]
    a = g.add(
        p,
        "notify",
        node,
        optional=op_act.optional,
        key_task=f"{ntype}_notify_{operation}",
    )
    a.meta = {**meta, **b.keys}
    g.order(op_act, a, 0)
    g.order(a, confirm, 0)
    if post:
        for i in g.by_rsc.get(p, ()):
            mon = g.acts[i]
            if mon.task == "monitor" and mon.interval_ms > 0:
                g.order(confirm, mon, 0)
