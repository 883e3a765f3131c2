"""Render a plan as Pacemaker's "Transition Summary" (crm_simulate 2.1.5 line format).

The decision of which verb describes an instance (Start, Stop, Move, Recover,
Restart, Promote, Demote, Re-promote) follows Pacemaker's ``rsc-action``
message; the line layout follows its ``rsc-action-item``.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.scheduler.actions import Act, ResourceChange
from reconciler.scheduler.plan import Plan
from reconciler.scheduler.units import PROMOTED, ROLE_RANK, STARTED, STOPPED, UNPROMOTED


@dataclass(frozen=True, slots=True)
class SummaryItem:
    """One line: ``change`` for ``rsc`` with its details and optional reason."""

    change: str
    rsc: str
    details: str
    reason: str


def _find(acts: list[Act], task: str, node: str | None) -> Act | None:
    for a in acts:
        if a.task == task and (node is None or a.node == node):
            return a
    return None


def _item(
    change: str,
    ch: ResourceChange,
    where: tuple[str | None, str | None],
    action: Act,
    source: Act | None,
) -> SummaryItem:
    origin, dest = where
    role, next_role = ch.role, ch.next_role
    need_role = ROLE_RANK[role] > ROLE_RANK[STARTED] or ROLE_RANK[next_role] > ROLE_RANK[UNPROMOTED]
    same_host = origin is not None and dest is not None and origin == dest
    same_role = role == next_role
    if need_role and origin is None:
        details = f"{role} -> {next_role} {dest}"
    elif origin is None:
        details = f"{dest}"
    elif need_role and dest is None:
        details = f"{role} {origin}"
    elif dest is None:
        details = origin
    elif need_role and same_role and same_host:
        details = f"{role} {origin}"
    elif same_role and same_host:
        details = origin
    elif need_role and same_role:
        details = f"{origin} -> {dest} {role}"
    elif same_role:
        details = f"{origin} -> {dest}"
    elif same_host:
        details = f"{role} -> {next_role} {origin}"
    else:
        details = f"{role} {origin} -> {next_role} {dest}"
    src = source if source is not None else action
    if src.reason and not action.runnable:
        reason = f"due to {src.reason} (blocked)"
    elif src.reason:
        reason = f"due to {src.reason}"
    elif not action.runnable:
        reason = "blocked"
    else:
        reason = ""
    return SummaryItem(change, ch.rsc, details, reason)


def resource_items(ch: ResourceChange, acts: list[Act]) -> list[SummaryItem]:
    """Pacemaker's rsc_action_default for one primitive instance."""
    current = ch.current[0] if ch.current else None
    nxt = ch.next_node
    if not ch.managed or (current is None and nxt is None):
        return []
    moving = current is not None and nxt is not None and current != nxt
    start = _find(acts, "start", nxt) if nxt is not None else None
    start_node = current if (start is not None and start.runnable) else None
    stop = _find(acts, "stop", start_node)
    promote = _find(acts, "promote", nxt) if nxt is not None else None
    demote = _find(acts, "demote", nxt) if nxt is not None else None
    if ch.role == ch.next_role:
        if nxt is None:
            return []
        migrate = _find(acts, "migrate_from", nxt)
        if migrate is not None and current is not None and migrate.runnable:
            return [_item("Migrate", ch, (current, nxt), start or migrate, None)]
        if start is not None and not start.runnable:
            src = stop if (stop is not None and stop.reason) else start
            act: Act = stop if stop is not None else start
            return [_item("Stop", ch, (current, None), act, src)]
        if start is None or start.optional:
            if (
                demote is not None
                and promote is not None
                and not demote.optional
                and not promote.optional
            ):
                return [_item("Re-promote", ch, (current, nxt), promote, demote)]
            return []
        if moving and current is not None:
            verb = "Recover" if ch.failed else "Move"
            return [_item(verb, ch, (current, nxt), stop or start, None)]
        if ch.failed:
            return [_item("Recover", ch, (current, None), stop or start, None)]
        return [_item("Restart", ch, (current, nxt), start, None)]
    if stop is not None and (ch.next_role == STOPPED or (start is not None and not start.runnable)):
        out = []
        for node in ch.current:
            stop_op = _find(acts, "stop", node)
            if stop_op is None:
                continue
            src2 = stop_op if stop_op.reason else start
            out.append(_item("Stop", ch, (node, None), stop_op, src2))
        return out
    if stop is not None and ch.failed and not stop.optional:
        return [_item("Recover", ch, (current, nxt), stop, start)]
    if moving:
        return [_item("Move", ch, (current, nxt), stop or start or acts[0], None)]
    if stop is not None and not stop.optional:
        return [_item("Restart", ch, (current, nxt), start or stop, None)]
    if ch.role == PROMOTED and demote is not None:
        return [_item("Demote", ch, (current, nxt), demote, None)]
    if ch.next_role == PROMOTED and promote is not None:
        return [_item("Promote", ch, (current, nxt), promote, None)]
    if ch.role == STOPPED and ROLE_RANK[ch.next_role] > ROLE_RANK[STOPPED] and start is not None:
        return [_item("Start", ch, (current, nxt), start, None)]
    return []


def summary_items(p: Plan) -> list[SummaryItem]:
    by_rsc: dict[str, list[Act]] = {}
    for a in p.graph_actions:
        if a.rsc is not None:
            by_rsc.setdefault(a.rsc, []).append(a)
    items: list[SummaryItem] = []
    for pid in p.resource_order:
        items.extend(resource_items(p.changes[pid], by_rsc.get(pid, [])))
    return items


def render(p: Plan) -> str:
    """The Transition Summary block's lines (without the heading)."""
    lines = []
    for f in p.fencing:
        lines.append(f"  * Fence ({f.action}) {f.node} '{f.reason}'")
    items = summary_items(p)
    rsc_w = 5
    det_w = 5
    for it in items:
        if len(it.rsc) > rsc_w:
            rsc_w = len(it.rsc) + 2
        det_w = max(det_w, len(it.details))
    for it in items:
        reason = f"  {it.reason}" if it.reason else ""
        lines.append(f"  * {it.change:<8}   {it.rsc:<{rsc_w}}   ( {it.details:>{det_w}} ){reason}")
    return "\n".join(lines)
