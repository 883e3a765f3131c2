"""Stage 1 (unpack): configuration + observed history -> resource instances and their state.

Pure; mirrors Pacemaker's unpack of the CIB status: nodes' availability, the
primitive instances (clone instances named ``rsc:N``), each instance's current
role/nodes from its operation history, failures and their on-fail handling,
failcounts (with failure-timeout expiry) and migration-threshold bans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from reconciler.base import score as sc
from reconciler.scheduler.input import (
    Clone,
    Group,
    NodeState,
    Operation,
    OpRecord,
    Primitive,
    ResourceHistory,
    SchedulerInput,
)
from reconciler.scheduler.units import (
    PROMOTED,
    STARTED,
    STOPPED,
    UNPROMOTED,
    parse_bool,
    parse_ms,
    parse_role,
    parse_score,
)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node as the scheduler sees it."""

    name: str
    id: str
    index: int
    online: bool
    unclean: bool
    standby: bool
    maintenance: bool
    shutdown: bool
    pending: bool
    attrs: Mapping[str, str]
    utilization: Mapping[str, int]
    fence_reason: str | None
    base_score: int = 0

    @property
    def available(self) -> bool:
        """Can run resources (Pacemaker's pcmk__node_available without the score)."""
        return (
            self.online
            and not self.unclean
            and not self.standby
            and not self.maintenance
            and not self.shutdown
            and not self.pending
        )


@dataclass(frozen=True, slots=True)
class Prim:
    """A primitive instance (a clone's child instances are separate ``Prim`` values)."""

    id: str
    base: str
    top: str
    group: str | None
    clone: str | None
    cls: str
    type: str
    provider: str | None
    meta: Mapping[str, str]
    operations: tuple[Operation, ...]
    utilization: Mapping[str, int]
    priority: int
    stickiness: int
    migration_threshold: int
    failure_timeout_s: int
    target_role: str | None
    managed: bool
    maintenance: bool
    multiple_active: str
    promotable: bool
    unique: bool
    instance: int | None
    orphan: bool = False


@dataclass(frozen=True, slots=True)
class PrimState:
    """Observed state of one instance: where and in which role it runs."""

    running_on: tuple[str, ...] = ()
    role: str = STOPPED
    failed: bool = False
    blocked: bool = False
    on_fail_stop: bool = False
    pending: bool = False
    failed_nodes: tuple[str, ...] = ()
    bans: tuple[tuple[str, str], ...] = ()  # (node, reason)
    standby_nodes: tuple[str, ...] = ()
    fence_nodes: tuple[tuple[str, str], ...] = ()
    probed_nodes: tuple[str, ...] = ()
    history_names: tuple[tuple[str, str], ...] = ()  # (node, id used in that node's history)


@dataclass(frozen=True, slots=True)
class GroupInfo:
    id: str
    members: tuple[str, ...]
    clone: str | None
    meta: Mapping[str, str]
    colocated: bool = True
    ordered: bool = True


@dataclass(frozen=True, slots=True)
class CloneInfo:
    id: str
    base_child: str
    instances: tuple[str, ...]  # instance ids of the child (group or primitive)
    meta: Mapping[str, str]
    clone_max: int
    clone_node_max: int
    promoted_max: int
    promoted_node_max: int
    unique: bool
    interleave: bool
    ordered: bool
    promotable: bool
    child_is_group: bool


@dataclass(frozen=True, slots=True)
class Unpacked:
    """The unpacked cluster: nodes, instances, groups, clones and observed state."""

    nodes: tuple[NodeInfo, ...]
    prims: Mapping[str, Prim]
    prim_order: tuple[str, ...]
    groups: Mapping[str, GroupInfo]
    clones: Mapping[str, CloneInfo]
    tops: tuple[str, ...]
    state: Mapping[str, PrimState]
    member_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    base_to_instances: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    have_quorum: bool = True
    recheck_at: int | None = None
    have_stonith_resource: bool = False
    fence_reasons: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- nodes


