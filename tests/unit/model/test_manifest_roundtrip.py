"""Property: model -> YAML -> model is the identity, for every kind."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.model import KINDS, Manifest, dump_yaml, parse_text_set

NAME = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}[a-z0-9]\Z")
NODE = st.sampled_from(["node1", "node2", "node-3", "db.example.com"])
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
    max_size=20,
)
SCORE = st.one_of(
    st.integers(min_value=-1_000_000, max_value=1_000_000),
    st.sampled_from(["INFINITY", "-INFINITY", "+INFINITY"]),
)
DURATION = st.one_of(
    st.integers(min_value=0, max_value=86_400),
    st.integers(min_value=0, max_value=10**9).map(lambda ms: f"{ms}ms"),
    st.sampled_from(["10s", "1m", "1h30m", "PT10S", "2d"]),
)
ROLE = st.sampled_from(["Stopped", "Started", "Unpromoted", "Promoted"])
PARAMS = st.dictionaries(
    st.from_regex(r"\A[a-z_]{1,8}\Z"), st.one_of(TEXT, st.integers()), max_size=4
)
LABELS = st.dictionaries(st.from_regex(r"\A[a-z./]{1,8}\Z"), TEXT, max_size=3)


def optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict that has any subset of ``fields``."""
    return st.fixed_dictionaries({}, optional=fields)


