"""Fencing checks: devices that can fence nobody, topologies that cannot work."""

from __future__ import annotations

import re

from reconciler.base.errors import Problem
from reconciler.model.fencing import FencingDevice
from reconciler.model.manifestset import ManifestSet

# Pacemaker's device meta-parameters that are fields here.
_PCMK_PARAMS = {
    "pcmk_host_list": "hostList",
    "pcmk_host_map": "hostMap",
    "pcmk_host_check": "hostCheck",
    "pcmk_host_argument": "hostArgument",
    "pcmk_delay_base": "delayBase",
    "pcmk_delay_max": "delayMax",
    "priority": "priority",
    "pcmk_reboot_timeout": "timeout",
    "pcmk_off_timeout": "timeout",
    "pcmk_reboot_retries": "retries",
    "pcmk_off_retries": "retries",
}


def _device_problems(mset: ManifestSet, dev: FencingDevice) -> list[Problem]:
    spec = dev.spec
    problems: list[Problem] = []
    for key in sorted(spec.params):
        if key in _PCMK_PARAMS:
            problems.append(
                mset.problem(
                    dev,
                    ("spec", "params", key),
                    f"`{key}` is a field of FencingDevice here, not an agent parameter",
                    hint=f"use `spec.{_PCMK_PARAMS[key]}`",
                )
            )
    targets = spec.static_targets()
    if targets is not None and not targets:
        problems.append(
            mset.problem(
                dev,
                ("spec", "hostCheck"),
                "this device can fence nobody: hostCheck is static-list but hostList and hostMap "
                "are empty",
                hint="list the nodes in hostList, or use hostCheck dynamic-list",
            )
        )
    elif targets and mset.nodes and not any(t in mset.nodes for t in targets):
        problems.append(
            mset.problem(
                dev,
                ("spec", "hostList" if spec.host_list else "hostMap"),
                "this device can fence nobody: none of " + ", ".join(targets) + " is a Node",
            )
        )
    if spec.host_check in ("dynamic-list", "status", "none") and spec.host_list:
        problems.append(
            mset.problem(
                dev,
                ("spec", "hostList"),
                f"hostList is ignored with hostCheck {spec.host_check}",
                hint="use hostCheck static-list, or remove hostList",
            )
        )
    if (
        spec.delay_base is not None
        and spec.delay_max is not None
        and spec.delay_base >= spec.delay_max
    ):
        problems.append(
            mset.problem(
                dev,
                ("spec", "delayBase"),
                f"delayBase ({spec.delay_base}) must be below delayMax ({spec.delay_max})",
            )
        )
    return problems


def check_fencing(mset: ManifestSet) -> list[Problem]:
    """Every FencingDevice can fence somebody (a static list is not empty and names Nodes);
    hostList is not silently ignored; delayBase is below delayMax; one FencingTopology per
    target, whose devices can fence that node; with fencing enabled and only static devices,
    every non-witness Node is covered by some device; Pacemaker's pcmk_* meta-parameters
    are fields here, not agent params."""
    problems: list[Problem] = []
    for dev in mset.fencing_devices.values():
        problems.extend(_device_problems(mset, dev))
    targets_seen: dict[tuple[str, str], str] = {}
    for topo in mset.fencing_topologies.values():
        spec = topo.spec
        if spec.node is not None:
            key, path = ("node", spec.node), ("spec", "node")
        elif spec.node_pattern is not None:
            key, path = ("pattern", spec.node_pattern), ("spec", "nodePattern")
            try:
                re.compile(spec.node_pattern)
            except re.error as e:
                problems.append(mset.problem(topo, path, f"not a regular expression: {e}"))
        else:
            assert spec.node_attribute is not None
            attr = spec.node_attribute
            key, path = ("attribute", f"{attr.name}={attr.value}"), ("spec", "nodeAttribute")
        if key in targets_seen:
            problems.append(
                mset.problem(
                    topo,
                    path,
                    f"FencingTopology {targets_seen[key]!r} already has levels for this target",
                    hint="put all levels for one target in one FencingTopology",
                )
            )
        else:
            targets_seen[key] = topo.name
        if spec.node is None:
            continue
        for i, level in enumerate(spec.levels):
            for j, name in enumerate(level.devices):
                device = mset.fencing_devices.get(name)
                known = device.spec.static_targets() if device is not None else None
                if known is not None and spec.node not in known:
                    problems.append(
                        mset.problem(
                            topo,
                            ("spec", "levels", i, "devices", j),
                            f"FencingDevice {name!r} cannot fence {spec.node!r} "
                            f"(it fences {', '.join(known) or 'nobody'})",
                        )
                    )
    problems.extend(_coverage(mset))
    return problems


def _coverage(mset: ManifestSet) -> list[Problem]:
    """With fencing on and only static devices, every node that runs resources is covered."""
    cluster = mset.cluster
    if cluster is None or not cluster.spec.fencing_enabled or not mset.fencing_devices:
        return []
    covered: set[str] = set()
    for dev in mset.fencing_devices.values():
        targets = dev.spec.static_targets()
        if targets is None:
            return []  # a device decides at run time: cannot tell statically
        covered.update(targets)
    return [
        mset.problem(
            node,
            ("metadata", "name"),
            f"no FencingDevice can fence node {node.name!r}, and fencing is enabled",
            hint="add it to a device's hostList, or disable fencing in the Cluster",
        )
        for node in mset.nodes.values()
        if node.spec.role != "witness" and node.name not in covered
    ]
