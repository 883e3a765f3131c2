"""Fuzz: whatever the input, loading returns problems or objects, never raises."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.model import KINDS, parse_text_set, validate_set
from reconciler.model.loader import parse_documents
from reconciler.model.yamlsource import decode, parse_text

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**7), 10**7),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["INFINITY", "10s", "ocf:heartbeat:Dummy", "node1", "start", "Promoted"]),
)
KEYS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            "spec",
            "agent",
            "resources",
            "resource",
            "node",
            "score",
            "rules",
            "expressions",
            "sets",
            "first",
            "then",
            "levels",
            "devices",
            "hostList",
            "operations",
            "name",
            "interval",
            "promotable",
            "withResource",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


def _load_everything(text: str) -> None:
    mset, problems = parse_text_set(text, "fuzz.yaml")
    for p in [*problems, *validate_set(mset)]:
        assert p.file == "fuzz.yaml"
        p.render()


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(raw: bytes) -> None:
    text, problem = decode(raw, "fuzz.yaml")
    if text is None:
        assert problem is not None
        return
    docs, problems = parse_text(text, "fuzz.yaml")
    mset, _ = parse_documents(docs)
    validate_set(mset)
    assert docs or problems


@FAST
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    _load_everything(text)


@FAST
@given(
    st.lists(
        st.builds(
            lambda kind, name, spec: {
                "apiVersion": "hactl.io/v1",
                "kind": kind,
                "metadata": {"name": name},
                "spec": spec,
            },
            st.sampled_from(list(KINDS)),
            st.sampled_from(["a", "b", "c", "node1"]),
            st.dictionaries(KEYS, VALUES, max_size=6),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_random_documents_of_every_kind_never_raise(docs: list[dict[str, Any]]) -> None:
    _load_everything(yaml.safe_dump_all(docs))
