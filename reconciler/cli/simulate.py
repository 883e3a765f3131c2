"""`hactl simulate`: what the scheduler would do, offline.

From manifests plus an optional observed-status file, or straight from a
Pacemaker CIB (import + plan in one step)::

    hactl simulate -f manifests/ [--status observed.yaml] [--node-fail node2]
    hactl simulate --cib cib.xml --format pacemaker     # diff with crm_simulate -x cib.xml -S

Synthetic events are applied to the observed status before planning, as
crm_simulate's ``--node-down``, ``--node-fail`` and ``--op-inject`` do.
Exit 0 on success, 1 on invalid input (every problem printed), 2 on usage errors.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from reconciler.base import score as scores
from reconciler.base.errors import Problem, ValidationError
from reconciler.cli.main import EXIT_FAILED, EXIT_USAGE
from reconciler.model import ManifestSet
from reconciler.model.status import (
    Failcount,
    NodeHistory,
    NodeState,
    ObservedNode,
    ObservedStatus,
    OperationRecord,
    ResourceHistory,
)

MAX_CIB_BYTES = 512 * 1024 * 1024


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """One short pass over many small objects: cyclic collections would only cost time.

    On the way out the objects made meanwhile are frozen (moved out of the collector's
    generations) before collection is enabled again: otherwise the first collection after
    re-enabling walks every one of them -- about a second on a converged 32-node CIB, for
    nothing, since a command is about to exit. They are still freed by reference counting.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


# --------------------------------------------------------------------- events (pure)


def _node(status: ObservedStatus, name: str) -> ObservedNode:
    for node in status.nodes:
        if node.name == name:
            return node
    return ObservedNode(name=name)


def _replace(status: ObservedStatus, node: ObservedNode) -> ObservedStatus:
    nodes = [n for n in status.nodes if n.name != node.name]
    known = [n.name for n in status.nodes]
    if node.name in known:
        nodes.insert(known.index(node.name), node)
    else:
        nodes.append(node)
    return status.model_copy(update={"nodes": tuple(nodes)})


def inject_node_down(status: ObservedStatus, name: str) -> ObservedStatus:
    """The node left cleanly (crm_simulate --node-down)."""
    node = _node(status, name)
    return _replace(status, node.model_copy(update={"state": NodeState.OFFLINE, "reason": None}))


def inject_node_fail(status: ObservedStatus, name: str) -> ObservedStatus:
    """The node was lost (crm_simulate --node-fail): unclean until fenced."""
    node = _node(status, name)
    changed = node.model_copy(
        update={
            "state": NodeState.UNCLEAN,
            "unclean_online": False,
            "reason": "peer is no longer part of the cluster",
        }
    )
    return _replace(status, changed)


def parse_op_fail(spec: str, mset: ManifestSet) -> tuple[str, str, int, str, int]:
    """``RSC:ACTION:NODE:RC`` -> (rsc, operation, interval_ms, node, rc).

    ACTION is ``start``, ``monitor`` (the resource's first recurring monitor) or
    ``monitor_10000`` (an explicit interval in milliseconds).
    """
    parts = spec.rsplit(":", 3)
    if len(parts) != 4 or not all(parts) or not parts[3].lstrip("-").isdigit():
        raise click.BadParameter(f"{spec!r}: expected RSC:ACTION:NODE:RC, e.g. web:monitor:node1:7")
    rsc, action, node, rc_text = parts
    task, _, interval_text = action.rpartition("_")
    if task and interval_text.isdigit():
        return rsc, task, int(interval_text), node, int(rc_text)
    interval = 0
    base = rsc.split(":", 1)[0]
    res = mset.resources.get(base)
    if action == "monitor" and res is not None:
        recurring = [o.interval.milliseconds for o in res.spec.operations if o.name == "monitor"]
        interval = next((ms for ms in recurring if ms), 0)
    return rsc, action, interval, node, int(rc_text)


