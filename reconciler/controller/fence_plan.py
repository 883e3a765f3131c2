"""Which fencing devices can fence a node, in which order: the plan of fencing attempts.

Pure: desired FencingDevice and FencingTopology documents (the JSON the API
stored) in, an ordered tuple of levels of attempts out. Pacemaker's rules:

* A FencingTopology that matches the node (``node``, ``nodePattern`` as a full
  regular-expression match, or ``nodeAttribute``) gives the levels, tried first
  to last; every device of a level must succeed for the level to succeed.
  Several matching topologies contribute their levels in that order (node,
  pattern, attribute; by name within each).
* Without a topology, every device that may fence the node is its own level,
  higher ``priority`` first, then by name.
* Whether a device may fence the node (``hostCheck``): static-list — the node
  is in ``hostList`` or ``hostMap``; none — every node; dynamic-list and status
  — the agent is asked when the attempt runs (the fence runner does it and
  answers "cannot fence" with rc 1, which fails that attempt).
* A device with ``targetRole: Stopped`` is never used.
* Delays: ``delayBase`` plus a random part up to ``delayMax`` (Pacemaker's
  pcmk_delay_base/pcmk_delay_max), drawn from an injected generator so a seed
  reproduces them; the attempt carries the resulting fixed delay.
* Action (Pacemaker's stonith-action): the device's ``action`` if it sets one,
  else the Cluster's ``fencingAction``, else ``reboot`` for a FencingDevice and
  ``off`` for the node configuration's stand-in device (nothing restarts a
  local cluster's hacd after a reboot). As Pacemaker does, a level of several
  devices does not reboot them one by one (one PDU would power the node again
  while the other is still off): every device of the level is turned ``off``,
  then the ones whose action is reboot are turned ``on`` again (``power_on``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.model.values import Duration

DEFAULT_TIMEOUT_MS = 60_000
CONFIG_DEVICE = "hactl-config-fencing"  # the node configuration's agent, when no device exists


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    agent: str  # without the stonith: prefix
    params: tuple[tuple[str, str], ...] = ()
    host_list: tuple[str, ...] = ()
    host_map: tuple[tuple[str, str], ...] = ()
    host_check: str = "dynamic-list"
    host_argument: str | None = None
    delay_base_s: float = 0.0
    delay_max_s: float = 0.0
    priority: int = 0
    timeout_ms: int | None = None
    enabled: bool = True
    action: str | None = None  # off | reboot; None: the Cluster's fencingAction
    default_action: str = "reboot"  # when neither the device nor the Cluster says

    def may_fence(self, node: str) -> bool:
        """False only when the device provably cannot fence ``node`` (static list)."""
        if not self.enabled:
            return False
        if self.host_check == "static-list":
            return node in self.host_list or node in dict(self.host_map)
        return True


@dataclass(frozen=True, slots=True)
class Topology:
    name: str
    node: str | None
    node_pattern: str | None
    node_attribute: tuple[str, str] | None
    levels: tuple[tuple[str, ...], ...]

    def rank(self, node: str, attrs: Mapping[str, str]) -> int | None:
        """0/1/2 for a node/pattern/attribute match, None when it does not apply."""
        if self.node is not None:
            return 0 if self.node == node else None
        if self.node_pattern is not None:
            try:
                return 1 if re.fullmatch(self.node_pattern, node) else None
            except re.error:
                return None
        if self.node_attribute is not None:
            k, v = self.node_attribute
            return 2 if attrs.get(k) == v else None
        return None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One device's fencing action against the target."""

    level: int  # 1-based
    device: str
    agent: str  # with the stonith: prefix, as the executor wants it
    params: tuple[tuple[str, str], ...]  # agent params + pcmk_* host/delay settings
    delay_s: float
    timeout_ms: int
    action: str = "off"  # the agent action: off, reboot, or on (after a level's offs)


@dataclass(frozen=True, slots=True)
class FencePlan:
    target: str
    levels: tuple[tuple[Attempt, ...], ...]
    problems: tuple[str, ...] = ()  # e.g. a topology naming an unknown device
    # per level (same index): the "on" attempts that follow its successful "off"s when a
    # level of several devices reboots; their failure does not undo the fencing
    power_on: tuple[tuple[Attempt, ...], ...] = ()

    def action(self, level: int) -> str:
        """What fencing by level ``level`` (1-based) does to the node: reboot or off."""
        lvl = self.levels[level - 1]
        ons = self.power_on[level - 1] if level <= len(self.power_on) else ()
        return "reboot" if ons or any(a.action == "reboot" for a in lvl) else "off"

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(a.device for lvl in self.levels for a in lvl)


def _seconds(value: object) -> float:
    if value is None or value == "":
        return 0.0
    try:
        return Duration.parse(value).seconds
    except (ValueError, TypeError):
        return 0.0


