"""Recording operation results in a resource's history, as Pacemaker's lrm_rsc_op entries.

Per resource per node we keep: ``last`` (the last non-recurring operation,
probes included), ``last_failure`` (the last failed one), ``last_stop`` (the
last successful stop, which clears earlier failures when the history is
replayed) and one ``monitor_<ms>`` per recurring monitor. Pure functions over the status model.
"""

from __future__ import annotations

from reconciler.model.status import OperationRecord, ResourceHistory


def record(
    h: ResourceHistory | None, name: str, agent: str, op: OperationRecord, failed: bool
) -> ResourceHistory:
    base = h if h is not None else ResourceHistory(name=name, agent=agent)
    keep = {o.id or o.key: o for o in base.operations}
    if op.interval_ms > 0:
        mid = f"monitor_{op.interval_ms}"
        keep[mid] = op.model_copy(update={"id": mid})
    else:
        keep["last"] = op.model_copy(update={"id": "last"})
        if op.operation == "stop" and not failed:
            for k in [k for k in keep if k.startswith("monitor_")]:
                del keep[k]
            # kept after the next start overwrites "last": replaying the history, the
            # scheduler sees that this stop cleared the failures recorded before it
            keep["last_stop"] = op.model_copy(update={"id": "last_stop"})
    if failed:
        keep["last_failure"] = op.model_copy(update={"id": "last_failure"})
    ops = tuple(sorted(keep.values(), key=lambda o: (o.call_id, o.id or "")))
    return base.model_copy(update={"operations": ops, "agent": agent or base.agent})


def drop_monitors(h: ResourceHistory) -> ResourceHistory:
    ops = tuple(o for o in h.operations if not (o.id or "").startswith("monitor_"))
    return h.model_copy(update={"operations": ops})
