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

from reconciler.scheduler.cluster import (
    CloneInfo,
    GroupInfo,
    NodeInfo,
    Prim,
    PrimState,
    Unpacked,
)
from reconciler.scheduler.history import assign_history, failcount, replay
from reconciler.scheduler.input import (
    Clone,
    FailCount,
    Group,
    NodeState,
    Primitive,
    ResourceHistory,
    SchedulerInput,
)
from reconciler.scheduler.units import (
    PROMOTED,
    STOPPED,
    parse_bool,
    parse_ms,
    parse_role,
    parse_score,
)

__all__ = ["CloneInfo", "GroupInfo", "NodeInfo", "Prim", "PrimState", "Unpacked", "unpack"]

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
        reason = st.unclean_reason or st.transient_attributes.get("#unclean-reason")
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
        params_digest=p.params_digest,
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


def unpack(inp: SchedulerInput, now: int) -> Unpacked:
    """Build the scheduler's view of the cluster at time ``now``."""
    nodes = _nodes(inp)
    prims, order, groups, clones, tops = _resources(inp, len(inp.nodes))
    mapped, orphan_hist = assign_history(inp, prims, clones, groups)
    stonith = inp.options.stonith_enabled
    node_names = {n.name for n in nodes}
    recheck: int | None = None
    states: dict[str, PrimState] = {}
    fence_reasons: dict[str, str] = {}
    extra_standby: set[str] = set()

    # orphans: history of resources no longer configured
    for oid, _clone_id, h in orphan_hist:
        if oid in prims:
            if prims[oid].orphan:
                mapped.setdefault(oid, {})[h.node] = h
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
        mapped.setdefault(oid, {})[h.node] = h

    fc_by_node: dict[str, list[FailCount]] = {}
    for fc in inp.observed.failcounts:
        fc_by_node.setdefault(fc.node, []).append(fc)
    fc_nodes = [n for n in nodes if n.name in fc_by_node]
    # most instances have no history at all (a fresh cluster), the rest a probe on most nodes
    no_history: dict[str, ResourceHistory] = {}
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
        demote_nodes: list[str] = []
        changed_nodes: list[str] = []
        probed: list[str] = []
        monitors: list[tuple[str, int]] = []
        hist_names: list[tuple[str, str]] = []
        histories = mapped.get(pid, no_history)
        for n in nodes if histories else ():
            hist = histories.get(n.name)
            if hist is None:
                continue
            h = hist
            if not n.online and not n.unclean:
                # history of a cleanly stopped node says nothing about now
                continue
            probed.append(n.name)
            hist_names.append((n.name, h.resource))
            ops = h.operations
            if len(ops) == 1:  # probed_stopped(ops) inline: a converged cluster's usual case
                only = ops[0]
                if (
                    only.rc == 7
                    and only.status == 0
                    and only.call_id >= 0
                    and only.interval_ms == 0
                    and only.operation == "monitor"
                ):
                    continue  # what replay() gives: stopped there, nothing else to note
            st = replay(prim, h.operations, stonith, n.name, now)
            if n.online:
                monitors.extend((n.name, interval) for interval in st.monitors)
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
            if st.demote_only:
                demote_nodes.append(n.name)
            if prim.params_digest is not None and st.role != STOPPED:
                starts = [
                    o
                    for o in h.operations
                    if o.operation in ("start", "migrate_from") and o.rc == 0 and o.op_digest
                ]
                if starts and max(starts, key=lambda o: o.call_id).op_digest != prim.params_digest:
                    changed_nodes.append(n.name)
            if st.expires_at is not None:
                recheck = st.expires_at if recheck is None else min(recheck, st.expires_at)
            if st.standby:
                standby_nodes.append(n.name)
                extra_standby.add(n.name)
            if st.fence_reason is not None or (st.stop_failed and st.on_fail == "fence"):
                reason = st.fence_reason or f"{pid} failed there"
                fence_nodes.append((n.name, reason))
                fence_reasons.setdefault(n.name, reason)
            if st.start_failed and inp.options.start_failure_is_fatal and st.failed:
                bans.append((n.name, "start failure"))
        # failcount / migration-threshold, on every node with a failcount
        for n in fc_nodes:
            count, _last, expires = failcount(fc_by_node[n.name], prim, n.name, now)
            if expires is not None:
                recheck = expires if recheck is None else min(recheck, expires)
            if count > 0 and count >= prim.migration_threshold:
                bans.append((n.name, f"failed {count} times (migration-threshold)"))
        if len(running) > 1 and prim.multiple_active == "block":
            blocked = True
        if len(running) > 1 and prim.multiple_active == "stop_only":
            on_fail_stop = True
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
            demote_nodes=tuple(demote_nodes),
            changed_nodes=tuple(changed_nodes),
            fence_nodes=tuple(fence_nodes),
            probed_nodes=tuple(probed),
            monitors=tuple(monitors),
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
        dc=inp.observed.dc,
    )
