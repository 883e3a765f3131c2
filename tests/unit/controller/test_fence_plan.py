"""Which devices fence a node, in which level order, with which delays (pure)."""

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


def topo(name: str, levels: list[list[str]], **target: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {**target, "levels": [{"devices": lv} for lv in levels]},
    }


def plan(
    devs: list[dict[str, Any]],
    topos: list[dict[str, Any]] | None = None,
    node: str = "n1",
    attrs: dict[str, str] | None = None,
    seed: int = 7,
) -> FencePlan:
    return plan_fencing(
        node,
        [device_from_doc(d) for d in devs],
        [topology_from_doc(t) for t in topos or []],
        attrs or {},
        rng=random.Random(seed),
    )


def names(p: FencePlan) -> list[list[str]]:
    return [[a.device for a in lvl] for lvl in p.levels]


def test_static_list_and_host_map_select_devices() -> None:
    p = plan([dev("a", hostList=["n2"]), dev("b", hostMap={"n1": "plug7"}), dev("c")])
    assert names(p) == [["b"], ["c"]]  # a cannot fence n1; c asks the agent (dynamic-list)
    b = dict(p.levels[0][0].params)
    assert b["pcmk_host_map"] == "n1:plug7" and b["pcmk_host_check"] == "static-list"
    assert p.levels[0][0].agent == "stonith:fence_dummy"


def test_host_check_none_fences_all_and_stopped_device_is_never_used() -> None:
    p = plan([dev("a", hostList=["n2"], hostCheck="none"), dev("b", targetRole="Stopped")])
    assert names(p) == [["a"]]


def test_priority_then_name_without_topology() -> None:
    p = plan([dev("a"), dev("b", priority=10), dev("c", priority=10)])
    assert names(p) == [["b"], ["c"], ["a"]]
    assert [lvl[0].level for lvl in p.levels] == [1, 2, 3]


def test_topology_levels_in_order_all_devices_of_a_level() -> None:
    devs = [dev("ipmi"), dev("pdu1"), dev("pdu2"), dev("other")]
    p = plan(devs, [topo("t", [["ipmi"], ["pdu1", "pdu2"]], node="n1")])
    assert names(p) == [["ipmi"], ["pdu1", "pdu2"]]
    assert [a.level for a in p.levels[1]] == [2, 2]


def test_topology_matching_by_pattern_and_attribute_and_ranked() -> None:
    devs = [dev("x"), dev("y"), dev("z")]
    topos = [
        topo("by-attr", [["z"]], nodeAttribute={"name": "rack", "value": "r1"}),
        topo("by-pattern", [["y"]], nodePattern="n[0-9]+"),
        topo("by-node", [["x"]], node="n1"),
    ]
    assert names(plan(devs, topos, attrs={"rack": "r1"})) == [["x"], ["y"], ["z"]]
    assert names(plan(devs, topos, node="n22")) == [["y"]]
    assert names(plan(devs, topos, node="other", attrs={"rack": "r1"})) == [["z"]]


def test_topology_with_unknown_or_unsuitable_device_drops_that_level() -> None:
    devs = [dev("a", hostList=["n2"]), dev("b")]
    p = plan(devs, [topo("t", [["missing"], ["a"], ["b"]], node="n1")])
    assert names(p) == [["b"]]
    assert p.levels[0][0].level == 1
    assert any("no FencingDevice missing" in x for x in p.problems)
    assert any("device a cannot fence n1" in x for x in p.problems)


def test_no_device_means_an_empty_plan() -> None:
    p = plan([dev("a", hostList=["n2"])])
    assert p.levels == ()


def test_delays_base_and_seeded_random_part() -> None:
    d = [dev("a", delayBase="2s"), dev("b", delayBase="1s", delayMax="3s")]
    one, again, other = plan(d, seed=1), plan(d, seed=1), plan(d, seed=2)
    a, b = one.levels[0][0], one.levels[1][0]
    assert a.delay_s == 2.0 and dict(a.params)["pcmk_delay_base"] == "2000ms"
    assert 1.0 <= b.delay_s <= 3.0
    assert b.delay_s == again.levels[1][0].delay_s, "the same seed gives the same delay"
    assert b.delay_s != other.levels[1][0].delay_s
    assert "pcmk_delay_max" not in dict(b.params)  # drawn here, run as a fixed delay


def test_timeouts_device_then_default() -> None:
    p = plan_fencing(
        "n1",
        [device_from_doc(dev("a", timeout="5s")), device_from_doc(dev("b"))],
        [],
        {},
        rng=random.Random(0),
        default_timeout_ms=30_000,
    )
    assert [lvl[0].timeout_ms for lvl in p.levels] == [5000, 30_000]


def test_config_device_fences_every_node() -> None:
    d = config_device("stonith:fence_hactl_local", {"state_dir": "/x"})
    p = plan_fencing("anything", [d], [], {}, rng=random.Random(0))
    [[a]] = [list(lvl) for lvl in p.levels]
    assert a.agent == "stonith:fence_hactl_local" and dict(a.params)["state_dir"] == "/x"