def inject_op(
    status: ObservedStatus, mset: ManifestSet, spec: tuple[str, str, int, str, int], now: int
) -> ObservedStatus:
    """Record an operation result (crm_simulate --op-inject), with its failcount."""
    rsc, task, interval, name, rc = spec
    node = _node(status, name)
    histories = list(node.resources)
    index = next((i for i, h in enumerate(histories) if h.name == rsc), None)
    if index is None:
        res = mset.resources.get(rsc.split(":", 1)[0])
        agent = str(res.spec.agent) if res is not None else None
        histories.append(ResourceHistory(name=rsc, agent=agent))
        index = len(histories) - 1
    history = histories[index]
    call_id = 1 + max((op.call_id for h in histories for op in h.operations), default=0)
    record = OperationRecord(
        operation=task,
        interval_ms=interval,
        call_id=call_id,
        rc=rc,
        expected_rc=7 if (task == "monitor" and interval == 0) else 0,
        last_rc_change=now,
        last_run=now,
    )
    kept = [
        o for o in history.operations if not (o.operation == task and o.interval_ms == interval)
    ]
    histories[index] = history.model_copy(update={"operations": (*kept, record)})
    failcounts = list(node.failcounts)
    if not (rc == 0 or (rc == 7 and interval == 0)):
        old = next(
            (
                f
                for f in failcounts
                if (f.resource, f.operation, f.interval_ms) == (rsc, task, interval)
            ),
            None,
        )
        count = scores.add(old.count if old else 0, 1)
        if old is not None:
            failcounts.remove(old)
        failcounts.append(
            Failcount(
                resource=rsc, operation=task, interval_ms=interval, count=count, last_failure=now
            )
        )
    changed = node.model_copy(
        update={"resources": tuple(histories), "failcounts": tuple(failcounts)}
    )
    return _replace(status, changed)


# ------------------------------------------------------------------------- output


def table(summary_items: list[tuple[str, str, str, str]]) -> str:
    if not summary_items:
        return "Nothing to do: the cluster is where it should be."
    head = ("ACTION", "RESOURCE", "WHERE", "WHY")
    rows = [head, *summary_items]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for r in rows:
        lines.append(
            f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        )
    return "\n".join(lines)


def _items(plan: object) -> list[tuple[str, str, str, str]]:
    from reconciler.scheduler.summary import summary_items

    out = []
    for f in getattr(plan, "fencing", ()):
        out.append(("Fence", f.node, f.action, f.reason))
    for it in summary_items(plan):  # type: ignore[arg-type]
        reason = it.reason.removeprefix("due to ").strip()
        out.append((it.change, it.rsc, " ".join(it.details.split()), reason))
    return out


def score_lines(plan: object) -> str:
    lines = ["Placement scores:"]
    placements = getattr(plan, "placements", {})
    for name in sorted(placements):
        p = placements[name]
        cells = " ".join(f"{n}={scores.render(v)}" for n, v in sorted(p.scores.items()))
        target = p.node or "(stopped)"
        lines.append(f"  {name}: {cells or '-'}  -> {target} {p.role}".rstrip())
    return "\n".join(lines)


def graph_json(plan: object) -> str:
    actions = [
        {
            "id": a.id,
            "resource": a.resource,
            "task": a.task,
            "node": a.node,
            "interval_ms": a.interval_ms,
            "pseudo": a.pseudo,
            "optional": a.optional,
            "runnable": a.runnable,
            "reason": a.reason,
        }
        for a in getattr(plan, "actions", ())
    ]
    edges = [list(e) for e in getattr(plan, "edges", ())]
    return json.dumps({"actions": actions, "edges": edges}, indent=2)


