"""Human-readable explanations of a plan: why an instance goes where it goes, and a table.

``explain(plan, rsc)`` answers "why": the chosen node and the terms that made
its score (location constraints, stickiness, colocations, failure bans), and
why the other nodes lost. ``render_table(plan)`` is the default (non-Pacemaker)
rendering of a plan for ``hactl simulate``.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.base.score import render as score_text
from reconciler.scheduler.plan import Contribution, Placement, Plan
from reconciler.scheduler.summary import summary_items


def _terms(contribs: tuple[Contribution, ...], node: str) -> list[str]:
    on_node = [
        c for c in contribs if c.node == node and (c.score != 0 or c.source.startswith("coloc"))
    ]
    on_node.sort(key=lambda c: (-abs(c.score), c.source))
    return [f"{c.source} ({score_text(c.score) if c.score else 'required'})" for c in on_node]


def explain_placement(pl: Placement, node_status: Mapping[str, str] | None = None) -> str:
    """One paragraph for one placement (``node_status`` from :attr:`Plan.node_status`)."""
    node_status = node_status or {}
    others = sorted((n for n in pl.scores if n != pl.node), key=lambda n: (-pl.scores[n], n))
    if pl.node is None:
        head = f"{pl.resource} will be stopped"
        if pl.reason:
            head += f" ({pl.reason})"
    else:
        role = "" if pl.role in ("Started", "Unpromoted") else f" as {pl.role}"
        head = f"{pl.resource} runs on {pl.node}{role}"
        why = _terms(pl.contributions, pl.node)
        head += f" (score {score_text(pl.scores.get(pl.node, 0))})"
        if why:
            head += " because: " + ", ".join(why)
    lines = [head]
    for n in others:
        why = _terms(pl.contributions, n)
        status = node_status.get(n, "online")
        if status != "online":
            why.insert(0, f"node is {status}")
        detail = f": {', '.join(why)}" if why else ""
        lines.append(f"  {n}: {score_text(pl.scores[n])}{detail}")
    return "\n".join(lines)


def explain(p: Plan, resource: str) -> str:
    """Explain every instance of ``resource`` (a primitive, or a clone's instances)."""
    names = [r for r in p.resource_order if r == resource or r.split(":", 1)[0] == resource]
    if not names:
        raise KeyError(resource)
    return "\n".join(explain_placement(p.placements[n], p.node_status) for n in names)


def render_table(p: Plan) -> str:
    """A readable table: resource, current and next placement, the change."""
    changes = {it.rsc: it for it in summary_items(p)}
    rows = [("RESOURCE", "NOW", "NEXT", "CHANGE")]
    for name in p.resource_order:
        pl = p.placements[name]
        now = ",".join(pl.current_nodes) or "-"
        if pl.current_nodes and pl.current_role not in ("Started", "Stopped"):
            now += f" ({pl.current_role})"
        nxt = pl.node or "-"
        if pl.node is not None and pl.role not in ("Started", "Stopped"):
            nxt += f" ({pl.role})"
        it = changes.get(name)
        change = "-" if it is None else it.change + (f" {it.reason}" if it.reason else "")
        rows.append((name, now, nxt, change))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    ]
    for f in p.fencing:
        out.append(f"fence {f.node} ({f.action}): {f.reason}")
    if p.recheck_at is not None:
        out.append(f"recheck at {p.recheck_at} (a failure-timeout expires)")
    return "\n".join(out)