def _nodes(inp: SchedulerInput) -> tuple[NodeInfo, ...]:
    states: dict[str, NodeState] = {s.name: s for s in inp.observed.nodes}
    out = []
    stonith = inp.options.stonith_enabled
    for i, n in enumerate(inp.nodes):
        st = states.get(n.name)
        attrs = dict(n.attributes)
        if st is not None:
            attrs.update(
                {k: v for k, v in st.transient_attributes.items() if not k.startswith("#")}
            )
        attrs["#uname"] = n.name
        attrs["#id"] = n.id
        attrs["#kind"] = "remote" if n.kind == "remote" else "cluster"
        attrs["#is_dc"] = "true" if inp.observed.dc == n.name else "false"
        standby = parse_bool(attrs.get("standby")) or (st is not None and st.standby)
        maint = parse_bool(attrs.get("maintenance")) or (st is not None and st.maintenance)
        if st is None:
            unclean = stonith and inp.options.startup_fencing
            out.append(
                NodeInfo(
                    name=n.name,
                    id=n.id,
                    index=i,
                    online=False,
                    unclean=unclean,
                    standby=standby,
                    maintenance=maint,
                    shutdown=False,
                    pending=False,
                    attrs=MappingProxyType(attrs),
                    utilization=n.utilization,
                    fence_reason=None,
                    base_score=n.score,
                )
            )
            continue
        reason = st.transient_attributes.get("#unclean-reason")
        out.append(
            NodeInfo(
                name=n.name,
                id=n.id,
                index=i,
                online=st.online,
                unclean=st.unclean,
                standby=standby,
                maintenance=maint,
                shutdown=st.shutdown,
                pending=st.pending,
                attrs=MappingProxyType(attrs),
                utilization=n.utilization,
                fence_reason=reason if st.unclean else None,
                base_score=n.score,
            )
        )
    return tuple(out)


# ---------------------------------------------------------------- resources


def _merged(*metas: Mapping[str, str]) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for m in metas:
        out.update(m)
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class _Parent:
    """Where a primitive instance sits: its top-level resource, group and clone."""

    top: str
    group: str | None = None
    clone: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    promotable: bool = False
    unique: bool = False
    instance: int | None = None


def _prim(p: Primitive, inp: SchedulerInput, iid: str, parent: _Parent) -> Prim:
    top, group, clone = parent.top, parent.group, parent.clone
    parent_meta, promotable = parent.meta, parent.promotable
    unique, instance = parent.unique, parent.instance
    meta = _merged(inp.options.rsc_defaults, parent_meta, p.meta)
    is_stonith = p.cls == "stonith"
    ma = (meta.get("multiple-active") or "stop_start").lower()
    target = parse_role(meta.get("target-role"))
    ft = parse_ms(meta.get("failure-timeout"), 0) // 1000
    mt_raw = meta.get("migration-threshold")
    mt = parse_score(mt_raw, 1_000_000) if mt_raw is not None else 1_000_000
    maint = parse_bool(meta.get("maintenance")) or inp.options.maintenance_mode
    managed = parse_bool(meta.get("is-managed"), True) and not maint
    stick_raw = meta.get("resource-stickiness", meta.get("resource_stickiness"))
    default_stick = 1 if (clone is not None and stick_raw is None) else 0
    return Prim(
        id=iid,
        base=p.id,
        top=top,
        group=group,
        clone=clone,
        cls=p.cls,
        type=p.type,
        provider=p.provider,
        meta=meta,
        operations=p.operations,
        utilization=p.utilization,
        priority=parse_score(meta.get("priority"), 0),
        stickiness=parse_score(stick_raw, default_stick),
        migration_threshold=mt,
        failure_timeout_s=ft,
        target_role=target,
        managed=managed,
        maintenance=maint,
        multiple_active=ma,
        promotable=promotable,
        unique=unique or (is_stonith and False),
        instance=instance,
    )


