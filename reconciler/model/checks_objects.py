"""Checks of single objects that need the rest of the set: duplicates, operations, policy."""

from __future__ import annotations

from collections import defaultdict

from reconciler.base.errors import Problem
from reconciler.model.base import Manifest
from reconciler.model.kinds import RESOURCE_KINDS
from reconciler.model.manifestset import ManifestSet
from reconciler.model.resources import Resource

# What each agent standard can do beyond start/stop/monitor.
_BASIC_OPS = frozenset({"start", "stop", "monitor"})
_OCF_OPS = frozenset(
    {
        *_BASIC_OPS,
        "promote",
        "demote",
        "notify",
        "migrate_to",
        "migrate_from",
        "reload",
        "reload-agent",
    }
)
ALLOWED_OPS = {"ocf": _OCF_OPS, "lsb": _BASIC_OPS, "systemd": _BASIC_OPS, "service": _BASIC_OPS}


def _where(mset: ManifestSet, obj: Manifest) -> str:
    src = mset.source(obj)
    return f"{src.file}:{src.line}" if src is not None else "elsewhere"


def check_duplicates(mset: ManifestSet) -> list[Problem]:
    """Names are unique per kind; Resources, Groups and Clones share one namespace; at most
    one Cluster object exists."""
    problems: list[Problem] = []
    first: dict[tuple[str, str], Manifest] = {}
    for obj in mset.objects:
        space = "resource" if obj.kind in RESOURCE_KINDS else obj.kind
        key = (space, obj.name)
        if key in first:
            other = first[key]
            what = f"{other.kind} {obj.name!r}"
            problems.append(
                mset.problem(
                    obj,
                    ("metadata", "name"),
                    f"duplicate name: {what} is already defined at {_where(mset, other)}",
                )
            )
        else:
            first[key] = obj
    clusters = [o for o in mset.objects if o.kind == "Cluster"]
    for extra in clusters[1:]:
        problems.append(
            mset.problem(
                extra,
                ("kind",),
                f"only one Cluster object may exist (another is at {_where(mset, clusters[0])})",
            )
        )
    return problems


def promotable_members(mset: ManifestSet) -> frozenset[str]:
    """Names of Resources and Groups inside a promotable Clone (and the clones themselves)."""
    out: set[str] = set()
    for clone in mset.clones.values():
        if not clone.spec.promotable:
            continue
        out.add(clone.name)
        out.add(clone.spec.resource)
        group = mset.groups.get(clone.spec.resource)
        if group is not None:
            out.update(group.spec.resources)
    return frozenset(out)


def _check_resource_ops(mset: ManifestSet, res: Resource, promotable: bool) -> list[Problem]:
    problems: list[Problem] = []
    standard = res.spec.agent.standard
    allowed = ALLOWED_OPS[standard]
    seen: dict[tuple[str, int], int] = {}
    for i, op in enumerate(res.spec.operations):
        path: tuple[str | int, ...] = ("spec", "operations", i)
        if op.name not in allowed:
            problems.append(
                mset.problem(
                    res,
                    (*path, "name"),
                    f"{standard} agents cannot {op.name}",
                    hint="they only start, stop and monitor",
                )
            )
        key = (op.name, op.interval.milliseconds)
        if key in seen:
            problems.append(
                mset.problem(
                    res,
                    (*path, "interval"),
                    f"operation {op.name} with interval {op.interval} is defined twice "
                    f"(also operations[{seen[key]}])",
                )
            )
        else:
            seen[key] = i
        if op.name == "monitor":
            if op.interval.milliseconds == 0:
                problems.append(
                    mset.problem(
                        res,
                        (*path, "interval"),
                        "a monitor needs an interval greater than 0",
                        hint="e.g. `interval: 10s`",
                    )
                )
        elif op.interval.milliseconds != 0:
            problems.append(
                mset.problem(
                    res,
                    (*path, "interval"),
                    f"only monitor recurs; {op.name} takes no interval",
                )
            )
        if op.role in ("Promoted", "Unpromoted") and not promotable:
            problems.append(
                mset.problem(
                    res,
                    (*path, "role"),
                    f"role {op.role} needs the resource to be in a promotable Clone",
                )
            )
        if op.on_fail == "demote" and not (
            op.name == "promote" or (op.name == "monitor" and op.role == "Promoted")
        ):
            problems.append(
                mset.problem(
                    res,
                    (*path, "onFail"),
                    "onFail demote applies only to promote and to monitors with role Promoted",
                )
            )
        if op.timeout is not None and op.timeout.milliseconds == 0:
            problems.append(mset.problem(res, (*path, "timeout"), "a timeout must be above 0"))
    return problems


