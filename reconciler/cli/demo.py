"""`hactl demo` (make demo): a local 3-node cluster running the classic web service.

Starts the cluster, applies manifests/demo, shows status, puts the active node
in standby and shows the move, kills -9 the node running the service and shows
fencing and recovery with the outage an HTTP client polling throughout saw,
brings the node back, and tears everything down.

The store is the builtin one, inside the three hacd processes, as in production by
default: the node killed may also lead the store and coordinate, and the demo says
which roles it held and how long each step of the recovery took.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from reconciler.base.errors import HactlError
from reconciler.cli.status import render
from reconciler.daemon import localcluster
from reconciler.transport.hactl_api import ApiClient

DEMO_DIR = Path("/tmp/hactl-demo")
BASE_PORT = 25500
URL = "http://127.0.0.1:25580/"
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests" / "demo"


class Poller:
    """An HTTP client polling the service every 50 ms; remembers every outage."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ok = 0
        self.failed = 0
        self.outages: list[tuple[float, float]] = []
        self._down_since: float | None = None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Poller:
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=0.5) as r:
                    good = r.status == 200
            except (urllib.error.URLError, OSError, TimeoutError):
                good = False
            if good:
                self.ok += 1
                if self._down_since is not None:
                    self.outages.append((self._down_since, t))
                    self._down_since = None
            else:
                self.failed += 1
                if self._down_since is None:
                    self._down_since = t
            self._stop.wait(0.05)

    def mark(self) -> int:
        return len(self.outages)

    def outage_since(self, mark: int) -> float:
        spans = self.outages[mark:]
        return max((b - a for a, b in spans), default=0.0)

    def stop(self) -> None:
        self._stop.set()
        self._t.join(2)


def say(text: str) -> None:
    click.echo("")
    click.secho(f"==> {text}", fg="cyan", bold=True)