def device_from_doc(doc: Mapping[str, Any]) -> Device:
    spec: Mapping[str, Any] = doc.get("spec") or {}
    host_list = tuple(str(h) for h in spec.get("hostList") or ())
    host_map = tuple(sorted((str(k), str(v)) for k, v in (spec.get("hostMap") or {}).items()))
    check = spec.get("hostCheck")
    if not check:
        check = "static-list" if host_list or host_map else "dynamic-list"
    timeout = spec.get("timeout")
    return Device(
        name=str(doc["metadata"]["name"]),
        agent=str(spec.get("agent") or "").removeprefix("stonith:"),
        params=tuple(sorted((str(k), str(v)) for k, v in (spec.get("params") or {}).items())),
        host_list=host_list,
        host_map=host_map,
        host_check=str(check),
        host_argument=spec.get("hostArgument"),
        delay_base_s=_seconds(spec.get("delayBase")),
        delay_max_s=_seconds(spec.get("delayMax")),
        priority=int(spec.get("priority") or 0),
        timeout_ms=int(_seconds(timeout) * 1000) if timeout else None,
        enabled=str(spec.get("targetRole") or "Started") != "Stopped",
        action=str(spec["action"]) if spec.get("action") else None,
    )


def topology_from_doc(doc: Mapping[str, Any]) -> Topology:
    spec: Mapping[str, Any] = doc.get("spec") or {}
    attr = spec.get("nodeAttribute")
    return Topology(
        name=str(doc["metadata"]["name"]),
        node=spec.get("node"),
        node_pattern=spec.get("nodePattern"),
        node_attribute=(str(attr["name"]), str(attr["value"])) if attr else None,
        levels=tuple(
            tuple(str(d) for d in (lvl.get("devices") or ())) for lvl in spec.get("levels") or ()
        ),
    )


def config_device(agent: str, params: Mapping[str, str]) -> Device:
    """The node configuration's fence agent as a device that may fence every node."""
    return Device(
        name=CONFIG_DEVICE,
        agent=agent.removeprefix("stonith:"),
        params=tuple(sorted(params.items())),
        host_check="none",
        default_action="off",
    )


def delay_for(dev: Device, rng: random.Random) -> float:
    """Base delay plus a random part up to ``delayMax`` (Pacemaker: max bounds the total)."""
    if dev.delay_max_s > dev.delay_base_s:
        return dev.delay_base_s + rng.uniform(0.0, dev.delay_max_s - dev.delay_base_s)
    return dev.delay_base_s


def action_for(dev: Device, cluster_action: str | None) -> str:
    """The device's own action, else the Cluster's, else the device's default."""
    return dev.action or cluster_action or dev.default_action


def attempt_for(
    dev: Device,
    level: int,
    target: str,
    rng: random.Random,
    default_timeout_ms: int,
    *,
    action: str = "off",
) -> Attempt:
    params = dict(dev.params)
    if dev.host_list:
        params["pcmk_host_list"] = " ".join(dev.host_list)
    if dev.host_map:
        params["pcmk_host_map"] = ";".join(f"{n}:{p}" for n, p in dev.host_map)
    params["pcmk_host_check"] = dev.host_check
    if dev.host_argument:
        params["pcmk_host_argument"] = dev.host_argument
    delay = round(delay_for(dev, rng), 3)
    if delay > 0:
        params["pcmk_delay_base"] = f"{int(delay * 1000)}ms"
    return Attempt(
        level=level,
        device=dev.name,
        agent="stonith:" + dev.agent,
        params=tuple(sorted(params.items())),
        delay_s=delay,
        timeout_ms=dev.timeout_ms or default_timeout_ms,
        action=action,
    )


def plan_fencing(
    target: str,
    devices: Iterable[Device],
    topologies: Iterable[Topology],
    node_attributes: Mapping[str, str],
    *,
    rng: random.Random,
    default_timeout_ms: int = DEFAULT_TIMEOUT_MS,
    cluster_action: str | None = None,
) -> FencePlan:
    """The levels of attempts that fence ``target`` (empty: nothing can fence it)."""
    by_name = {d.name: d for d in devices}
    matching = sorted(
        (
            (rank, t.name, t)
            for t in topologies
            if (rank := t.rank(target, node_attributes)) is not None
        ),
        key=lambda x: (x[0], x[1]),
    )
    problems: list[str] = []
    level_devices: list[list[Device]] = []
    if matching:
        for _, tname, topo in matching:
            for names in topo.levels:
                devs: list[Device] = []
                usable = True
                for dn in names:
                    dev = by_name.get(dn)
                    if dev is None:
                        problems.append(f"topology {tname}: no FencingDevice {dn}")
                        usable = False
                    elif not dev.may_fence(target):
                        problems.append(f"topology {tname}: device {dn} cannot fence {target}")
                        usable = False
                    else:
                        devs.append(dev)
                if usable and devs:
                    level_devices.append(devs)
    else:
        for dev in sorted(by_name.values(), key=lambda d: (-d.priority, d.name)):
            if dev.may_fence(target):
                level_devices.append([dev])
    levels: list[tuple[Attempt, ...]] = []
    power_on: list[tuple[Attempt, ...]] = []
    for i, devs in enumerate(level_devices, start=1):
        actions = [action_for(d, cluster_action) for d in devs]
        if len(devs) == 1:
            levels.append(
                (attempt_for(devs[0], i, target, rng, default_timeout_ms, action=actions[0]),)
            )
            power_on.append(())
            continue
        offs = [attempt_for(d, i, target, rng, default_timeout_ms, action="off") for d in devs]
        levels.append(tuple(offs))
        power_on.append(
            tuple(
                replace(a, action="on", delay_s=0.0, params=_undelayed(a.params))
                for a, act in zip(offs, actions, strict=True)
                if act == "reboot"
            )
        )
    return FencePlan(target, tuple(levels), tuple(problems), tuple(power_on))


def _undelayed(params: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in params if k != "pcmk_delay_base")