def check_operations(mset: ManifestSet) -> list[Problem]:
    """Operations fit the agent class (LSB, systemd and service agents only start, stop and
    monitor; fencing devices too); one operation per name and interval; monitors recur and
    nothing else does; Promoted/Unpromoted roles and targetRoles only inside promotable
    clones; onFail demote only on promote and Promoted monitors; timeouts above 0."""
    problems: list[Problem] = []
    promotable = promotable_members(mset)
    for res in mset.resources.values():
        problems.extend(_check_resource_ops(mset, res, res.name in promotable))
        if res.spec.target_role in ("Promoted", "Unpromoted") and res.name not in promotable:
            problems.append(
                mset.problem(
                    res,
                    ("spec", "targetRole"),
                    f"targetRole {res.spec.target_role} needs the resource to be in a promotable "
                    "Clone",
                )
            )
    for group in mset.groups.values():
        if group.spec.target_role in ("Promoted", "Unpromoted") and group.name not in promotable:
            problems.append(
                mset.problem(
                    group,
                    ("spec", "targetRole"),
                    f"targetRole {group.spec.target_role} needs a promotable Clone",
                )
            )
    for dev in mset.fencing_devices.values():
        for i, op in enumerate(dev.spec.operations):
            if op.name not in _BASIC_OPS:
                problems.append(
                    mset.problem(
                        dev,
                        ("spec", "operations", i, "name"),
                        f"a fencing device cannot {op.name}",
                        hint="fencing devices only start, stop and monitor",
                    )
                )
    return problems


def check_cluster(mset: ManifestSet) -> list[Problem]:
    """Cluster policy fits the nodes: twoNode needs exactly two voters and no witness;
    witnessTimeout needs a witness; nodeTimeout is at least twice heartbeatInterval."""
    problems: list[Problem] = []
    cluster = mset.cluster
    roles: dict[str, list[str]] = defaultdict(list)
    for node in mset.nodes.values():
        roles[node.spec.role].append(node.name)
    if cluster is None:
        return problems
    voters = len(roles["voter"])
    if cluster.spec.two_node and mset.nodes and voters != 2:
        problems.append(
            mset.problem(
                cluster,
                ("spec", "twoNode"),
                f"twoNode needs exactly 2 voter nodes, the set defines {voters}",
            )
        )
    if cluster.spec.two_node and roles["witness"]:
        problems.append(
            mset.problem(
                cluster,
                ("spec", "twoNode"),
                "twoNode and a witness node exclude each other: the witness already breaks ties",
                hint="remove twoNode, or give the witness node another role",
            )
        )
    if cluster.spec.witness_timeout is not None and mset.nodes and not roles["witness"]:
        problems.append(
            mset.problem(
                cluster,
                ("spec", "witnessTimeout"),
                "witnessTimeout is set but no Node is a witness",
            )
        )
    hb, timeout = cluster.spec.heartbeat_interval, cluster.spec.node_timeout
    if timeout.milliseconds < 2 * hb.milliseconds:
        problems.append(
            mset.problem(
                cluster,
                ("spec", "nodeTimeout"),
                f"nodeTimeout ({timeout}) must be at least twice heartbeatInterval ({hb})",
            )
        )
    return problems