def _clone_int(meta: Mapping[str, str], names: tuple[str, ...], default: int) -> int:
    for n in names:
        if n in meta:
            return max(0, parse_score(meta[n], default))
    return default


def _resources(
    inp: SchedulerInput, n_nodes: int
) -> tuple[dict[str, Prim], list[str], dict[str, GroupInfo], dict[str, CloneInfo], list[str]]:
    prims: dict[str, Prim] = {}
    order: list[str] = []
    groups: dict[str, GroupInfo] = {}
    clones: dict[str, CloneInfo] = {}
    tops: list[str] = []

    def add_group(g: Group, suffix: str, parent: _Parent) -> str:
        gid = g.id + suffix
        gmeta = _merged(parent.meta, g.meta)
        members = []
        for m in g.members:
            mid = m.id + suffix
            prims[mid] = _prim(
                m,
                inp,
                mid,
                _Parent(
                    parent.top,
                    gid,
                    parent.clone,
                    gmeta,
                    parent.promotable,
                    parent.unique,
                    parent.instance,
                ),
            )
            order.append(mid)
            members.append(mid)
        groups[gid] = GroupInfo(id=gid, members=tuple(members), clone=parent.clone, meta=gmeta)
        return gid

    for r in inp.resources:
        tops.append(r.id)
        if isinstance(r, Primitive):
            prims[r.id] = _prim(r, inp, r.id, _Parent(r.id))
            order.append(r.id)
        elif isinstance(r, Group):
            add_group(r, "", _Parent(r.id))
        else:
            assert isinstance(r, Clone)
            meta = _merged(inp.options.rsc_defaults, r.meta)
            cmax = _clone_int(meta, ("clone-max",), n_nodes)
            cnode = _clone_int(meta, ("clone-node-max",), 1)
            pmax = _clone_int(meta, ("promoted-max", "master-max"), 1)
            pnode = _clone_int(meta, ("promoted-node-max", "master-node-max"), 1)
            unique = parse_bool(meta.get("globally-unique"))
            inst_ids = []
            for i in range(cmax):
                sfx = f":{i}"
                if isinstance(r.child, Group):
                    inst_ids.append(
                        add_group(
                            r.child, sfx, _Parent(r.id, None, r.id, r.meta, r.promotable, unique, i)
                        )
                    )
                else:
                    iid = r.child.id + sfx
                    prims[iid] = _prim(
                        r.child,
                        inp,
                        iid,
                        _Parent(r.id, None, r.id, r.meta, r.promotable, unique, i),
                    )
                    order.append(iid)
                    inst_ids.append(iid)
            clones[r.id] = CloneInfo(
                id=r.id,
                base_child=r.child.id,
                instances=tuple(inst_ids),
                meta=meta,
                clone_max=cmax,
                clone_node_max=cnode,
                promoted_max=pmax,
                promoted_node_max=pnode,
                unique=unique,
                interleave=parse_bool(meta.get("interleave")),
                ordered=parse_bool(meta.get("ordered")),
                promotable=r.promotable,
                child_is_group=isinstance(r.child, Group),
            )
    return prims, order, groups, clones, tops


# ---------------------------------------------------------------- history


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


def _replay(
    prim: Prim, ops: tuple[OpRecord, ...], stonith: bool, node: str, now: int | None = None
) -> _NodeHist:
    h = _NodeHist()
    done = sorted((o for o in ops if o.call_id >= 0), key=lambda o: (o.call_id, o.id))
    pend = [o for o in ops if o.call_id < 0 or o.status == 7]
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
        h.failed = on_fail not in ("block",)
    if pend:
        h.pending = True
    _ = node
    return h


