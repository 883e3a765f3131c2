"""Operation history -> current state of one resource on one node.

Replays the ``lrm_rsc_op`` records in call order as Pacemaker's unpack does
(roles from results, failures with their on-fail handling, failure-timeout
expiry), maps anonymous clone history to instances, and sums failcounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.base import score as sc
from reconciler.scheduler.cluster import CloneInfo, GroupInfo, Prim
from reconciler.scheduler.input import FailCount, OpRecord, ResourceHistory, SchedulerInput
from reconciler.scheduler.units import PROMOTED, STARTED, STOPPED, UNPROMOTED


@dataclass(slots=True)
class _NodeHist:
    """Working result of replaying one resource's history on one node."""

    role: str = STOPPED
    failed: bool = False
    on_fail: str = "ignore"
    blocked: bool = False
    pending: bool = False
    stop_failed: bool = False
    start_failed: bool = False
    fence_reason: str | None = None
    standby: bool = False
    on_fail_stop: bool = False
    demote_only: bool = False
    expires_at: int | None = None  # when the latest counted failure times out
    monitors: tuple[int, ...] = ()  # intervals of recurring monitors active since the start


def _configured_on_fail(prim: Prim, op: OpRecord, stonith: bool) -> str:
    name = op.operation
    for o in prim.operations:
        if o.name == name and o.interval_ms == op.interval_ms and o.on_fail:
            return o.on_fail.lower()
    if name == "stop":
        return "fence" if stonith else "block"
    if name == "demote":
        return "restart"
    return "restart"


def active_monitors(done: list[OpRecord]) -> tuple[int, ...]:
    """Intervals of the recurring monitors recorded since the resource last
    started there (Pacemaker's calculate_active_ops + process_recurring): a
    configured monitor without such a record must be (re)started."""
    start = stop = implied_monitor = implied_clone = -1
    for i, o in enumerate(done):
        task = o.operation
        if task == "stop" and o.status == 0:
            stop = i
        elif task in ("start", "migrate_from"):
            start = i
        elif implied_monitor <= stop and task == "monitor":
            if o.rc in (0, 8):
                implied_monitor = i
        elif task in ("promote", "demote"):
            implied_clone = i
    if start == -1:
        start = implied_clone if implied_clone != -1 else implied_monitor
    found: set[int] = set()
    for i, o in enumerate(done):
        if (start < stop and i <= stop) or i < start:
            continue
        if o.interval_ms > 0 and o.operation == "monitor":
            found.add(o.interval_ms)
    return tuple(sorted(found))


def probed_stopped(ops: tuple[OpRecord, ...]) -> bool:
    """Only a probe that found the resource stopped: the usual history on most nodes,
    for which :func:`replay` gives a fresh ``_NodeHist`` (stopped, nothing else)."""
    if len(ops) != 1:
        return False
    only = ops[0]
    return (
        only.rc == 7
        and only.status == 0
        and only.call_id >= 0
        and only.interval_ms == 0
        and only.operation == "monitor"
    )