def doc(kind: str, spec: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    meta = st.builds(
        lambda name, rest: {"name": name, **rest},
        NAME,
        optional(labels=LABELS, annotations=LABELS, generation=st.integers(0, 99), uid=TEXT),
    )
    return st.fixed_dictionaries(
        {
            "apiVersion": st.just("hactl.io/v1"),
            "kind": st.just(kind),
            "metadata": meta,
            "spec": spec,
        }
    )


OPERATION = st.builds(
    lambda name, rest: {"name": name, **rest},
    st.sampled_from(["start", "stop", "monitor", "promote", "notify", "reload-agent"]),
    optional(
        interval=DURATION,
        timeout=DURATION,
        role=st.sampled_from(["Started", "Promoted"]),
        onFail=st.sampled_from(["ignore", "block", "restart", "fence", "demote"]),
        enabled=st.booleans(),
        startDelay=DURATION,
        description=TEXT,
    ),
)
RESOURCE = doc(
    "Resource",
    st.builds(
        lambda agent, rest: {"agent": agent, **rest},
        st.sampled_from(["ocf:heartbeat:IPaddr2", "lsb:nginx", "systemd:foo@bar", "service:x"]),
        optional(
            params=PARAMS,
            operations=st.lists(OPERATION, max_size=3),
            stickiness=SCORE,
            migrationThreshold=SCORE,
            failureTimeout=DURATION,
            targetRole=ROLE,
            managed=st.booleans(),
            maintenance=st.booleans(),
            priority=st.integers(-100, 100),
            allowMigrate=st.booleans(),
            critical=st.booleans(),
            multipleActive=st.sampled_from(["block", "stop_only"]),
            requires=st.sampled_from(["nothing", "fencing"]),
            utilization=st.dictionaries(st.sampled_from(["cpu", "mem"]), st.integers(0, 64)),
            description=TEXT,
        ),
    ),
)
GROUP = doc(
    "Group",
    st.builds(
        lambda members, rest: {"resources": members, **rest},
        st.lists(NAME, min_size=1, max_size=4),
        optional(stickiness=SCORE, targetRole=ROLE, managed=st.booleans(), priority=st.integers()),
    ),
)
CLONE = doc(
    "Clone",
    st.builds(
        lambda target, rest: {"resource": target, **rest},
        NAME,
        optional(
            max=st.integers(5, 9),
            perNodeMax=st.integers(1, 3),
            minActive=st.integers(0, 3),
            interleave=st.booleans(),
            globallyUnique=st.booleans(),
            ordered=st.booleans(),
            notify=st.booleans(),
            promotable=st.booleans(),
            promotedMax=st.integers(0, 4),
            promotedPerNodeMax=st.integers(0, 2),
        ),
    ),
)
ATTR_EXPR = st.one_of(
    st.builds(
        lambda a, op, v, t: {"attribute": a, "operation": op, "value": v, "type": t},
        st.sampled_from(["#uname", "rack", "ssd"]),
        st.sampled_from(["lt", "gt", "lte", "gte", "eq", "ne"]),
        TEXT,
        st.sampled_from(["string", "integer", "number", "version"]),
    ),
    st.builds(
        lambda a, op: {"attribute": a, "operation": op},
        st.sampled_from(["rack", "ssd"]),
        st.sampled_from(["defined", "not_defined"]),
    ),
    st.builds(
        lambda start: {"date": {"operation": "gt", "start": start}},
        st.sampled_from(["2030-01-01T00:00:00", "2030-06-01T12:30:00+02:00", "2031-01-01"]),
    ),
    st.builds(
        lambda hours, days: {
            "date": {"operation": "date_spec", "spec": {"hours": hours, "weekdays": days}}
        },
        st.sampled_from(["9-17", "0", "22-23"]),
        st.sampled_from(["1-5", "6-7"]),
    ),
)
EXPR = st.recursive(
    ATTR_EXPR,
    lambda inner: st.builds(
        lambda op, exprs: {"rule": {"booleanOp": op, "expressions": exprs}},
        st.sampled_from(["and", "or"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=6,
)
RULE = st.builds(
    lambda score, op, exprs, role: {
        "score": score,
        "booleanOp": op,
        "expressions": exprs,
        **({"role": role} if role else {}),
    },
    SCORE,
    st.sampled_from(["and", "or"]),
    st.lists(EXPR, min_size=1, max_size=3),
    st.one_of(st.none(), ROLE),
)
SELECTOR = st.builds(
    lambda labels, key: {
        "matchLabels": labels,
        "matchExpressions": [{"key": key, "operator": "In", "values": ["a", "b"]}],
    },
    LABELS,
    st.from_regex(r"\A[a-z]{1,5}\Z"),
)
LOCATION = doc(
    "Location",
    st.one_of(
        st.builds(
            lambda r, n, s, rest: {"resource": r, "node": n, "score": s, **rest},
            NAME,
            NODE,
            SCORE,
            optional(role=ROLE, lifetime=DURATION, resourceDiscovery=st.just("never")),
        ),
        st.builds(
            lambda sel, rules: {"resourceSelector": sel, "rules": rules},
            SELECTOR,
            st.lists(RULE, min_size=1, max_size=2),
        ),
        st.builds(
            lambda pat, rules: {"resourcePattern": pat, "rules": rules},
            st.just("^web-.*"),
            st.lists(RULE, min_size=1, max_size=2),
        ),
    ),
)
RSET = st.builds(
    lambda names, rest: {"resources": names, **rest},
    st.lists(NAME, min_size=1, max_size=3),
    optional(sequential=st.booleans(), requireAll=st.booleans()),
)
COLOCATION = doc(
    "Colocation",
    st.one_of(
        st.builds(
            lambda a, b, s, rest: {"resource": a, "withResource": b + "-x", "score": s, **rest},
            NAME,
            NAME,
            SCORE,
            optional(
                role=ROLE, withRole=ROLE, nodeAttribute=st.just("rack"), influence=st.booleans()
            ),
        ),
        st.builds(
            lambda sets, s: {"sets": sets, "score": s},
            st.lists(RSET.map(lambda r: {**r, "role": "Started"}), min_size=1, max_size=3),
            SCORE,
        ),
    ),
)
ORDER = doc(
    "Order",
    st.one_of(
        st.builds(
            lambda a, b, rest: {"first": a, "then": b + "-x", **rest},
            NAME,
            NAME,
            optional(
                firstAction=st.sampled_from(["start", "promote"]),
                thenAction=st.sampled_from(["start", "stop", "demote"]),
                kind=st.sampled_from(["Mandatory", "Optional"]),
                symmetrical=st.booleans(),
            ),
        ),
        st.builds(
            lambda sets: {"sets": sets, "kind": "Serialize"},
            st.lists(RSET.map(lambda r: {**r, "action": "start"}), min_size=1, max_size=3),
        ),
    ),
)
FENCING_DEVICE = doc(
    "FencingDevice",
    st.builds(
        lambda agent, rest: {"agent": agent, **rest},
        st.sampled_from(["fence_ipmilan", "stonith:fence_virsh", "fence_hactl_local"]),
        optional(
            params=PARAMS,
            hostList=st.lists(NODE, max_size=3),
            hostMap=st.dictionaries(NODE, TEXT, max_size=3),
            hostCheck=st.sampled_from(["static-list", "dynamic-list", "status", "none"]),
            hostArgument=st.just("port"),
            delayBase=DURATION,
            delayMax=DURATION,
            priority=st.integers(-5, 5),
            timeout=DURATION,
            retries=st.integers(0, 5),
            targetRole=st.sampled_from(["Started", "Stopped"]),
        ),
    ),
)
FENCING_TOPOLOGY = doc(
    "FencingTopology",
    st.builds(
        lambda target, levels: {**target, "levels": [{"devices": d} for d in levels]},
        st.one_of(
            NODE.map(lambda n: {"node": n}),
            st.just({"nodePattern": "node[0-9]+"}),
            st.builds(lambda v: {"nodeAttribute": {"name": "rack", "value": v}}, TEXT),
        ),
        st.lists(st.lists(NAME, min_size=1, max_size=3), min_size=1, max_size=9),
    ),
)
NODE_DOC = doc(
    "Node",
    optional(
        role=st.sampled_from(["voter", "witness", "agent-only"]),
        addresses=st.lists(st.sampled_from(["10.0.0.1", "10.0.0.1:7400", "[::1]:7400"])),
        attributes=PARAMS,
        utilization=st.dictionaries(st.sampled_from(["cpu", "memory"]), st.integers(0, 10**6)),
        standby=st.booleans(),
        maintenance=st.booleans(),
    ),
)
CLUSTER = doc(
    "Cluster",
    optional(
        noQuorumPolicy=st.sampled_from(["stop", "freeze", "ignore", "demote", "fence"]),
        fencingEnabled=st.booleans(),
        fencingAction=st.sampled_from(["reboot", "off"]),
        fencingTimeout=DURATION,
        symmetricCluster=st.booleans(),
        defaultStickiness=SCORE,
        defaultMigrationThreshold=SCORE,
        placementStrategy=st.sampled_from(["default", "utilization", "minimal", "balanced"]),
        heartbeatInterval=DURATION,
        nodeTimeout=DURATION,
        clusterRecheckInterval=DURATION,
        twoNode=st.booleans(),
        waitForAll=st.booleans(),
        witnessTimeout=DURATION,
        batchLimit=st.integers(0, 50),
    ),
)
ANY_DOC = st.one_of(
    RESOURCE,
    GROUP,
    CLONE,
    LOCATION,
    COLOCATION,
    ORDER,
    FENCING_DEVICE,
    FENCING_TOPOLOGY,
    NODE_DOC,
    CLUSTER,
)


STRATEGIES = {
    "Resource": RESOURCE,
    "Group": GROUP,
    "Clone": CLONE,
    "Location": LOCATION,
    "Colocation": COLOCATION,
    "Order": ORDER,
    "FencingDevice": FENCING_DEVICE,
    "FencingTopology": FENCING_TOPOLOGY,
    "Node": NODE_DOC,
    "Cluster": CLUSTER,
}


def _model(data: dict[str, Any]) -> Manifest | None:
    try:
        return KINDS[data["kind"]].model_validate(data)
    except ValueError:
        return None  # the generator made something the models refuse (e.g. promotedMax > max)


def _round_trip(models: list[Manifest]) -> None:
    text = dump_yaml(models)
    mset, problems = parse_text_set(text, "roundtrip.yaml")
    assert problems == [], text
    assert list(mset.objects) == models, text
    assert dump_yaml(mset.objects) == text


def test_there_is_a_generator_for_every_kind() -> None:
    assert set(STRATEGIES) == set(KINDS)


@pytest.mark.parametrize("kind", list(STRATEGIES))
def test_each_kind_round_trips(kind: str) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(STRATEGIES[kind])
    def run(data: dict[str, Any]) -> None:
        model = _model(data)
        assume(model is not None)
        assert model is not None
        _round_trip([model])

    run()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANY_DOC, min_size=1, max_size=4))
def test_model_to_yaml_to_model_is_the_identity(docs: list[dict[str, Any]]) -> None:
    models = [m for m in map(_model, docs) if m is not None]
    assume(models)
    _round_trip(models)
