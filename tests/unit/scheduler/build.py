"""Small builders of scheduler inputs for the unit tests."""

from __future__ import annotations

from reconciler.scheduler.input import (
    ClusterOptions,
    Colocation,
    Location,
    Node,
    NodeState,
    Observed,
    OpRecord,
    Order,
    Primitive,
    Resource,
    ResourceHistory,
    SchedulerInput,
)


def prim(rid: str, **meta: str) -> Primitive:
    return Primitive(
        id=rid,
        cls="ocf",
        provider="pacemaker",
        type="Dummy",
        meta={k.replace("_", "-"): v for k, v in meta.items()},
    )


def op(
    operation: str, rc: int = 0, call_id: int = 1, interval_ms: int = 0, **kw: object
) -> OpRecord:
    return OpRecord(operation=operation, interval_ms=interval_ms, rc=rc, call_id=call_id, **kw)  # type: ignore[arg-type]


def running(rsc: str, node: str, *ops: OpRecord) -> ResourceHistory:
    return ResourceHistory(
        resource=rsc,
        node=node,
        cls="ocf",
        provider="pacemaker",
        type="Dummy",
        operations=ops or (op("start"),),
    )


def cluster(
    resources: tuple[Resource, ...],
    *,
    nodes: tuple[str, ...] = ("node1", "node2"),
    locations: tuple[Location, ...] = (),
    colocations: tuple[Colocation, ...] = (),
    orders: tuple[Order, ...] = (),
    history: tuple[ResourceHistory, ...] = (),
    offline: tuple[str, ...] = (),
    unclean: tuple[str, ...] = (),
    options: ClusterOptions | None = None,
    quorum: bool = True,
    node_attrs: dict[str, dict[str, str]] | None = None,
) -> SchedulerInput:
    attrs = node_attrs or {}
    return SchedulerInput(
        options=options or ClusterOptions(stonith_enabled=False, no_quorum_policy="ignore"),
        nodes=tuple(Node(name=n, id=n, attributes=attrs.get(n, {})) for n in nodes),
        resources=resources,
        locations=locations,
        colocations=colocations,
        orders=orders,
        observed=Observed(
            nodes=tuple(
                NodeState(
                    name=n, online=n not in offline and n not in unclean, unclean=n in unclean
                )
                for n in nodes
            ),
            history=history,
            have_quorum=quorum,
        ),
    )