def graph_dot(plan: object) -> str:
    lines = ["digraph transition {"]
    for a in getattr(plan, "actions", ()):
        label = f"{a.resource or 'cluster'} {a.task}" + (f" {a.node}" if a.node else "")
        style = []
        if a.pseudo:
            style.append("shape=box")
        if a.optional:
            style.append("style=dashed")
        elif not a.runnable:
            style.append("color=red")
        attrs = ", ".join([f'label="{label}"', *style])
        lines.append(f"  a{a.id} [{attrs}];")
    for first, then in getattr(plan, "edges", ()):
        lines.append(f"  a{first} -> a{then};")
    lines.append("}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- CLI


def _fail(problems: list[Problem] | tuple[Problem, ...]) -> None:
    for p in problems:
        click.echo(p.render(), err=True)
    sys.exit(EXIT_FAILED)


def _read_bytes(path: str, limit: int) -> bytes:
    p = Path(path)
    try:
        if p.stat().st_size > limit:
            _fail([Problem(f"larger than {limit // 1_048_576} MiB", file=path)])
        return p.read_bytes()
    except OSError as e:
        _fail([Problem(f"cannot read: {e.strerror or e}", file=path)])
    raise AssertionError  # unreachable


def _read(path: str, limit: int) -> str:
    try:
        return _read_bytes(path, limit).decode("utf-8")
    except UnicodeDecodeError as e:
        _fail([Problem(f"cannot read: {e}", file=path)])
    raise AssertionError  # unreachable


def load_inputs(
    paths: tuple[str, ...], status_path: str | None, cib: str | None, *, light: bool = False
) -> tuple[ManifestSet, ObservedStatus, tuple[NodeHistory, ...] | None, list[str]]:
    """Manifests + status from files, or both from a CIB; warnings of the import.

    ``light`` (a CIB only): its operation history comes back as the scheduler's records,
    and the status's nodes carry none (see ``import_cib``)."""
    from reconciler.model import load_paths
    from reconciler.model.status import all_online, load_status_text

    if cib is not None:
        from reconciler.cib.importer import import_cib

        result = import_cib(_read_bytes(cib, MAX_CIB_BYTES), cib, light=light)
        if result.problems:
            _fail(result.problems)
        return result.manifests, result.status, result.history, list(result.warnings)
    mset = load_paths(list(paths))
    if status_path is None:
        return mset, all_online(list(mset.nodes)), None, []
    status = load_status_text(_read(status_path, MAX_CIB_BYTES), status_path)
    return mset, status, None, []


@click.command("simulate")
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    metavar="PATH",
    help="Manifest file or directory (repeatable).",
)
@click.option(
    "--status",
    "status_path",
    metavar="FILE",
    help="Observed-status YAML (as written by import-cib).",
)
@click.option("--cib", metavar="FILE.xml", help="Plan a Pacemaker CIB directly.")
@click.option("--node-down", multiple=True, metavar="NODE", help="The node left cleanly.")
@click.option("--node-fail", multiple=True, metavar="NODE", help="The node was lost (fenced).")
@click.option(
    "--op-fail",
    multiple=True,
    metavar="RSC:ACTION:NODE:RC",
    help="An operation returned RC (e.g. web:monitor:node1:7).",
)
@click.option("--scores", "show_scores", is_flag=True, help="Also print placement scores.")
@click.option("--graph", type=click.Choice(["dot", "json"]), help="Print the transition graph.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "pacemaker"]),
    default="table",
    show_default=True,
    help="pacemaker: crm_simulate's Transition Summary lines.",
)
@click.option(
    "--now",
    type=int,
    metavar="EPOCH",
    help="Plan at this time (default: the status's, else the clock).",
)
def simulate(
    *,
    paths: tuple[str, ...],
    status_path: str | None,
    cib: str | None,
    node_down: tuple[str, ...],
    node_fail: tuple[str, ...],
    op_fail: tuple[str, ...],
    show_scores: bool,
    graph: str | None,
    fmt: str,
    now: int | None,
) -> None:
    """Show what the scheduler would do, without touching a cluster."""
    with no_gc():
        if bool(paths) == bool(cib):
            click.echo("Error: give either -f PATH (manifests) or --cib FILE.xml", err=True)
            sys.exit(EXIT_USAGE)
        if cib and status_path:
            click.echo("Error: --status goes with -f; a CIB carries its own status", err=True)
            sys.exit(EXIT_USAGE)
        try:
            # --op-fail edits the status's histories: only then are they read into it
            mset, status, history, warnings = load_inputs(
                paths, status_path, cib, light=not op_fail
            )
        except ValidationError as e:
            _fail(e.problems)
        from reconciler.system.clock import SystemClock

        at = now if now is not None else status.now if status.now is not None else None
        at = at if at is not None else int(SystemClock().wall())
        for name in node_down:
            status = inject_node_down(status, name)
        for name in node_fail:
            status = inject_node_fail(status, name)
        for spec in op_fail:
            status = inject_op(status, mset, parse_op_fail(spec, mset), at)
        for w in warnings:
            click.echo(f"warning: {w}", err=True)
        from reconciler.scheduler.from_model import from_model
        from reconciler.scheduler.plan import plan as make_plan
        from reconciler.scheduler.summary import render

        scheduler_input = from_model(mset, status, history)
        del status, history  # the scheduler's copy is all that is needed now: a lower peak
        result = make_plan(scheduler_input, at)
        if fmt == "pacemaker":
            body = render(result)
            click.echo("Transition Summary:" + (f"\n{body}" if body else ""))
        else:
            click.echo(table(_items(result)))
        if show_scores:
            click.echo("\n" + score_lines(result))
        if graph == "json":
            click.echo(graph_json(result))
        elif graph == "dot":
            click.echo(graph_dot(result))
