"""Clone notifications (notify=true): notify actions, their data and their orderings."""

from __future__ import annotations

from dataclasses import replace

from build import cluster, op, prim, running

from reconciler.scheduler.input import Clone, Group, SchedulerInput
from reconciler.scheduler.plan import Action, Plan, plan


def required(p: Plan) -> dict[str, Action]:
    return {a.key: a for a in p.required_actions()}


def before(p: Plan, first: str, then: str) -> bool:
    """Is there an ordering path first -> then among all the plan's actions?"""
    by_key = {a.key: a.id for a in p.actions}
    succ: dict[int, list[int]] = {}
    for a, b in p.edges:
        succ.setdefault(a, []).append(b)
    seen, todo, goal = set(), [by_key[first]], by_key[then]
    while todo:
        i = todo.pop()
        if i == goal:
            return True
        if i not in seen:
            seen.add(i)
            todo.extend(succ.get(i, []))
    return False


def with_nodes(inp: SchedulerInput, **per_node: dict[str, object]) -> SchedulerInput:
    """The input with observed node fields replaced (field -> node -> value)."""
    nodes = tuple(
        replace(n, **{k: v[n.name] for k, v in per_node.items() if n.name in v})
        for n in inp.observed.nodes
    )
    return replace(inp, observed=replace(inp.observed, nodes=nodes))


def notify_clone(notify: str = "true", **meta: str) -> Clone:
    return Clone("c", prim("d"), meta={"notify": notify, **meta})


def three(**kw: object) -> SchedulerInput:
    return cluster((notify_clone(**{"clone-max": "2"}),), nodes=("n1", "n2", "n3"), **kw)  # type: ignore[arg-type]


def test_fresh_start_notifies_after_the_starts() -> None:
    p = plan(three(), 0)
    req = required(p)
    notes = sorted(k for k in req if "notif" in k)
    assert notes == [
        "c_confirmed-post_notify_running_0",
        "c_confirmed-pre_notify_start_0",
        "c_post_notify_running_0",
        "c_pre_notify_start_0",
        "d:0_post_notify_start_0@n1",
        "d:1_post_notify_start_0@n2",
    ]
    # nothing ran before: no instance gets a pre-start notification
    assert before(p, "c_pre_notify_start_0", "c_confirmed-pre_notify_start_0")
    assert before(p, "c_confirmed-pre_notify_start_0", "c_start_0")
    assert before(p, "d:0_start_0@n1", "c_running_0")
    assert before(p, "c_running_0", "c_post_notify_running_0")
    assert before(p, "c_post_notify_running_0", "d:0_post_notify_start_0@n1")
    assert before(p, "d:1_post_notify_start_0@n2", "c_confirmed-post_notify_running_0")
    meta = req["d:0_post_notify_start_0@n1"].notify
    assert meta["notify_type"] == "post"
    assert meta["notify_operation"] == "start"
    assert meta["notify_start_resource"] == "d:0 d:1"
    assert meta["notify_start_uname"] == "n1 n2"
    assert meta["notify_inactive_resource"] == "d:0 d:1"
    assert meta["notify_active_resource"] == " "  # Pacemaker passes an empty list as a space
    assert meta["notify_all_uname"] == "n1 n2 n3"
    # the real start carries the lists too
    assert req["d:0_start_0@n1"].notify["notify_start_uname"] == "n1 n2"
    assert req["d:0_post_notify_start_0@n1"].task == "notify"


def test_no_notifications_without_notify_true() -> None:
    p = plan(cluster((notify_clone("false"),), nodes=("n1", "n2")), 0)
    assert not [a for a in p.actions if "notif" in a.task or a.notify]


def test_stop_notifies_every_active_instance_before_and_the_remaining_after() -> None:
    history = (running("d", "n1"), running("d", "n2"))
    inp = cluster((notify_clone(),), nodes=("n1", "n2"), history=history)
    p = plan(with_nodes(inp, standby={"n2": True}), 0)
    req = required(p)
    stopping = [a for a in req.values() if a.task == "stop" and a.node is not None]
    assert [(a.resource, a.node) for a in stopping] == [("d:1", "n2")]
    pre = sorted(k for k in req if "_pre_notify_stop_0@" in k)
    post = sorted(k for k in req if "_post_notify_stop_0@" in k)
    assert pre == ["d:0_pre_notify_stop_0@n1", "d:1_pre_notify_stop_0@n2"]
    assert post == ["d:0_post_notify_stop_0@n1"]  # the stopped instance is not told afterwards
    meta = req["d:0_pre_notify_stop_0@n1"].notify
    assert (meta["notify_stop_resource"], meta["notify_stop_uname"]) == ("d:1", "n2")
    assert meta["notify_active_resource"] == "d:0 d:1"
    assert meta["notify_active_uname"] == "n1 n2"
    assert before(p, "d:1_pre_notify_stop_0@n2", "d:1_stop_0@n2")
    assert before(p, "d:1_stop_0@n2", "d:0_post_notify_stop_0@n1")
    # no start anywhere: no start notifications required
    assert not [k for k in req if "notify_start" in k or "notify_running" in k]


def test_promotion_notifies_pre_and_post_and_monitors_wait() -> None:
    c = Clone("p", prim("s"), meta={"notify": "true"}, promotable=True)
    history = (running("s", "n1"), running("s", "n2"))
    inp = cluster((c,), nodes=("n1", "n2"), history=history)
    scores = {"n1": {"master-s": "10"}, "n2": {"master-s": "5"}}  # set by the agent
    p = plan(with_nodes(inp, transient_attributes=scores), 0)
    req = required(p)
    assert "s:0_promote_0@n1" in req
    assert sorted(k for k in req if "notify_promote_0@" in k) == [
        "s:0_post_notify_promote_0@n1",
        "s:0_pre_notify_promote_0@n1",
        "s:1_post_notify_promote_0@n2",
        "s:1_pre_notify_promote_0@n2",
    ]
    meta = req["s:1_pre_notify_promote_0@n2"].notify
    assert (meta["notify_promote_resource"], meta["notify_promote_uname"]) == ("s:0", "n1")
    assert meta["notify_unpromoted_resource"] == meta["notify_slave_resource"] == "s:0 s:1"
    assert meta["notify_promoted_resource"] == " "
    assert before(p, "p_confirmed-pre_notify_promote_0", "s:0_promote_0@n1")
    assert before(p, "s:0_promote_0@n1", "s:1_post_notify_promote_0@n2")


def test_cloned_group_notifies_each_member() -> None:
    g = Group("g", (prim("a"), prim("b")))
    inp = cluster((Clone("gc", g, meta={"notify": "true", "clone-max": "1"}),), nodes=("n1",))
    req = required(plan(inp, 0))
    assert sorted(k for k in req if k.endswith("_post_notify_start_0@n1")) == [
        "a:0_post_notify_start_0@n1",
        "b:0_post_notify_start_0@n1",
    ]
    assert req["a:0_post_notify_start_0@n1"].notify["notify_start_resource"] == "a:0 b:0"


def test_unclean_node_gets_no_notification_and_the_plan_is_a_dag() -> None:
    history = (running("d", "n1"), running("d", "n2", op("start")))
    inp = cluster((notify_clone(),), nodes=("n1", "n2"), history=history, unclean=("n2",))
    p = plan(inp, 0)
    assert not [a for a in p.actions if a.task == "notify" and a.node == "n2"]
    assert not p.dropped_edges
