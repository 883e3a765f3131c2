"""Which action fencing takes (off or reboot) and how a level of several devices reboots."""

from __future__ import annotations

import random
from typing import Any

from reconciler.controller.fence_plan import (
    FencePlan,
    config_device,
    device_from_doc,
    plan_fencing,
    topology_from_doc,
)


def dev(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"agent": "fence_dummy", **spec}}


def plan(
    devs: list[dict[str, Any]],
    levels: list[list[str]] | None = None,
    cluster_action: str | None = None,
    seed: int = 3,
) -> FencePlan:
    topos = (
        [
            {
                "metadata": {"name": "t"},
                "spec": {"node": "n1", "levels": [{"devices": lv} for lv in levels]},
            }
        ]
        if levels
        else []
    )
    return plan_fencing(
        "n1",
        [device_from_doc(d) for d in devs],
        [topology_from_doc(t) for t in topos],
        {},
        rng=random.Random(seed),
        cluster_action=cluster_action,
    )


def actions(p: FencePlan) -> list[list[str]]:
    return [[f"{a.device}:{a.action}" for a in lvl] for lvl in p.levels]


def test_a_device_reboots_by_default_like_pacemaker() -> None:
    p = plan([dev("ipmi", hostList=["n1"])])
    assert actions(p) == [["ipmi:reboot"]] and p.action(1) == "reboot"
    assert p.power_on == ((),)


def test_the_cluster_action_and_the_device_override() -> None:
    devs = [dev("ipmi", hostList=["n1"], priority=2), dev("pdu", hostList=["n1"], action="reboot")]
    p = plan(devs, cluster_action="off")
    assert actions(p) == [["ipmi:off"], ["pdu:reboot"]]
    assert (p.action(1), p.action(2)) == ("off", "reboot")
    p = plan([dev("ipmi", hostList=["n1"], action="off")], cluster_action="reboot")
    assert actions(p) == [["ipmi:off"]]


def test_the_configured_stand_in_powers_off_unless_the_cluster_says_reboot() -> None:
    d = config_device("fence_hactl_local", {"state_dir": "/run/hactl"})
    rng = random.Random(1)
    p = plan_fencing("n1", [d], [], {}, rng=rng)
    assert [a.action for a in p.levels[0]] == ["off"]
    p = plan_fencing("n1", [d], [], {}, rng=rng, cluster_action="reboot")
    assert [a.action for a in p.levels[0]] == ["reboot"]


def test_a_level_of_several_devices_turns_all_off_then_on() -> None:
    devs = [
        dev("pdu-a", hostList=["n1"], delayBase="200ms"),
        dev("pdu-b", hostList=["n1"]),
        dev("ipmi", hostList=["n1"], action="off"),
    ]
    p = plan(devs, levels=[["pdu-a", "pdu-b"], ["ipmi"]])
    assert actions(p) == [["pdu-a:off", "pdu-b:off"], ["ipmi:off"]]
    ons = p.power_on[0]
    assert [(a.device, a.action, a.level) for a in ons] == [("pdu-a", "on", 1), ("pdu-b", "on", 1)]
    assert all(a.delay_s == 0 and "pcmk_delay_base" not in dict(a.params) for a in ons)
    assert p.levels[0][0].delay_s == 0.2, "the off keeps the device's delay"
    assert p.power_on[1] == () and (p.action(1), p.action(2)) == ("reboot", "off")
    # a device of the level that says off stays off: only the rebooting ones go on
    p = plan(
        [dev("pdu-a", hostList=["n1"]), dev("pdu-b", hostList=["n1"], action="off")],
        levels=[["pdu-a", "pdu-b"]],
    )
    assert [a.device for a in p.power_on[0]] == ["pdu-a"]
    p = plan([dev("a", hostList=["n1"]), dev("b", hostList=["n1"])], [["a", "b"]], "off")
    assert p.power_on == ((),) and p.action(1) == "off"


def test_delays_drawn_are_the_same_whatever_the_action() -> None:
    devs = [dev("a", hostList=["n1"], delayMax="1s"), dev("b", hostList=["n1"], delayMax="1s")]
    off = plan(devs, [["a", "b"]], "off", seed=11)
    reboot = plan(devs, [["a", "b"]], "reboot", seed=11)
    assert [a.delay_s for a in off.levels[0]] == [a.delay_s for a in reboot.levels[0]]