def _assign_history(
    inp: SchedulerInput,
    prims: Mapping[str, Prim],
    clones: Mapping[str, CloneInfo],
    groups: Mapping[str, GroupInfo],
) -> tuple[dict[tuple[str, str], ResourceHistory], list[ResourceHistory]]:
    """Map each history entry to a primitive instance (Pacemaker's find_anonymous_clone)."""
    mapped: dict[tuple[str, str], ResourceHistory] = {}
    orphans: list[ResourceHistory] = []
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
    node_order = [s.name for s in inp.observed.nodes]
    by_node: dict[str, list[ResourceHistory]] = {}
    for h in inp.observed.history:
        by_node.setdefault(h.node, []).append(h)
    for node in node_order:
        for h in by_node.get(node, []):
            rid = h.resource
            base = rid.split(":", 1)[0]
            cid = base_clone.get(base)
            if cid is None:
                if rid in prims:
                    mapped[(rid, node)] = h
                else:
                    orphans.append(h)
                continue
            clone = clones[cid]
            if clone.unique:
                if rid in prims:
                    mapped[(rid, node)] = h
                else:
                    orphans.append(h)
                continue
            # anonymous: an instance already active on this node, else the first
            # instance active nowhere.
            chosen: str | None = None
            first_free: str | None = None
            for inst in clone.instances:
                nodes = active_on.get(inst, set())
                pid = _member_instance(base, inst, clone, groups)
                if node in nodes:
                    if pid is not None and (pid, node) not in mapped:
                        chosen = inst
                        break
                    continue
                if (
                    not nodes
                    and first_free is None
                    and pid is not None
                    and (pid, node) not in mapped
                ):
                    first_free = inst
            if chosen is None:
                chosen = first_free
            if chosen is None:
                orphans.append(h)
                continue
            pid = _member_instance(base, chosen, clone, groups)
            assert pid is not None
            mapped[(pid, node)] = h
            st = _replay(prims[pid], h.operations, inp.options.stonith_enabled, node)
            if st.role != STOPPED:
                active_on.setdefault(chosen, set()).add(node)
    return mapped, orphans


def _member_instance(
    base: str, inst: str, clone: CloneInfo, groups: Mapping[str, GroupInfo]
) -> str | None:
    if not clone.child_is_group:
        return inst
    suffix = inst[inst.rfind(":") :]
    cand = base + suffix
    return cand if cand in groups[inst].members else None


def _failcount(
    inp: SchedulerInput, prim: Prim, node: str, now: int
) -> tuple[int, int | None, int | None]:
    """(count, last_failure, expiry time) summed over this resource's fail-count attributes."""
    total = 0
    last: int | None = None
    for fc in inp.observed.failcounts:
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


