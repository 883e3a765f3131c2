"""A cycle among mandatory orders (explicit, or implied by groups) can never be satisfied."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

from reconciler.base.errors import Problem
from reconciler.model.base import Manifest
from reconciler.model.constraints import Order, ResourceSet
from reconciler.model.manifestset import ManifestSet

Step = tuple[str, str]  # (resource name, action)
_INVERSE = {"start": "stop", "stop": "start", "promote": "demote", "demote": "promote"}


def _set_edges(sets: tuple[ResourceSet, ...], default: str) -> list[tuple[Step, Step]]:
    edges: list[tuple[Step, Step]] = []
    for rset in sets:
        action = rset.action or default
        if rset.sequential:
            for a, b in pairwise(rset.resources):
                edges.append(((a, action), (b, action)))
    for before, after in pairwise(sets):
        for a in before.resources:
            for b in after.resources:
                edges.append(((a, before.action or default), (b, after.action or default)))
    return edges


def _order_edges(order: Order) -> list[tuple[Step, Step]]:
    spec = order.spec
    edges: list[tuple[Step, Step]]
    if spec.first is not None and spec.then is not None:
        first: Step = (spec.first, spec.first_action)
        edges = [(first, (spec.then, spec.effective_then_action))]
    else:
        edges = _set_edges(spec.sets, spec.first_action)
    if spec.effective_symmetrical:
        edges += [((b[0], _INVERSE[b[1]]), (a[0], _INVERSE[a[1]])) for a, b in edges]
    return edges


def _cycle_from(start: Step, graph: dict[Step, list[Step]], members: set[Step]) -> list[Step]:
    """A simple cycle through ``start`` inside one strongly connected component."""
    parent: dict[Step, Step] = {}
    stack = [start]
    seen = {start}
    while stack:
        node = stack.pop()
        for nxt in graph[node]:
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if nxt in members and nxt not in seen:
                seen.add(nxt)
                parent[nxt] = node
                stack.append(nxt)
    return [start, start]


def _components(graph: dict[Step, list[Step]]) -> list[list[Step]]:
    """Tarjan's strongly connected components, iteratively, in a deterministic order."""
    index: dict[Step, int] = {}
    low: dict[Step, int] = {}
    on_stack: set[Step] = set()
    stack: list[Step] = []
    out: list[list[Step]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = graph[node]
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                out.append(sorted(comp))
    return out


def check_order_cycles(mset: ManifestSet) -> list[Problem]:
    """Mandatory orders (with groups' implied order and start-before-promote) form no cycle;
    each cycle is reported once, with its steps, at the first Order taking part in it."""
    graph: dict[Step, list[Step]] = defaultdict(list)
    origin: dict[tuple[Step, Step], Manifest] = {}
    for order in mset.orders.values():
        if order.spec.kind != "Mandatory":
            continue
        for a, b in _order_edges(order):
            graph[a].append(b)
            origin.setdefault((a, b), order)
    for group in mset.groups.values():
        members = group.spec.resources
        for m1, m2 in pairwise(members):
            implied: tuple[tuple[Step, Step], ...] = (
                ((m1, "start"), (m2, "start")),
                ((m2, "stop"), (m1, "stop")),
            )
            for before, after in implied:
                graph[before].append(after)
                origin.setdefault((before, after), group)
    # Within one resource: started before promoted, demoted before stopped.
    named = sorted({step[0] for step in graph} | {n[0] for succ in graph.values() for n in succ})
    for name in named:
        graph[(name, "start")].append((name, "promote"))
        graph[(name, "demote")].append((name, "stop"))
    for step in list(graph):
        graph[step] = sorted(set(graph[step]))
        for nxt in graph[step]:
            graph.setdefault(nxt, [])
    problems: list[Problem] = []
    reported: set[str] = set()
    for comp in _components(dict(graph)):
        in_comp = set(comp)
        self_loop = len(comp) == 1 and comp[0] in graph[comp[0]]
        if len(comp) < 2 and not self_loop:
            continue
        cycle = _cycle_from(comp[0], graph, in_comp)
        steps = list(pairwise(cycle))
        culprits = [origin[e] for e in steps if e in origin]
        if not culprits:
            continue
        orders = sorted((o for o in culprits if isinstance(o, Order)), key=lambda o: o.name)
        blame = orders[0] if orders else culprits[0]
        text = " → ".join(f"{name} {action}" for name, action in cycle)
        via = sorted({f"{o.kind} {o.name}" for o in culprits})
        if text in reported:
            continue
        reported.add(text)
        problems.append(
            mset.problem(
                blame,
                _blame_path(blame),
                f"mandatory orders form a cycle: {text} (via {', '.join(via)})",
                hint="make one of them Optional, or remove it",
            )
        )
    # A symmetrical order mirrors each cycle in the stop actions: keep one report per cycle.
    return _drop_mirrors(problems)


def _blame_path(obj: Manifest) -> tuple[str, ...]:
    if isinstance(obj, Order):
        return ("spec", "first") if obj.spec.first is not None else ("spec", "sets")
    return ("spec", "resources")


def _drop_mirrors(problems: list[Problem]) -> list[Problem]:
    """One report per set of culprits: the cycle through start/promote rather than its mirror."""
    best: dict[tuple[str | None, int | None, str], Problem] = {}
    for p in problems:
        key = (p.file, p.line, p.message.rsplit("(via ", 1)[-1])
        cycle = p.message.split("(via ", 1)[0]
        rank = cycle.count(" stop") + cycle.count(" demote")
        if key not in best:
            best[key] = p
            continue
        old = best[key].message.split("(via ", 1)[0]
        if rank < old.count(" stop") + old.count(" demote"):
            best[key] = p
    return list(best.values())
