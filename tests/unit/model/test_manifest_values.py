"""Scalar values of the manifest language: durations, scores, agents."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.model import AgentRef, Duration, Resource


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("10s", 10_000),
        ("500ms", 500),
        ("1m", 60_000),
        ("1h30m", 5_400_000),
        ("2d", 172_800_000),
        ("1.5s", 1500),
        ("90", 90_000),
        (90, 90_000),
        (0, 0),
        ("PT10S", 10_000),
        ("PT1M30S", 90_000),
        ("P1DT2H", 93_600_000),
        ("pt0.5s", 500),
        ("5min", 300_000),
    ],
)
def test_durations_parse(text: str | int, ms: int) -> None:
    assert Duration.parse(text).milliseconds == ms


@pytest.mark.parametrize("bad", ["", "10", "s10", "10 s", "1x", "P", "PT", "-1s", True, None, [1]])
def test_bad_durations_are_refused(bad: object) -> None:
    if bad == "10":
        assert Duration.parse(bad).milliseconds == 10_000  # plain integers are seconds
        return
    with pytest.raises(ValueError, match="duration"):
        Duration.parse(bad)


@given(st.integers(min_value=0, max_value=10 * 365 * 86_400_000))
def test_duration_text_round_trips(ms: int) -> None:
    d = Duration(ms)
    assert Duration.parse(str(d)) == d


def test_duration_renders_canonically() -> None:
    assert [str(Duration(x)) for x in (0, 500, 90_000, 5_400_000, 3_600_001)] == [
        "0s",
        "500ms",
        "1m30s",
        "1h30m",
        "1h1ms",
    ]


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("INFINITY", 1_000_000),
        ("+INFINITY", 1_000_000),
        ("-INFINITY", -1_000_000),
        ("inf", 1_000_000),
        (5, 5),
        ("-20", -20),
        (5_000_000, 1_000_000),
    ],
)
def test_scores_parse_and_clamp(text: str | int, score: int) -> None:
    r = Resource.model_validate(
        {
            "apiVersion": "hactl.io/v1",
            "kind": "Resource",
            "metadata": {"name": "x"},
            "spec": {"agent": "lsb:x", "stickiness": text},
        }
    )
    assert r.spec.stickiness == score


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("ocf:heartbeat:IPaddr2", ("ocf", "heartbeat", "IPaddr2")),
        ("ocf:pacemaker:Stateful", ("ocf", "pacemaker", "Stateful")),
        ("lsb:nginx", ("lsb", None, "nginx")),
        ("systemd:postgresql@15-main", ("systemd", None, "postgresql@15-main")),
        ("service:foo", ("service", None, "foo")),
    ],
)
def test_agents_parse_and_render(text: str, parts: tuple[str, str | None, str]) -> None:
    agent = AgentRef.parse(text)
    assert (agent.standard, agent.provider, agent.type) == parts
    assert str(agent) == text


@pytest.mark.parametrize("bad", ["ocf:heartbeat", "IPaddr2", "stonith:fence_x", "ocf::x", 5])
def test_bad_agents_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="not a resource agent"):
        AgentRef.parse(bad)
