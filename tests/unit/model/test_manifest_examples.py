"""Every example in manifests/ is a valid set on its own, and says what it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model import dump_yaml, load_paths, load_text

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(p for p in (REPO / "manifests").iterdir() if p.is_dir())


def test_the_examples_are_there() -> None:
    names = {p.name for p in EXAMPLES}
    assert {
        "active-passive-web",
        "active-active",
        "n-plus-m",
        "promotable-database",
        "utilization",
        "demo",
    } <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates(example: Path) -> None:
    mset = load_paths([example])
    assert len(mset) > 0
    for obj in mset:
        src = mset.source(obj)
        assert src is not None and src.file.startswith(str(example)) and src.line >= 1


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_files_start_with_a_comment_header(example: Path) -> None:
    for f in sorted(example.glob("*.yaml")):
        first = f.read_text().splitlines()[0]
        assert first.startswith("# "), f"{f} has no comment header"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_round_trips_through_dump(example: Path) -> None:
    mset = load_paths([example])
    again = load_text(dump_yaml(mset.objects), "dumped.yaml")
    assert again.objects == mset.objects


def test_the_classic_web_service_has_what_it_promises() -> None:
    mset = load_paths([REPO / "manifests" / "active-passive-web"])
    group = mset.groups["web"]
    agents = [str(mset.resources[m].spec.agent) for m in group.spec.resources]
    assert agents == [
        "ocf:heartbeat:Filesystem",
        "ocf:heartbeat:IPaddr2",
        "ocf:heartbeat:apache",
    ]
    server = mset.resources["web-server"].spec
    assert server.migration_threshold == 3
    assert any(op.name == "monitor" and op.on_fail == "restart" for op in server.operations)
    pref = mset.locations["web-prefers-node1"].spec
    assert (pref.resource, pref.node) == ("web", "node1")
    assert mset.cluster is not None
    assert mset.cluster.spec.default_stickiness > (pref.score or 0)
    fenced = {n for d in mset.fencing_devices.values() for n in d.spec.host_list}
    assert fenced == set(mset.nodes) == {"node1", "node2"}


def test_the_demo_uses_local_stand_ins() -> None:
    mset = load_paths([REPO / "manifests" / "demo"])
    assert sorted(mset.nodes) == ["node1", "node2", "node3"]
    web = mset.resources["web"].spec
    assert str(web.agent) == "ocf:hactl:webserver"
    assert set(web.params) == {"address", "port", "root"}
    (fence,) = mset.fencing_devices.values()
    assert fence.spec.agent == "fence_hactl_local"
    assert "state_dir" in fence.spec.params
    assert set(fence.spec.host_list) == {"node1", "node2", "node3"}
