"""The watcher end to end: a real directory, real watchfiles, a real store.

Tests of the store side run against both engines (``backend``: real etcd and hactl's
builtin store); those about the directory and timing run against real etcd.

Editors' habits (atomic rename saves, truncated files, delete + recreate, bursts of
writes), git checkouts, invalid files, a directory that disappears, pruning rules,
drift, suspend/resume and backoff. Every wait polls with a deadline.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from gitops_harness import World, atomic_write, docs, location, resource, run

from reconciler.gitops import records, status
from reconciler.gitops.reconcile import Result, Trigger

pytestmark = pytest.mark.etcd


def scenario(store, tmp_path: Path, body: Callable[[World], Awaitable[None]]) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        world = World(store.endpoint, tmp_path)
        await world.clear()
        try:
            await body(world)
        finally:
            await world.close()

    run(main())


def seed(world: World) -> None:
    (world.dir / "web.yaml").write_text(docs(resource("web"), location("web-on-n1", "web")))
    (world.dir / "db.yaml").write_text(resource("db"))


async def synced(world: World, revision_changed_from: str | None = None) -> status.SyncStatus:
    async def ok() -> bool:
        s = await world.status()
        return (
            s is not None
            and s.phase == status.IN_SYNC
            and s.last_applied_revision != revision_changed_from
        )

    await world.wait(ok, "InSync")
    s = await world.status()
    assert s is not None
    return s


def test_initial_apply_then_an_unchanged_revision_does_nothing(backend, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start()
        s = await synced(w)
        assert await w.names() == {"resource/web", "resource/db", "location/web-on-n1"}
        assert (
            s.objects == 3
            and s.errors == {}
            and s.last_attempted_revision == s.last_applied_revision
        )
        store_rev = await w.revision()
        # rewrite a file with the same bytes, and save it by rename: same revision
        mark = len(w.outcomes)
        (w.dir / "db.yaml").write_text(resource("db"))
        out = await w.wait_outcome(
            mark, "a reconcile after the rewrite", lambda t, _o: t is Trigger.CHANGE
        )
        assert out.result is Result.NOTHING
        mark = len(w.outcomes)
        atomic_write(w.dir / "web.yaml", docs(resource("web"), location("web-on-n1", "web")))
        out = await w.wait_outcome(
            mark, "a reconcile after the rename", lambda t, _o: t is Trigger.CHANGE
        )
        assert out.result is Result.NOTHING
        assert await w.revision() == store_rev  # not one write to the store
        events = await w.events()
        assert [e.reason for e in events] == ["Applied"]
        assert events[0].created == ["Location/web-on-n1", "Resource/db", "Resource/web"]

    scenario(backend, tmp_path, body)


def test_atomic_rename_save_is_one_reconcile_and_temp_files_are_ignored(
    etcd, tmp_path: Path
) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start()
        first = await synced(w)
        mark = len(w.outcomes)
        # editors' scratch files alone change nothing
        for junk in ("4913", "web.yaml~", ".web.yaml.swp", ".#web.yaml", "notes.txt"):
            (w.dir / junk).write_text("garbage: [")
        atomic_write(
            w.dir / "web.yaml", docs(resource("web", state="b"), location("web-on-n1", "web"))
        )
        s = await synced(w, first.last_applied_revision)
        objs = await w.objects()
        assert w.state_of(objs, "web") == "b"
        # server-owned metadata as `hactl apply` keeps it: generation bumped, uid kept
        assert objs["resource/web"]["metadata"]["generation"] == 2
        assert objs["resource/db"]["metadata"]["generation"] == 1
        assert objs["resource/web"]["metadata"]["uid"] != objs["resource/db"]["metadata"]["uid"]
        assert "resourceVersion" not in objs["resource/web"]["metadata"]
        # one reconcile: exactly one more event (events are written in the same transaction)
        assert [e.reason for e in await w.events()] == ["Applied", "Applied"]
        del mark
        assert s.errors == {}
        events = await w.events()
        assert events[-1].configured == ["Resource/web"] and events[-1].unchanged == 2

    scenario(etcd, tmp_path, body)


def test_truncated_file_applies_nothing_and_keeps_the_last_good_state(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start()
        good = await synced(w)
        before = await w.entries()
        text = docs(resource("web", state="new"), location("web-on-n1", "web"))
        path = w.dir / "web.yaml"
        os.truncate(path, path.stat().st_size // 3)  # cut mid-document, in place
        await w.wait(lambda: w.phase_is(status.INVALID), "Invalid")
        s = await w.status()
        assert s is not None
        assert list(s.errors) == ["web.yaml"]
        assert all(
            e.startswith("web.yaml:") and e.split(":")[1].isdigit() for e in s.errors["web.yaml"]
        )
        assert s.last_applied_revision == good.last_applied_revision
        assert s.last_attempted_revision != good.last_applied_revision
        assert await w.entries() == before  # nothing written, nothing pruned
        atomic_write(path, text)
        await synced(w, good.last_applied_revision)
        assert w.state_of(await w.objects(), "web") == "new"
        assert (await w.status()).errors == {}  # type: ignore[union-attr]

    scenario(etcd, tmp_path, body)


def test_file_deleted_then_recreated_is_not_pruned(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start(prune=True, prune_delay=2.0, quiet=0.5)
        await synced(w)
        before = await w.entries()
        mark = len(w.outcomes)
        (w.dir / "db.yaml").unlink()
        (w.dir / "db.yaml").write_text(resource("db"))
        out = await w.wait_outcome(mark, "a reconcile", lambda t, _o: t is Trigger.CHANGE)
        assert out.result is Result.NOTHING
        # recreated with other content: configured in place, never deleted + created
        (w.dir / "db.yaml").unlink()
        (w.dir / "db.yaml").write_text(resource("db", state="z"))
        await w.wait(lambda: _state_is(w, "db", "z"), "db configured")
        after = await w.entries()
        assert after["resource/db"][0] == before["resource/db"][0]  # same create revision
        assert set(after) == set(before)

    scenario(etcd, tmp_path, body)


async def _state_is(w: World, name: str, state: str) -> bool:
    objs = await w.objects()
    return f"resource/{name}" in objs and w.state_of(objs, name) == state


def test_a_burst_of_100_writes_is_one_reconcile(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start(quiet=0.5, max_wait=5.0)
        await synced(w)
        mark = len(w.outcomes)
        path = w.dir / "burst.yaml"
        for i in range(100):
            path.write_text(resource("burst", state=str(i)))
        await w.wait(lambda: _state_is(w, "burst", "99"), "the last write applied")
        # no intermediate state was applied: one event for the whole burst
        assert [e.reason for e in await w.events()] == ["Applied", "Applied"], w.results(mark)

    scenario(etcd, tmp_path, body)


def test_an_invalid_file_beside_valid_ones_applies_nothing(backend, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start()
        good = await synced(w)
        before = await w.entries()
        # a file with two problems and, in the same save, a valid change (bad file
        # first: every state the watcher may see holds it)
        (w.dir / "bad.yaml").write_text(
            "apiVersion: hactl.io/v1\nkind: Resource\nmetadata:\n  name: bad\n"
            "spec:\n  agent: ocf:pacemaker:Dummy\n  migrationTreshold: 3\n"
            "---\n" + location("dangling", "no-such-resource")
        )
        (w.dir / "db.yaml").write_text(resource("db", state="changed"))
        await w.wait(lambda: w.phase_is(status.INVALID), "Invalid")
        s = await w.status()
        assert s is not None and s.last_applied_revision == good.last_applied_revision
        assert await w.entries() == before  # db's valid change was not applied either
        bad = s.errors.get("bad.yaml", [])
        assert any(e.startswith("bad.yaml:7:") and "migrationTreshold" in e for e in bad), bad
        assert any("no-such-resource" in e for e in bad), bad
        assert (await w.events())[-1].reason == "Invalid"
        (w.dir / "bad.yaml").unlink()
        await synced(w, good.last_applied_revision)
        assert w.state_of(await w.objects(), "db") == "changed"

    scenario(backend, tmp_path, body)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_checkout_switching_branches(backend, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        _git(w.dir, "init", "-q")
        for i in range(30):
            (w.dir / f"r{i:02d}.yaml").write_text(resource(f"r{i:02d}"))
        _git(w.dir, "add", ".")
        _git(w.dir, "commit", "-q", "-m", "main")
        _git(w.dir, "checkout", "-q", "-b", "other")
        for i in range(10):
            (w.dir / f"r{i:02d}.yaml").unlink()  # 10 removed
        for i in range(10, 20):
            (w.dir / f"r{i:02d}.yaml").write_text(
                resource(f"r{i:02d}", state="other")
            )  # 10 changed
        (w.dir / "more").mkdir()
        for i in range(30, 40):
            (w.dir / "more" / f"r{i:02d}.yaml").write_text(resource(f"r{i:02d}"))  # 10 added
        _git(w.dir, "add", "-A")
        _git(w.dir, "commit", "-q", "-m", "other")
        _git(w.dir, "checkout", "-q", "main")
        w.start(prune=True, quiet=0.5, max_wait=5.0)
        main = await synced(w)
        assert await w.names() == {f"resource/r{i:02d}" for i in range(30)}
        mark = len(w.outcomes)
        _git(w.dir, "checkout", "-q", "other")
        other = await synced(w, main.last_applied_revision)
        want = {f"resource/r{i:02d}" for i in range(10, 40)}
        assert await w.names() == want
        objs = await w.objects()
        assert {w.state_of(objs, f"r{i:02d}") for i in range(10, 20)} == {"other"}
        assert len(await w.events()) == 2, w.results(mark)  # the checkout was one reconcile
        last = (await w.events())[-1]
        assert (len(last.created), len(last.configured), len(last.pruned)) == (10, 10, 10)
        _git(w.dir, "checkout", "-q", "main")
        await synced(w, other.last_applied_revision)
        assert await w.names() == {f"resource/r{i:02d}" for i in range(30)}

    scenario(backend, tmp_path, body)


def test_directory_that_disappears_and_comes_back_prunes_nothing(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start(prune=True, allow_empty=True)
        good = await synced(w)
        before = await w.entries()
        saved = tmp_path / "saved"
        shutil.move(str(w.dir), str(saved))
        await w.wait(lambda: w.phase_is(status.MISSING), "DirectoryMissing")
        assert await w.entries() == before  # even with --prune --allow-empty
        shutil.move(str(saved), str(w.dir))
        await w.wait(lambda: w.phase_is(status.IN_SYNC), "InSync again")
        s = await w.status()
        assert s is not None and s.last_applied_revision == good.last_applied_revision
        assert await w.entries() == before
        # the watch follows the new directory: a change in it is applied
        (w.dir / "db.yaml").write_text(resource("db", state="back"))
        await w.wait(lambda: _state_is(w, "db", "back"), "a change in the returned directory")

    scenario(etcd, tmp_path, body)


def test_prune_removes_only_objects_this_sync_applied(backend, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        # someone else's object of the same kind, and runtime operations' keys
        await w.kv.put("/hactl/desired/resource/foreign", resource_json("foreign"))
        await w.kv.put("/hactl/runtime/standby/node1", b"{}")
        await w.kv.put(
            "/hactl/desired/location/cli-ban-web-node2", location_json("cli-ban-web-node2", "web")
        )
        seed(w)
        w.start(prune=True)
        good = await synced(w)
        (w.dir / "db.yaml").unlink()
        s = await synced(w, good.last_applied_revision)
        names = await w.names()
        assert "resource/db" not in names
        assert {"resource/foreign", "location/cli-ban-web-node2", "resource/web"} <= names
        assert await w.kv.get("/hactl/runtime/standby/node1") is not None
        assert (await w.events())[-1].pruned == ["Resource/db"]
        assert s.pending_prunes == []

    scenario(backend, tmp_path, body)


def resource_json(name: str) -> bytes:
    import json

    return json.dumps(
        {
            "apiVersion": "hactl.io/v1",
            "kind": "Resource",
            "metadata": {"name": name},
            "spec": {"agent": "ocf:pacemaker:Dummy"},
        }
    ).encode()


def location_json(name: str, rsc: str) -> bytes:
    import json

    return json.dumps(
        {
            "apiVersion": "hactl.io/v1",
            "kind": "Location",
            "metadata": {"name": name},
            "spec": {"resource": rsc, "node": "node2", "score": "-INFINITY"},
        }
    ).encode()


def test_without_prune_removed_objects_are_pending_prunes(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start()
        good = await synced(w)
        (w.dir / "db.yaml").unlink()
        s = await synced(w, good.last_applied_revision)
        assert "resource/db" in await w.names()
        assert s.pending_prunes == ["Resource/db"]

    scenario(etcd, tmp_path, body)


def test_refuses_to_prune_everything_unless_allow_empty(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start(prune=True, quiet=0.5, prune_delay=1.0)
        await synced(w)
        before = await w.entries()
        for f in list(w.dir.iterdir()):
            f.unlink()
        await w.wait(lambda: w.phase_is(status.REFUSED), "Refused")
        s = await w.status()
        assert s is not None and "allow-empty" in s.message
        assert sorted(s.pending_prunes) == ["Location/web-on-n1", "Resource/db", "Resource/web"]
        assert await w.entries() == before
        assert (await w.events())[-1].reason == "Refused"
        await w.stop()
        w.start(prune=True, allow_empty=True, prune_delay=0.0)
        await w.wait(lambda: w.phase_is(status.IN_SYNC), "InSync with nothing")
        assert await w.names() == set()

    scenario(etcd, tmp_path, body)


def test_drift_is_reported_not_healed_in_report_mode(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start(drift="report", interval=0.3)
        await synced(w)
        await w.kv.put(
            "/hactl/desired/resource/web", resource_json("web")
        )  # edited behind our back
        await w.kv.put("/hactl/runtime/maintenance/node1", b"{}")
        await w.wait(lambda: w.phase_is(status.OUT_OF_SYNC), "OutOfSync")
        s = await w.status()
        assert s is not None and s.drift == ["Resource/web"] and not s.in_sync
        assert "params" not in (await w.objects())["resource/web"]["spec"]  # not healed
        drift_events = [e for e in await w.events() if e.reason == "Drift"]
        assert len(drift_events) == 1
        # an explicit reconcile-now re-asserts the directory
        await records.request_reconcile(w.store, w.name)
        await w.wait(lambda: _state_is(w, "web", "a"), "reasserted on request")
        await w.wait(lambda: w.phase_is(status.IN_SYNC), "InSync")
        assert await w.kv.get("/hactl/runtime/maintenance/node1") is not None

    scenario(etcd, tmp_path, body)


def test_drift_is_reasserted_in_reassert_mode(backend, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start(drift="reassert", interval=0.3)
        await synced(w)
        await w.kv.put("/hactl/runtime/standby/node1", b"{}")
        await w.kv.delete("/hactl/desired/location/web-on-n1")  # deleted behind our back
        await w.kv.put("/hactl/desired/resource/web", resource_json("web"))
        await w.wait(lambda: _state_is(w, "web", "a"), "web reasserted")
        await w.wait(lambda: _has(w, "location/web-on-n1"), "location recreated")
        assert any(e.reason == "Reasserted" for e in await w.events())
        assert await w.kv.get("/hactl/runtime/standby/node1") is not None  # runtime ops kept

    scenario(backend, tmp_path, body)


async def _has(w: World, name: str) -> bool:
    return name in await w.names()


def test_suspend_and_resume(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start()
        good = await synced(w)
        await records.set_suspended(w.store, w.name, True)

        async def suspended() -> bool:
            s = await w.status()
            return s is not None and s.suspended

        await w.wait(suspended, "suspended")
        mark = len(w.outcomes)
        (w.dir / "db.yaml").write_text(resource("db", state="while-suspended"))
        out = await w.wait_outcome(mark, "a reconcile", lambda t, _o: t is Trigger.CHANGE)
        assert out.result is Result.SUSPENDED
        assert w.state_of(await w.objects(), "db") == "a"
        await records.set_suspended(w.store, w.name, False)
        s = await synced(w, good.last_applied_revision)
        assert not s.suspended
        assert w.state_of(await w.objects(), "db") == "while-suspended"
        reasons = [e.reason for e in await w.events()]
        assert reasons == ["Applied", "Suspended", "Applied"]

    scenario(etcd, tmp_path, body)


def test_a_repeatedly_bad_revision_backs_off_exponentially(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        (w.dir / "bad.yaml").write_text("kind: Resource\n")
        # drift checks every 50 ms would re-validate at once: the backoff must hold them off
        w.start(interval=0.05, backoff_initial=0.2, backoff_cap=0.8)

        async def four_failures() -> bool:
            return w.count(Result.INVALID) >= 4

        await w.wait(four_failures, "four invalid attempts")
        times = [t for t, _, o in w.outcomes if o.result is Result.INVALID][:4]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        for gap, want in zip(gaps, [0.2, 0.4, 0.8], strict=True):
            # measured at the end of each attempt: allow for the store's write latency
            assert gap >= want - 0.1, gaps
        assert gaps[2] > gaps[0] + 0.3, gaps  # it grows (exactly: test_gitops_reconciler.py)
        s = await w.status()
        assert s is not None and s.phase == status.INVALID and s.failures >= 4
        assert s.last_applied_revision is None and await w.names() == set()
        invalid_events = [e for e in await w.events() if e.reason == "Invalid"]
        assert len(invalid_events) == w.count(Result.INVALID)  # one per attempt, no more

    scenario(etcd, tmp_path, body)


def test_a_file_gone_for_less_than_the_prune_delay_is_not_pruned(etcd, tmp_path: Path) -> None:
    async def body(w: World) -> None:
        seed(w)
        w.start(prune=True, prune_delay=1.0)
        good = await synced(w)
        before = await w.entries()
        # gone longer than the quiet period: a reconcile sees it missing...
        (w.dir / "db.yaml").unlink()
        s = await synced(w, good.last_applied_revision)
        assert s.pending_prunes == ["Resource/db"]
        assert "resource/db" in await w.names()
        # ...and it comes back within the prune delay: never deleted
        atomic_write(w.dir / "db.yaml", resource("db"))
        await synced(w, s.last_applied_revision)
        assert await w.entries() == before
        # gone for longer than the delay: pruned, by a reconcile of its own
        mark = len(w.outcomes)
        (w.dir / "db.yaml").unlink()

        async def pruned() -> bool:
            return "resource/db" not in await w.names()

        await w.wait(pruned, "db pruned after the delay")
        gone, pruned_event = (await w.events())[-2:]
        assert gone.reason == "Applied" and gone.pruned == []
        assert pruned_event.reason == "Pruned" and pruned_event.pruned == ["Resource/db"]
        assert pruned_event.time - gone.time >= 0.9, w.results(mark)
        assert (await w.status()).pending_prunes == []  # type: ignore[union-attr]

    scenario(etcd, tmp_path, body)


def test_the_set_is_also_checked_with_the_clusters_other_objects(backend, tmp_path: Path) -> None:
    """As `hactl apply` checks on the server: the directory's Resource `web` cannot join a
    Group `web` someone applied by hand (one namespace), and nothing is applied."""

    async def body(w: World) -> None:
        group = {
            "apiVersion": "hactl.io/v1",
            "kind": "Group",
            "metadata": {"name": "web", "generation": 1},
            "spec": {"resources": ["x"]},
        }
        await w.kv.put("/hactl/desired/group/web", json.dumps(group).encode())
        await w.kv.put("/hactl/desired/resource/x", resource_json("x"))
        (w.dir / "db.yaml").write_text(resource("db"))
        (w.dir / "web.yaml").write_text(resource("web"))
        w.start()
        await w.wait(lambda: w.phase_is(status.INVALID), "Invalid")
        s = await w.status()
        assert s is not None
        lines = [e for errs in s.errors.values() for e in errs]
        assert any("duplicate name" in e and "web.yaml:1" in e for e in lines), s.errors
        assert await w.names() == {"group/web", "resource/x"}  # db was not applied either
        (w.dir / "web.yaml").unlink()
        await w.wait(lambda: w.phase_is(status.IN_SYNC), "InSync without the clash")
        assert await w.names() == {"group/web", "resource/x", "resource/db"}

    scenario(backend, tmp_path, body)


def test_a_symlink_swap_deploy_is_followed(etcd, tmp_path: Path) -> None:
    """git-sync's habit: the watched path is a symlink, swapped atomically to a new tree."""

    async def body(w: World) -> None:
        releases = tmp_path / "releases"
        (releases / "r1").mkdir(parents=True)
        (releases / "r1" / "web.yaml").write_text(resource("web", state="r1"))
        (releases / "r2").mkdir()
        (releases / "r2" / "web.yaml").write_text(resource("web", state="r2"))
        link = tmp_path / "current"
        link.symlink_to(releases / "r1")
        w.dir = link
        w.start()
        await w.wait(lambda: _state_is(w, "web", "r1"), "r1 applied")
        tmp_link = tmp_path / ".current.new"
        tmp_link.symlink_to(releases / "r2")
        os.replace(tmp_link, link)
        await w.wait(lambda: _state_is(w, "web", "r2"), "r2 applied after the swap")

    scenario(etcd, tmp_path, body)