def unpack(inp: SchedulerInput, now: int) -> Unpacked:
    """Build the scheduler's view of the cluster at time ``now``."""
    nodes = _nodes(inp)
    prims, order, groups, clones, tops = _resources(inp, len(inp.nodes))
    mapped, orphan_hist = _assign_history(inp, prims, clones, groups)
    stonith = inp.options.stonith_enabled
    node_names = {n.name for n in nodes}
    recheck: int | None = None
    states: dict[str, PrimState] = {}
    fence_reasons: dict[str, str] = {}
    extra_standby: set[str] = set()

    # orphans: history of resources no longer configured
    for h in orphan_hist:
        oid = h.resource
        if oid in prims:
            continue
        prims[oid] = Prim(
            id=oid,
            base=oid.split(":", 1)[0],
            top=oid,
            group=None,
            clone=None,
            cls=h.cls,
            type=h.type,
            provider=h.provider,
            meta=MappingProxyType({}),
            operations=(),
            utilization=MappingProxyType({}),
            priority=0,
            stickiness=0,
            migration_threshold=1_000_000,
            failure_timeout_s=0,
            target_role=STOPPED,
            managed=inp.options.stop_orphan_resources,
            maintenance=False,
            multiple_active="stop_start",
            promotable=False,
            unique=False,
            instance=None,
            orphan=True,
        )
        order.append(oid)
        tops.append(oid)
        mapped[(oid, h.node)] = h

    for pid in order:
        prim = prims[pid]
        running: list[str] = []
        role = STOPPED
        failed = blocked = pending = on_fail_stop = False
        unmanaged_here = False
        failed_nodes: list[str] = []
        bans: list[tuple[str, str]] = []
        fence_nodes: list[tuple[str, str]] = []
        standby_nodes: list[str] = []
        probed: list[str] = []
        hist_names: list[tuple[str, str]] = []
        for n in nodes:
            hist = mapped.get((pid, n.name))
            if hist is None:
                continue
            h = hist
            if not n.online and not n.unclean:
                # history of a cleanly stopped node says nothing about now
                continue
            probed.append(n.name)
            hist_names.append((n.name, h.resource))
            st = _replay(prim, h.operations, stonith, n.name, now)
            if n.unclean:
                # the node will be fenced: that recovers it (Pacemaker sets on-fail=ignore)
                st.failed = False
                st.blocked = False
                st.fence_reason = None
                st.stop_failed = False
            if n.maintenance and st.role != STOPPED:
                unmanaged_here = True
            if st.stop_failed and st.failed:
                bans.append((n.name, "stop failed"))
            if st.role != STOPPED:
                running.append(n.name)
                if role == STOPPED or st.role == PROMOTED:
                    role = st.role
            if st.failed:
                failed = True
                failed_nodes.append(n.name)
            if st.blocked:
                blocked = True
            if st.pending:
                pending = True
            if st.on_fail_stop:
                on_fail_stop = True
            if st.standby:
                standby_nodes.append(n.name)
                extra_standby.add(n.name)
            if st.fence_reason is not None or (st.stop_failed and st.on_fail == "fence"):
                reason = st.fence_reason or f"{pid} failed there"
                fence_nodes.append((n.name, reason))
                fence_reasons.setdefault(n.name, reason)
            if st.start_failed and inp.options.start_failure_is_fatal and st.failed:
                bans.append((n.name, "start failure"))
            # failcount / migration-threshold
            count, _last, expires = _failcount(inp, prim, n.name, now)
            if expires is not None:
                recheck = expires if recheck is None else min(recheck, expires)
            if count > 0 and count >= prim.migration_threshold:
                bans.append((n.name, f"failed {count} times (migration-threshold)"))
        states[pid] = PrimState(
            running_on=tuple(running),
            role=role,
            failed=failed,
            blocked=blocked or unmanaged_here,
            on_fail_stop=on_fail_stop,
            pending=pending,
            failed_nodes=tuple(failed_nodes),
            bans=tuple(bans),
            standby_nodes=tuple(standby_nodes),
            fence_nodes=tuple(fence_nodes),
            probed_nodes=tuple(probed),
            history_names=tuple(hist_names),
        )
    _ = node_names

    # nodes made unclean by failed operations, or put in standby by on-fail=standby
    if fence_reasons or extra_standby:
        new_nodes = []
        for n in nodes:
            freason = fence_reasons.get(n.name)
            updated = n
            if freason is not None and not n.unclean:
                updated = replace(updated, unclean=True, fence_reason=freason)
            if n.name in extra_standby and not n.standby:
                updated = replace(updated, standby=True)
            new_nodes.append(updated)
        nodes = tuple(new_nodes)

    member_of: dict[str, tuple[str, ...]] = {g.id: g.members for g in groups.values()}
    b2i: dict[str, list[str]] = {}
    for pid in order:
        b2i.setdefault(prims[pid].base, []).append(pid)
    return Unpacked(
        nodes=nodes,
        prims=MappingProxyType(prims),
        prim_order=tuple(order),
        groups=MappingProxyType(groups),
        clones=MappingProxyType(clones),
        tops=tuple(tops),
        state=MappingProxyType(states),
        member_of=MappingProxyType(member_of),
        base_to_instances=MappingProxyType({k: tuple(v) for k, v in b2i.items()}),
        have_quorum=inp.observed.have_quorum,
        recheck_at=recheck,
        have_stonith_resource=any(p.cls == "stonith" for p in prims.values()),
        fence_reasons=MappingProxyType(fence_reasons),
    )
