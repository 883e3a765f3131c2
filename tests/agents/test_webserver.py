"""ocf:hactl:webserver with a real HTTP GET, and fencing its node kills it."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

from agents_kit import running, wait_for

from reconciler.agents.catalog import AgentCatalog, check_resource_params
from reconciler.agents.request import AgentRef, OpRequest
from reconciler.agents.results import OcfRc

PORT = 24011
WEB = AgentRef.parse("ocf:hactl:webserver")


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as resp:
        return resp.read().decode()


def _refused(port: int) -> bool:
    try:
        _get(port)
    except OSError:
        return True
    return False


def test_serves_a_directory(tmp_path: Path, catalog: AgentCatalog) -> None:
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("hello from hactl\n")
    params = {"address": "127.0.0.1", "port": str(PORT), "root": str(root)}

    async def scenario() -> None:
        async with running(tmp_path / "n1", catalog) as ex:

            async def op(action: str, p: dict[str, str] = params, **kw: object) -> object:
                return await ex.run(OpRequest("web", WEB, action, params=p, **kw))  # type: ignore[arg-type]

            r = await op("monitor")
            assert r.ok and r.rc == OcfRc.NOT_RUNNING
            r = await op("start")
            assert r.ok, r.summary() + r.stderr_tail
            assert await asyncio.to_thread(_get, PORT) == "hello from hactl\n"
            pidfile = tmp_path / "n1" / "rsctmp" / "web.pid"
            assert not pidfile.exists()
            assert (tmp_path / "n1" / "rsctmp" / "webserver-web.pid").is_file()
            r = await op("monitor", interval_s=10, expected_rc=0)
            assert r.ok
            r = await op("start")  # idempotent
            assert r.ok
            r = await op("stop")
            assert r.ok
            assert await asyncio.to_thread(_refused, PORT)
            r = await op("monitor")
            assert r.rc == OcfRc.NOT_RUNNING
            r = await op("validate-all", {"port": "x", "root": str(root)})
            assert r.rc == OcfRc.NOT_CONFIGURED and "port" in r.reason
            r = await op("start", {"port": str(PORT), "root": str(tmp_path / "nope")})
            assert not r.ok and "not a directory" in r.reason

    asyncio.run(scenario())
    assert check_resource_params("ocf:hactl:webserver", {"port": "80", "root": "/srv"}) == []
    problems = check_resource_params("ocf:hactl:webserver", {"portt": "80"})
    assert [p.path for p in problems] == [
        "spec.params.portt",
        "spec.params.port",
        "spec.params.root",
    ]
    assert problems[0].hint == "did you mean `port`?"


def test_fencing_the_node_kills_what_its_agents_started(
    tmp_path: Path, catalog: AgentCatalog
) -> None:
    """Node n2's executor starts the web server; fence_hactl_local "powers off" n2."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("n2\n")
    state = tmp_path / "cluster"
    params = {"port": str(PORT + 1), "root": str(root)}

    async def scenario() -> None:
        async with (
            running(state / "n2", catalog, node="n2") as n2,
            running(state / "n1", catalog, node="n1") as n1,
        ):
            assert (await n2.run(OpRequest("web", WEB, "start", params=params))).ok
            assert await asyncio.to_thread(_get, PORT + 1) == "n2\n"
            fence = AgentRef.parse("stonith:fence_hactl_local")
            r = await n1.run(
                OpRequest("fence", fence, "off", params={"state_dir": str(state)}, target="n2")
            )
            assert r.ok, r.summary() + r.stderr_tail
            await wait_for(lambda: _refused(PORT + 1), 5)
            r = await n2.run(OpRequest("web", WEB, "monitor", params=params))
            assert r.rc == OcfRc.NOT_RUNNING

    asyncio.run(scenario())