def view(servers: list[str]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        for s in servers:
            c = ApiClient(s, timeout_s=5)
            try:
                return dict(json.loads((await c.view())[0]))
            except Exception:
                continue
            finally:
                await c.close()
        raise click.ClickException("no node answered")

    return asyncio.run(go())


def command(servers: list[str], verb: str, **args: str) -> str:
    async def go() -> str:
        c = ApiClient(servers[0] if verb != "any" else servers[-1], timeout_s=10)
        for s in servers:
            c = ApiClient(s, timeout_s=10)
            try:
                res, err = await c.command(verb, json.dumps(args))
                if err:
                    raise click.ClickException(err)
                return str(json.loads(res)["message"])
            except click.ClickException:
                raise
            except Exception:
                continue
            finally:
                await c.close()
        raise click.ClickException("no node answered")

    return asyncio.run(go())


def store_leader(lay: localcluster.Layout, skip: str = "") -> str | None:
    """The node whose builtin store member leads, as the members report it (Status)."""
    import grpc
    from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

    async def go() -> str | None:
        ids: dict[int, str] = {}
        leaders: set[int] = set()
        for i, n in enumerate(lay.nodes):
            if n == skip:
                continue
            ch = grpc.aio.insecure_channel(lay.member_client(i))
            try:
                st = await rpc_pb2_grpc.MaintenanceStub(ch).Status(
                    rpc_pb2.StatusRequest(), timeout=0.5
                )
                ids[st.header.member_id] = n
                leaders.add(st.leader)
            except grpc.RpcError:
                continue
            finally:
                await ch.close(None)
        if len(leaders) != 1:
            return None
        return ids.get(leaders.pop())

    return asyncio.run(go())


def web_node(v: dict[str, Any]) -> str | None:
    r = next((x for x in v["resources"] if x["name"] == "web"), None)
    return r["nodes"][0] if r and len(r["nodes"]) == 1 else None


def wait_for(servers: list[str], pred: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    v = view(servers)
    while time.monotonic() < deadline:
        v = view(servers)
        if pred(v):
            return v
        time.sleep(0.1)
    raise click.ClickException("the cluster did not get there in time; see `hactl status`")


def watch_recovery(
    lay: localcluster.Layout,
    servers: list[str],
    victim: str,
    *,
    was_leader: bool,
    was_coordinator: bool,
    t_kill: float,
    timeout: float = 60,
) -> tuple[dict[str, Any], list[tuple[float, str]]]:
    """Poll until the service runs elsewhere; note when each step of the recovery is seen."""
    steps: dict[str, tuple[float, str]] = {}  # step -> (seconds after the kill, what)

    def seen(step: str, what: str) -> None:
        if step not in steps:
            steps[step] = (time.monotonic() - t_kill, what)

    def follow_store() -> None:  # its own thread: reading the view blocks without a leader
        while time.monotonic() < deadline and "started" not in steps:
            leader = store_leader(lay, skip=victim)
            if leader is not None:
                seen("store", f"the store elected a new leader ({leader})")
                return
            time.sleep(0.05)

    deadline = t_kill + timeout
    if was_leader:
        threading.Thread(target=follow_store, daemon=True).start()
    while time.monotonic() < deadline:
        try:
            v = view(servers)
        except click.ClickException:
            time.sleep(0.1)
            continue
        state = {n["name"]: n["state"] for n in v["nodes"]}
        if state.get(victim) != "online":
            seen("lost", f"{victim} seen lost: {state.get(victim)}")
        coord = v["coordinator"]["node"]
        if was_coordinator and coord not in (None, victim):
            seen("coord", f"{coord} became the coordinator (token {v['coordinator']['token']})")
        done = [h for h in v.get("fencingHistory", []) if h.get("node") == victim and h.get("ok")]
        if done:
            cause = f" ({done[-1]['cause']})" if done[-1].get("cause") else ""
            seen("fenced", f"{victim} fenced{cause}")
        if web_node(v) not in (None, victim):
            seen("started", f"the service started on {web_node(v)}")
            if v["coordinator"]["converged"]:
                return v, sorted(dict(steps).values())
        time.sleep(0.1)
    raise click.ClickException("the cluster did not recover in time; see `hactl status`")


@click.command("demo")
@click.option("--keep", is_flag=True, help="Leave the cluster running at the end.")
@click.option("--pace", default=1.5, show_default=True, help="Seconds to pause between steps.")
def demo(keep: bool, pace: float) -> None:
    """A guided tour: a local 3-node cluster, a web service, standby, a node killed and fenced."""
    t_start = time.monotonic()
    if (DEMO_DIR / "cluster.yaml").exists():
        localcluster.down(DEMO_DIR)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    www = DEMO_DIR / "www"
    www.mkdir(parents=True)
    (www / "index.html").write_text("<h1>Hello from a highly available web service</h1>\n")

    say("Starting a local cluster: 3 hacd processes on 127.0.0.1, the builtin store inside them")
    lay = localcluster.up(DEMO_DIR, 3, BASE_PORT, "builtin")
    try:
        localcluster.wait_ready(lay, 60)
    except HactlError as e:
        localcluster.down(DEMO_DIR)
        raise click.ClickException(f"{e}; see {DEMO_DIR}/node*/hacd.log") from None
    servers = [lay.api(i) for i in range(3)]
    click.echo(
        f"  nodes {', '.join(lay.nodes)}; API on {', '.join(servers)}; "
        f"logs in {DEMO_DIR}/*/hacd.log"
    )
    poller: Poller | None = None
    try:
        say(
            f"Applying {MANIFESTS}: a group (shared content, then the web server), a preference "
            "for node1, stickiness, fencing"
        )
        from reconciler.cli.objects import read_manifests

        docs = read_manifests((str(MANIFESTS),))
        for d in docs:
            click.echo(f"  {d['kind'].lower()}/{d['metadata']['name']}")

        async def apply() -> None:
            c = ApiClient(servers[0])
            try:
                _res, _, err = await c.apply(json.dumps(docs), False, False, "", str(MANIFESTS))
                if err:
                    raise click.ClickException(err)
            finally:
                await c.close()

        t0 = time.monotonic()
        asyncio.run(apply())
        v = wait_for(servers, lambda v: web_node(v) is not None and v["coordinator"]["converged"])
        click.echo(f"  converged in {time.monotonic() - t0:.2f}s")
        poller = Poller(URL).start()
        say("hactl status")
        click.echo(render(v))
        time.sleep(pace)

        active = web_node(v)
        assert active is not None
        say(f"The service runs on {active}. Putting {active} in standby (maintenance window)...")
        mark = poller.mark()
        click.echo("  " + command(servers, "standby", node=active))
        v = wait_for(
            servers, lambda v: web_node(v) not in (None, active) and v["coordinator"]["converged"]
        )
        moved = web_node(v)
        time.sleep(0.3)
        click.echo(
            f"  moved to {moved}: an orderly stop then start; the HTTP client saw "
            f"{poller.outage_since(mark):.2f}s without an answer"
        )
        click.echo(render(v))
        time.sleep(pace)

        say(f"{active} comes back from standby; stickiness keeps the service on {moved}")
        click.echo("  " + command(servers, "unstandby", node=active))
        v = wait_for(
            servers,
            lambda v: (
                all(n["state"] == "online" and not n["standby"] for n in v["nodes"])
                and v["coordinator"]["converged"]
            ),
        )
        click.echo(f"  the service stays on {web_node(v)}")
        time.sleep(pace)

        victim = web_node(v)
        assert victim is not None
        roles = ["runs the service"]
        was_coordinator = v["coordinator"]["node"] == victim
        was_leader = store_leader(lay) == victim
        if was_coordinator:
            roles.append("coordinates")
        if was_leader:
            roles.append("leads the store")
        say(f"Power cut! kill -9 of everything on {victim}: its hacd and the web server")
        click.echo(f"  {victim} " + " and ".join([", ".join(roles[:-1]), roles[-1]][-len(roles) :]))
        mark = poller.mark()
        t_kill = time.monotonic()
        localcluster.kill_node_processes(lay, victim)
        v, steps = watch_recovery(
            lay,
            servers,
            victim,
            was_leader=was_leader,
            was_coordinator=was_coordinator,
            t_kill=t_kill,
        )
        recovered = time.monotonic() - t_kill
        time.sleep(0.3)
        fenced = [h for h in v.get("fencingHistory", []) if h.get("node") == victim]
        how = f"fenced by {fenced[-1]['by']} ({fenced[-1]['device']})" if fenced else "fenced"
        click.echo(f"  {victim} was lost and {how}; the service runs on {web_node(v)} again")
        for at, what in steps:
            click.echo(f"    +{at:5.2f}s  {what}")
        click.echo(
            f"  recovery took {recovered:.2f}s; the HTTP client polling every 50 ms saw "
            f"{poller.outage_since(mark):.2f}s of outage"
        )
        if was_leader:
            click.echo(
                f"  (slower than a plain node loss: {victim} also led the store. The survivors "
                "first elected a new store leader (no write, lease renewal or coordinator "
                "election commits without one), and a new leader restarts every lease's "
                f"countdown with a grace, as etcd does, so {victim}'s liveness lease ran out "
                "a node timeout plus that grace after the election, not after the kill)"
            )
        click.echo(render(v))
        time.sleep(pace)

        say(f"Powering {victim} back on: it rejoins, is probed, and nothing is started twice")
        localcluster.start_node(lay, victim)
        v = wait_for(
            servers,
            lambda v: (
                all(n["state"] == "online" for n in v["nodes"]) and v["coordinator"]["converged"]
            ),
        )
        click.echo(render(v))
        say("What happened (hactl events):")
        for ev in v["events"][-12:]:
            hms = time.strftime("%H:%M:%S", time.localtime(ev["time"]))
            click.echo(f"  {hms}  {ev['message']}")
        click.echo(f"\n  HTTP requests answered: {poller.ok}, unanswered: {poller.failed}")
    finally:
        if poller is not None:
            poller.stop()
        if not keep:
            say("Tearing down")
            localcluster.down(DEMO_DIR)
            click.echo(f"  done in {time.monotonic() - t_start:.0f}s")
        else:
            click.echo(
                f"\nThe cluster keeps running: export HACTL_SERVER={','.join(servers)}; "
                f"`hactl cluster down --dir {DEMO_DIR}` stops it."
            )
