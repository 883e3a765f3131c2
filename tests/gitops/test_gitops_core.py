"""Pure parts of the GitOps watcher: snapshot filters and digest, debounce, backoff, plan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.base.clock import ManualClock
from reconciler.base.errors import Problem, ValidationError
from reconciler.gitops.backoff import Backoff
from reconciler.gitops.debounce import Debounce
from reconciler.gitops.keys import ObjectKey, check_watcher_name, watcher_name_from_directory
from reconciler.gitops.objects import DesiredObject, LiveObject, same_object
from reconciler.gitops.plan import make_plan
from reconciler.gitops.reconcile import problems_by_file
from reconciler.gitops.snapshot import (
    MISSING_REVISION,
    is_manifest_name,
    is_manifest_relpath,
    take_snapshot,
)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("web.yaml", True),
        ("web.yml", True),
        ("web.json", False),
        (".web.yaml", False),
        (".#web.yaml", False),
        ("web.yaml~", False),
        ("web.yaml.swp", False),
        ("web.yaml.swx", False),
        ("4913", False),
        (".web.yaml.tmp", False),
        ("web.yaml.tmp", False),
        ("#web.yaml#", False),
        ("README.md", False),
    ],
)
def test_manifest_names(name: str, ok: bool) -> None:
    assert is_manifest_name(name) is ok


def test_hidden_directories_are_skipped() -> None:
    assert is_manifest_relpath("apps/web.yaml")
    assert not is_manifest_relpath(".git/web.yaml")
    assert not is_manifest_relpath("apps/.cache/web.yaml")


def test_snapshot_revision_depends_on_paths_and_contents_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text("a: 1\n")
    (tmp_path / "sub" / "b.yml").write_text("b: 1\n")
    (tmp_path / ".hidden.yaml").write_text("x: 1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.yaml").write_text("c: 1\n")
    (tmp_path / "a.yaml~").write_text("old\n")
    first = take_snapshot(tmp_path)
    assert [f.relpath for f in first.files] == ["a.yaml", "sub/b.yml"]
    # temp/hidden files do not move the revision; mtime does not either
    (tmp_path / ".#a.yaml").write_text("lock")
    os.utime(tmp_path / "a.yaml", (1, 1))
    assert take_snapshot(tmp_path).revision == first.revision
    # a rename changes it, a content change changes it
    (tmp_path / "sub" / "b.yml").rename(tmp_path / "sub" / "c.yml")
    renamed = take_snapshot(tmp_path)
    assert renamed.revision != first.revision
    (tmp_path / "sub" / "c.yml").rename(tmp_path / "sub" / "b.yml")
    assert take_snapshot(tmp_path).revision == first.revision
    (tmp_path / "a.yaml").write_text("a: 2\n")
    assert take_snapshot(tmp_path).revision != first.revision


def test_snapshot_of_missing_directory(tmp_path: Path) -> None:
    snap = take_snapshot(tmp_path / "nope")
    assert not snap.exists
    assert snap.revision == MISSING_REVISION
    empty = take_snapshot(tmp_path)
    assert empty.exists and empty.empty and empty.revision != MISSING_REVISION


def test_debounce_quiet_period_and_max_wait() -> None:
    clock = ManualClock()
    d = Debounce(quiet=0.3, max_wait=2.0)
    assert d.deadline() is None and not d.due(clock.monotonic())
    d = d.changed(clock.monotonic())
    assert d.deadline() == pytest.approx(0.3)
    # a burst: every change within the quiet period pushes the deadline
    for _ in range(5):
        clock.advance(0.2)
        d = d.changed(clock.monotonic())
        assert not d.due(clock.monotonic())
    assert d.deadline() == pytest.approx(1.3)
    clock.advance(0.3)
    assert d.due(clock.monotonic())
    d = d.fired()
    assert not d.pending
    # a directory that never goes quiet is still reconciled after max_wait
    start = clock.monotonic()
    d = d.changed(start)
    fired_at = None
    for _ in range(100):
        clock.advance(0.1)
        if d.due(clock.monotonic()):
            fired_at = clock.monotonic()
            break
        d = d.changed(clock.monotonic())
    assert fired_at is not None and fired_at - start == pytest.approx(2.0)


def test_debounce_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Debounce(quiet=2, max_wait=1)


def test_backoff_doubles_on_the_same_revision_and_resets_on_a_new_one() -> None:
    b = Backoff(initial=1.0, cap=5.0)
    assert b.allows("r1", 0.0)
    b = b.failed("r1", 0.0)
    assert not b.allows("r1", 0.5) and b.allows("r1", 1.0)
    assert b.allows("r2", 0.5)  # a new revision is tried at once
    b = b.failed("r1", 1.0)
    assert b.wait_for("r1", 1.0) == pytest.approx(2.0)
    b = b.failed("r1", 3.0)
    b = b.failed("r1", 7.0)
    assert b.wait_for("r1", 7.0) == pytest.approx(5.0)  # capped
    b = b.failed("r2", 12.0)
    assert b.failures == 1 and b.wait_for("r2", 12.0) == pytest.approx(1.0)
    assert b.succeeded().allows("r2", 12.0)


def _d(kind: str, name: str, **spec: object) -> DesiredObject:
    body = {"apiVersion": "hactl.io/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    return DesiredObject(ObjectKey(kind, name), body)


def _live(d: DesiredObject, rev: int, **meta: object) -> LiveObject:
    body = {**d.body, "metadata": {**d.body["metadata"], **meta}}
    return LiveObject(d.key, body, rev)


def test_plan_create_configure_unchanged_ignoring_server_owned_fields() -> None:
    a, b, c = _d("Resource", "a", x=1), _d("Resource", "b", x=1), _d("Resource", "c", x=1)
    live = {
        a.key: _live(a, 5, resourceVersion="5", generation=2),
        b.key: _live(_d("Resource", "b", x=2), 6),
    }
    plan = make_plan([c, b, a], live, [], prune=False, allow_empty=False)
    assert [d.key.name for d in plan.create] == ["c"]
    assert [d.key.name for d, _ in plan.configure] == ["b"]
    assert [k.name for k in plan.unchanged] == ["a"]
    assert plan.inventory == (a.key, b.key, c.key)
    assert same_object(a.body, {**a.body, "status": {"x": 1}})


def test_plan_prunes_only_inventory_objects_and_only_when_asked() -> None:
    a, gone, foreign = _d("Resource", "a"), _d("Resource", "gone"), _d("Resource", "foreign")
    live = {k.key: _live(k, 3) for k in (a, gone, foreign)}
    inventory = [a.key, gone.key]
    no_prune = make_plan([a], live, inventory, prune=False, allow_empty=False)
    assert no_prune.prune == () and no_prune.pending_prune == (gone.key,)
    assert gone.key in no_prune.inventory  # still ours: a later --prune may remove it
    pruned = make_plan([a], live, inventory, prune=True, allow_empty=False)
    assert [o.key for o in pruned.prune] == [gone.key]
    assert foreign.key not in pruned.inventory
    assert pruned.inventory == (a.key,)


def test_plan_refuses_to_prune_everything_unless_allowed() -> None:
    a = _d("Resource", "a")
    live = {a.key: _live(a, 3)}
    refused = make_plan([], live, [a.key], prune=True, allow_empty=False)
    assert refused.refused and "allow-empty" in refused.refused and refused.prune == ()
    allowed = make_plan([], live, [a.key], prune=True, allow_empty=True)
    assert allowed.refused is None and [o.key for o in allowed.prune] == [a.key]
    # nothing of ours left in the store: nothing to refuse
    assert make_plan([], {}, [a.key], prune=True, allow_empty=False).refused is None


def test_problems_are_grouped_per_file_relative_to_the_directory() -> None:
    err = ValidationError(
        [
            Problem("bad", file="/d/apps/web.yaml", line=3, path="spec.agent"),
            Problem("worse", file="/d/apps/web.yaml", line=9),
            Problem("other", file="db.yaml", line=1),
        ]
    )
    grouped = problems_by_file(err, "/d")
    assert list(grouped) == ["apps/web.yaml", "db.yaml"]
    assert grouped["apps/web.yaml"][0] == "apps/web.yaml:3: spec.agent: bad"


def test_watcher_names() -> None:
    assert watcher_name_from_directory("My Manifests!") == "my-manifests"
    assert watcher_name_from_directory("...") == "sync"
    assert check_watcher_name("prod-1") == "prod-1"
    with pytest.raises(ValueError):
        check_watcher_name("Bad/Name")


def test_watcher_config_from_a_node_config_entry() -> None:
    from reconciler.base.errors import ConfigError
    from reconciler.gitops.config import from_mapping

    cfg = from_mapping(
        {
            "directory": "/srv/Prod Site",
            "prune": True,
            "drift": "report",
            "interval": "1m",
            "quiet": "500ms",
        },
        node="node1",
    )
    assert (cfg.name, cfg.prune, cfg.drift, cfg.interval, cfg.quiet, cfg.node) == (
        "prod-site",
        True,
        "report",
        60.0,
        0.5,
        "node1",
    )
    for bad, field in (
        ({"directory": "/x", "prnue": True}, "prnue"),
        ({}, "directory"),
        ({"directory": "/x", "interval": "soon"}, "interval"),
        ({"directory": "/x", "prune": "yes"}, "prune"),
        ({"directory": "/x", "drift": "heal"}, "drift"),
        ({"directory": "/x", "name": "Bad Name"}, "sync name"),
    ):
        with pytest.raises(ConfigError, match=field):
            from_mapping(bad)


def test_the_watch_filter_wakes_for_manifests_and_directories_only(tmp_path: Path) -> None:
    from watchfiles import Change

    from reconciler.gitops.fswatch import make_filter

    (tmp_path / "apps.d").mkdir()
    accept = make_filter(tmp_path)
    root = str(tmp_path.resolve())
    wakes = {
        "web.yaml": True,
        "sub/db.yml": True,
        "apps.d": True,
        "newdir": True,
        "4913": False,
        "web.yaml~": False,
        ".web.yaml.swp": False,
        ".#web.yaml": False,
        ".web.yaml.tmp": False,
        ".git/index": False,
        ".git/objects/ab": False,
        "notes.txt": False,
    }
    for rel, want in wakes.items():
        assert accept(Change.modified, f"{root}/{rel}") is want, rel


def test_error_lists_in_the_status_are_bounded() -> None:
    from reconciler.gitops.status import MAX_ERRORS_PER_FILE, MAX_ERRORS_TOTAL, errors_by_file

    many = {f"f{i:03d}.yaml": [f"f{i:03d}.yaml:{n}: bad" for n in range(80)] for i in range(20)}
    bounded = errors_by_file(many)
    assert list(bounded) == sorted(many)
    assert len(bounded["f000.yaml"]) == MAX_ERRORS_PER_FILE + 1
    assert bounded["f000.yaml"][-1] == "f000.yaml: 30 more problems not shown"
    assert sum(len(v) for v in bounded.values()) <= MAX_ERRORS_TOTAL + len(many)
    assert bounded["f019.yaml"] == ["f019.yaml: 80 more problems not shown"]


def test_sync_finds_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.cli.sync import DEFAULT_ENDPOINTS, _endpoints

    monkeypatch.delenv("HACTL_ENDPOINTS", raising=False)
    monkeypatch.setenv("HACTL_CLUSTER_DIR", str(tmp_path / "none"))
    assert _endpoints(None, None) == [DEFAULT_ENDPOINTS]
    assert _endpoints("a:1, b:2", None) == ["a:1", "b:2"]
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "endpoints").write_text("c:3,d:4\n")
    assert _endpoints(None, str(tmp_path / "store")) == ["c:3", "d:4"]
    monkeypatch.setenv("HACTL_ENDPOINTS", "e:5")
    assert _endpoints(None, None) == ["e:5"]
    monkeypatch.delenv("HACTL_ENDPOINTS")
    local = tmp_path / "cluster"
    local.mkdir()
    (local / "cluster.yaml").write_text("nodes: [n1, n2]\nbasePort: 24000\nbackend: etcd\n")
    monkeypatch.setenv("HACTL_CLUSTER_DIR", str(local))
    found = _endpoints(None, None)
    assert len(found) == 2 and all(e.startswith("127.0.0.1:") for e in found)