def replay(
    prim: Prim, ops: tuple[OpRecord, ...], stonith: bool, node: str, now: int | None = None
) -> _NodeHist:
    h = _NodeHist()
    if probed_stopped(ops):
        return h
    done = sorted((o for o in ops if o.call_id >= 0), key=lambda o: (o.call_id, o.id))
    pend = [o for o in ops if o.call_id < 0 or o.status == 7]
    h.monitors = active_monitors(done)
    promotable = prim.promotable
    running_role = UNPROMOTED if promotable else STARTED
    for op in done:
        task = op.operation
        if op.status == 1:  # cancelled
            continue
        if task == "monitor" and op.interval_ms == 0:
            task = "probe"
        rc = op.rc
        ok_rc = op.expected_rc
        failure = False
        if op.status in (2, 3, 5, 6):  # timeout, not supported, not installed, invalid
            failure = True
        elif rc == 7 and task in ("probe", "monitor"):
            if task == "monitor" and ok_rc != 7:
                # recurring monitor found it stopped: a failure
                h.role = STOPPED
                failure = True
            else:
                h.role = STOPPED
                continue
        elif rc == 0:
            if task in ("start", "migrate_from"):
                h.role = running_role
            elif task in ("stop", "migrate_to"):
                h.role = STOPPED
                # a successful stop clears past failures
                if h.on_fail in ("block", "ignore", "restart", "demote"):
                    h.on_fail = "ignore"
                    h.failed = False
                    h.blocked = False
            elif task == "promote":
                h.role = PROMOTED
            elif task == "demote":
                h.role = UNPROMOTED
            elif task == "probe" or (task == "monitor" and h.role == STOPPED):
                h.role = running_role
            continue
        elif rc == 8 and task in ("probe", "monitor", "promote"):
            h.role = PROMOTED
            continue
        elif rc == 9:
            h.role = PROMOTED
            failure = True
        else:
            failure = True
        if not failure:
            continue
        on_fail = _configured_on_fail(prim, op, stonith)
        if task == "probe":
            on_fail = "restart"
        if (
            now is not None
            and prim.failure_timeout_s > 0
            and on_fail != "block"
            and op.last_rc_change is not None
            and op.last_rc_change + prim.failure_timeout_s > now
        ):
            h.expires_at = op.last_rc_change + prim.failure_timeout_s
        if (
            now is not None
            and prim.failure_timeout_s > 0
            and on_fail != "block"
            and op.last_rc_change is not None
            and op.last_rc_change + prim.failure_timeout_s <= now
        ):
            # an expired failure is ignored (Pacemaker clears its failcount)
            if task in ("monitor",) and h.role == STOPPED and rc == 7:
                h.role = running_role
            continue
        if on_fail == "ignore":
            if task == "stop":
                h.role = STOPPED
            continue
        if task == "stop":
            h.stop_failed = True
            h.role = running_role if h.role == STOPPED else h.role
        elif task == "start":
            h.start_failed = True
            if h.role == STOPPED:
                h.role = running_role
        elif task in ("promote", "demote"):
            h.role = PROMOTED
        elif h.role == STOPPED:
            h.role = running_role
        if rc == 9:
            h.role = PROMOTED
        rank = {
            "ignore": 0,
            "demote": 1,
            "restart": 2,
            "stop": 3,
            "standby": 4,
            "block": 5,
            "fence": 6,
        }
        if rank.get(on_fail, 2) >= rank.get(h.on_fail, 0):
            h.on_fail = on_fail
        if on_fail == "block":
            h.blocked = True
        elif on_fail == "fence":
            h.fence_reason = f"{prim.id} failed there"
        elif on_fail == "standby":
            h.standby = True
        elif on_fail == "stop":
            h.on_fail_stop = True
        if on_fail == "demote" and h.role == PROMOTED:
            # on-fail=demote: a failed promoted instance is demoted, not recovered
            h.demote_only = True
            continue
        h.failed = on_fail not in ("block",)
    if pend:
        h.pending = True
    _ = node
    return h


def assign_history(
    inp: SchedulerInput,
    prims: Mapping[str, Prim],
    clones: Mapping[str, CloneInfo],
    groups: Mapping[str, GroupInfo],
) -> tuple[dict[str, dict[str, ResourceHistory]], list[tuple[str, str | None, ResourceHistory]]]:
    """Map each history entry to a primitive instance (Pacemaker's find_anonymous_clone).

    Returns the mapping instance -> node -> history and the orphans as
    (instance id, clone id or None, history).
    """
    mapped: dict[str, dict[str, ResourceHistory]] = {}
    orphans: list[tuple[str, str | None, ResourceHistory]] = []
    base_clone: dict[str, str] = {}
    for c in clones.values():
        if c.child_is_group:
            g = groups[c.instances[0]] if c.instances else None
            if g is not None:
                for m in g.members:
                    base_clone[prims[m].base] = c.id
        else:
            base_clone[c.base_child] = c.id
    active_on: dict[str, set[str]] = {}  # instance (group or prim) id -> nodes where active
    active_prims: dict[str, set[str]] = {}  # node -> primitive instances active there
    orphan_count: dict[str, int] = {}
    node_order = [s.name for s in inp.observed.nodes]
    by_node: dict[str, list[ResourceHistory]] = {}
    for h in inp.observed.history:
        by_node.setdefault(h.node, []).append(h)
    for node in node_order:
        for h in by_node.get(node, []):
            rid = h.resource
            cid = base_clone.get(rid.split(":", 1)[0]) if base_clone else None
            if cid is None:
                if rid in prims:
                    mapped.setdefault(rid, {})[node] = h
                else:
                    orphans.append((rid, None, h))
                continue
            base = rid.split(":", 1)[0]
            clone = clones[cid]
            if clone.unique:
                if rid in prims:
                    mapped.setdefault(rid, {})[node] = h
                else:
                    orphans.append((rid, cid, h))
                continue
            # anonymous (Pacemaker's find_anonymous_clone): the instance already
            # active on this node, else the first instance active nowhere; a second
            # active history of the same instance on one node becomes an orphan.
            chosen: str | None = None
            first_free: str | None = None
            skip_inactive = False
            for inst in clone.instances:
                nodes = active_on.get(inst, set())
                pid = _member_instance(base, inst, clone, groups)
                if nodes:
                    if node in nodes and pid is not None:
                        if pid in active_prims.get(node, set()):
                            skip_inactive = True
                        else:
                            chosen = inst
                        break
                    continue
                if not skip_inactive and first_free is None and pid is not None:
                    first_free = inst
            if chosen is None and not skip_inactive:
                chosen = first_free
            if chosen is None:
                number = clone.clone_max + orphan_count.get(cid, 0)
                orphan_count[cid] = orphan_count.get(cid, 0) + 1
                orphans.append((f"{base}:{number}", cid, h))
                continue
            pid = _member_instance(base, chosen, clone, groups)
            assert pid is not None
            earlier = mapped.get(pid, {}).get(node)
            merged = h
            if earlier is not None:
                # two history entries for one instance on one node: one history
                merged = earlier._replace(
                    resource=h.resource, operations=earlier.operations + h.operations
                )
            mapped.setdefault(pid, {})[node] = merged
            st = replay(prims[pid], merged.operations, inp.options.stonith_enabled, node)
            if st.role != STOPPED:
                active_on.setdefault(chosen, set()).add(node)
                active_prims.setdefault(node, set()).add(pid)
    return mapped, orphans


def _member_instance(
    base: str, inst: str, clone: CloneInfo, groups: Mapping[str, GroupInfo]
) -> str | None:
    if not clone.child_is_group:
        return inst
    suffix = inst[inst.rfind(":") :]
    cand = base + suffix
    return cand if cand in groups[inst].members else None


def failcount(
    failcounts: Sequence[FailCount], prim: Prim, node: str, now: int
) -> tuple[int, int | None, int | None]:
    """(count, last_failure, expiry time) summed over this resource's fail-count attributes.

    ``failcounts`` may be all of them or just those of ``node`` (an index).
    """
    total = 0
    last: int | None = None
    for fc in failcounts:
        if fc.node != node or fc.resource not in (prim.id, prim.base):
            continue
        if fc.resource == prim.base and prim.unique and prim.id != prim.base:
            continue
        total = sc.add(total, fc.count)
        if fc.last_failure is not None:
            last = fc.last_failure if last is None else max(last, fc.last_failure)
    if total and prim.failure_timeout_s > 0 and last is not None:
        expires = last + prim.failure_timeout_s
        if expires <= now:
            return 0, last, None
        return total, last, expires
    return total, last, None
