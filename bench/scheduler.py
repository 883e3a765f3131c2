"""Scheduler benchmark: `hactl simulate --cib` against `crm_simulate`, whole process each.

Run as ``python -m bench.scheduler`` (``make bench-scheduler``). It generates
synthetic CIBs itself (groups of three, location preferences and bans,
colocations, order chains, a fencing device), in three scenarios:

* ``fresh``     -- a freshly formed cluster: every resource to probe and start;
* ``converged`` -- the status says everything runs where the plan put it;
* ``failed``    -- converged, then one node lost (unclean: fence + recover).

Both tools run on the same file in the same run; wall time and peak RSS
(``os.wait4`` rusage of each child) are recorded, and the table is written
between the ``bench:scheduler`` markers of docs/BENCHMARKS.md.

``--sizes 3x30,8x200`` picks sizes; ``--cap`` bounds each crm_simulate run
(seconds; a run over the cap is reported as "> cap"); ``--crm-max-resources``
skips crm_simulate on bigger clusters (it grows far faster than linearly).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reconciler.cib.digest import op_digest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "BENCHMARKS.md"
START = "<!-- bench:scheduler:start -->"
END = "<!-- bench:scheduler:end -->"
SIZES = [(3, 30), (8, 200), (16, 1000), (32, 2000), (32, 5000), (64, 10000)]
SCENARIOS = ("fresh", "converged", "failed")
GOALS = {
    (16, 1000): "<= 0.5x crm_simulate",
    (32, 2000): "<= 0.02x crm_simulate",
    (32, 5000): "< 5 s",
    (64, 10000): "< 15 s",
}
#: 1-minute load averages sampled after each measured process
LOADS: list[float] = []
SUMMARY_LINE = re.compile(r"^\s*\* (\w+)\s+(\S+)\s+\(\s*(.*?)\s*\)")


# ---------------------------------------------------------------- generation


@dataclass(frozen=True)
class Layout:
    """Which resources exist and how they hang together (deterministic in n, r)."""

    nodes: tuple[str, ...]
    groups: tuple[tuple[str, tuple[str, str, str]], ...]
    singles: tuple[str, ...]

    @property
    def primitives(self) -> list[str]:
        out = [m for _, members in self.groups for m in members]
        return out + list(self.singles)


def layout(n_nodes: int, n_resources: int) -> Layout:
    nodes = tuple(f"node{i}" for i in range(1, n_nodes + 1))
    n_groups = (n_resources * 3 // 5) // 3  # 60 % of resources in groups of three
    groups = tuple(
        (f"grp{g}", (f"grp{g}-ip", f"grp{g}-fs", f"grp{g}-app")) for g in range(n_groups)
    )
    singles = tuple(f"rsc{i}" for i in range(n_resources - 3 * n_groups))
    return Layout(nodes, groups, singles)


def _primitive(name: str) -> str:
    return (
        f'<primitive id="{name}" class="ocf" provider="heartbeat" type="Dummy">'
        f'<operations><op id="{name}-monitor-10s" name="monitor" interval="10s" timeout="20s"/>'
        "</operations></primitive>"
    )


def configuration(lay: Layout) -> str:
    """The <configuration> element: nodes, resources and constraints."""
    n = len(lay.nodes)
    out = ['<configuration><crm_config><cluster_property_set id="cib-bootstrap-options">']
    for key, value in (("stonith-enabled", "true"), ("no-quorum-policy", "stop")):
        out.append(f'<nvpair id="opt-{key}" name="{key}" value="{value}"/>')
    out.append("</cluster_property_set></crm_config><nodes>")
    out += [f'<node id="{i}" uname="{name}"/>' for i, name in enumerate(lay.nodes, 1)]
    out.append("</nodes><resources>")
    out.append(
        '<primitive id="fence" class="stonith" type="fence_dummy">'
        '<operations><op id="fence-monitor" name="monitor" interval="60s" timeout="20s"/></operations>'
        "</primitive>"
    )
    for gid, members in lay.groups:
        out.append(f'<group id="{gid}">' + "".join(_primitive(m) for m in members) + "</group>")
    out += [_primitive(s) for s in lay.singles]
    out.append("</resources><constraints>")
    tops = [g for g, _ in lay.groups] + list(lay.singles)
    for i, top in enumerate(tops):
        if i % 5 == 0:  # a preference
            node = lay.nodes[i % n]
            out.append(f'<rsc_location id="pref-{top}" rsc="{top}" node="{node}" score="100"/>')
        if i % 7 == 3:  # a ban
            node = lay.nodes[(i * 3) % n]
            out.append(
                f'<rsc_location id="ban-{top}" rsc="{top}" node="{node}" score="-INFINITY"/>'
            )
    groups = [g for g, _ in lay.groups]
    for i, single in enumerate(lay.singles):
        if groups and i % 4 == 0:  # a single runs with a group
            with_rsc = groups[(i * 7) % len(groups)]
            out.append(
                f'<rsc_colocation id="col-{single}" rsc="{single}" with-rsc="{with_rsc}" '
                'score="INFINITY"/>'
            )
        elif i % 4 == 2 and i > 0:  # advisory anti-colocation
            out.append(
                f'<rsc_colocation id="anti-{single}" rsc="{single}" '
                f'with-rsc="{lay.singles[i - 1]}" score="-500"/>'
            )
    for i in range(1, len(groups)):
        if i % 4 != 0:  # chains of four groups
            out.append(
                f'<rsc_order id="ord-{groups[i]}" first="{groups[i - 1]}" then="{groups[i]}" '
                'kind="Mandatory"/>'
            )
    out.append("</constraints></configuration>")
    return "".join(out)


def _op(rsc: str, op: str, interval: int, rc: int, target: int, call: int) -> str:
    key = f"{call}:1:{target}:bench"
    return (
        f'<lrm_rsc_op id="{rsc}_{"monitor_" + str(interval) if interval else "last_0"}" '
        f'operation_key="{rsc}_{op}_{interval}" operation="{op}" '
        f'transition-key="{key}" transition-magic="0:{rc};{key}" call-id="{call}" '
        f'rc-code="{rc}" op-status="0" interval="{interval}" last-rc-change="1700000000" '
        f'exec-time="10" queue-time="0" op-digest="{op_digest({}, interval, 20000)}"/>'
    )


def node_state(node_id: int, name: str, *, up: bool, lrm: str) -> str:
    membership = (
        'in_ccm="true" crmd="online" join="member" expected="member"'
        if up
        else 'in_ccm="false" crmd="offline" join="member" expected="member"'
    )
    history = f'<lrm id="{node_id}"><lrm_resources>{lrm}</lrm_resources></lrm>' if lrm else ""
    return f'<node_state id="{node_id}" uname="{name}" {membership}>{history}</node_state>'


def cib(lay: Layout, placement: dict[str, str] | None, failed: str | None = None) -> str:
    """A whole CIB. ``placement`` (primitive -> node) makes it converged; None is fresh."""
    states = []
    for i, name in enumerate(lay.nodes, 1):
        lrm = []
        if placement is not None:
            call = 1
            for rsc in ["fence", *lay.primitives]:
                agent = (
                    'class="stonith" type="fence_dummy"'
                    if rsc == "fence"
                    else ('class="ocf" provider="heartbeat" type="Dummy"')
                )
                lrm.append(f'<lrm_resource id="{rsc}" {agent}>')
                if placement.get(rsc) == name:
                    interval = 60000 if rsc == "fence" else 10000
                    lrm.append(_op(rsc, "start", 0, 0, 0, call))
                    lrm.append(_op(rsc, "monitor", interval, 0, 0, call + 1))
                else:
                    lrm.append(_op(rsc, "monitor", 0, 7, 7, call))
                lrm.append("</lrm_resource>")
                call += 2
        states.append(node_state(i, name, up=name != failed, lrm="".join(lrm)))
    return (
        '<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" '
        f'admin_epoch="0" have-quorum="1" dc-uuid="1">{configuration(lay)}'
        f"<status>{''.join(states)}</status></cib>"
    )


def placement_from_summary(summary: list[str]) -> dict[str, str]:
    """Where each resource runs after a fresh cluster's transition (Start/Move lines)."""
    out: dict[str, str] = {}
    for line in summary:
        m = SUMMARY_LINE.match(line)
        if not m:
            continue
        action, rsc, where = m.groups()
        if action in ("Start", "Move", "Recover", "Restart"):
            out[rsc] = where.split("->")[-1].strip().split()[-1]
    return out


# ------------------------------------------------------------------- running


@dataclass
class Run:
    seconds: float | None  # None: not run
    rss_mb: float | None
    summary: list[str]
    note: str = ""
    cpu: float | None = None  # user + system seconds of the process (wall is inflated by load)


def transition_summary(text: str) -> list[str]:
    lines = text.splitlines()
    try:
        start = lines.index("Transition Summary:") + 1
    except ValueError:
        return []
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        if line.lstrip().startswith("*"):
            out.append(" ".join(line.split()))
    return sorted(out)


def measure(argv: list[str], cap: float, env: dict[str, str]) -> Run:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, start_new_session=True)
        deadline = start + cap
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                return Run(None, None, [], f"> {cap:.0f} s (cap)")
            time.sleep(0.005)  # polling a child process, not synchronising tests
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        rss_mb = usage.ru_maxrss / 1024
        cpu = usage.ru_utime + usage.ru_stime
        LOADS.append(os.getloadavg()[0])
        if proc.returncode != 0:
            tail = err.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
            return Run(seconds, rss_mb, [], f"exit {proc.returncode}: {tail[0][:80]}", cpu)
        return Run(seconds, rss_mb, transition_summary(text), cpu=cpu)


def hactl_argv(path: Path) -> list[str]:
    exe = Path(sys.executable).parent / "hactl"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "reconciler.cli.main"]
    return [*base, "simulate", "--cib", str(path), "--format", "pacemaker"]


# ------------------------------------------------------------------- report


def fmt_time(run: Run) -> str:
    if run.seconds is None:
        return run.note or "not run"
    text = f"{run.seconds:.2f} s"
    return f"{text} ({run.note})" if run.note else text


def fmt_ratio(ours: Run, theirs: Run) -> str:
    if ours.seconds is None or theirs.seconds is None or ours.note or theirs.note:
        if ours.seconds is not None and theirs.note.startswith(">"):
            return f"< {ours.seconds / float(theirs.note.split()[1]):.3f}x"
        return "-"
    return f"{ours.seconds / theirs.seconds:.3f}x"


def fmt_cpu(run: Run) -> str:
    return "-" if run.cpu is None or run.seconds is None else f"{run.cpu:.2f} s"


def fmt_mb(run: Run) -> str:
    return "-" if run.rss_mb is None else f"{run.rss_mb:.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(f"{n}x{r}" for n, r in SIZES))
    parser.add_argument("--cap", type=float, default=120.0)
    parser.add_argument("--crm-max-resources", type=int, default=2000)
    parser.add_argument("--hactl-cap", type=float, default=300.0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--keep", type=Path, help="keep generated CIBs in this directory")
    args = parser.parse_args(argv)
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",") if s]
    crm = shutil.which("crm_simulate")
    work = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    shadow = Path(tempfile.mkdtemp(prefix="cib-shadow-"))
    env = {**os.environ, "CIB_shadow_dir": str(shadow), "LC_ALL": "C"}
    # hactl as installed: its modules byte-compiled ahead (a development shell may set
    # PYTHONDONTWRITEBYTECODE, which would recompile ~60 modules in every run); the bytecode
    # goes to a private directory, not into the tree
    pycache = Path(tempfile.mkdtemp(prefix="bench-pycache-"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "reconciler")],
        env=env,
        capture_output=True,
        check=False,
    )
    warm = work / "warm-up.xml"  # one unmeasured run compiles what hactl imports from outside
    warm.write_text(cib(layout(3, 30), None))
    subprocess.run(hactl_argv(warm), env=env, capture_output=True, check=False)
    rows: list[str] = []
    LOADS.append(os.getloadavg()[0])
    results: dict[tuple[int, int, str], tuple[Run, Run]] = {}
    for n_nodes, n_res in sizes:
        lay = layout(n_nodes, n_res)
        size_dir = args.keep or work
        size_dir.mkdir(parents=True, exist_ok=True)
        placement: dict[str, str] | None = None
        for scenario in SCENARIOS:
            if scenario == "fresh":
                text = cib(lay, None)
            else:
                assert placement is not None
                text = cib(lay, placement, failed=lay.nodes[-1] if scenario == "failed" else None)
            path = size_dir / f"sched-{n_nodes}x{n_res}-{scenario}.xml"
            path.write_text(text)
            run_crm = crm is not None and n_res <= args.crm_max_resources
            theirs = (
                measure([crm, "-x", str(path), "-R"], args.cap, env)
                if run_crm and crm
                else Run(None, None, [], "skipped" if crm else "crm_simulate missing")
            )
            ours = measure(hactl_argv(path), args.hactl_cap, env)
            if scenario == "fresh":
                source = theirs.summary or ours.summary
                placement = placement_from_summary(source)
            same = "-"
            if theirs.seconds is not None and not theirs.note and not ours.note:
                same = "yes" if theirs.summary == ours.summary else "no"
            actions = len(ours.summary) if not ours.note else len(theirs.summary)
            row = (
                f"| ({n_nodes}, {n_res}) | {scenario} | {actions} | {fmt_time(theirs)} | "
                f"{fmt_time(ours)} | {fmt_cpu(ours)} | {fmt_ratio(ours, theirs)} | "
                f"{fmt_mb(theirs)} | "
                f"{fmt_mb(ours)} | {same} |"
            )
            rows.append(row)
            results[(n_nodes, n_res, scenario)] = (theirs, ours)
            print(row, flush=True)
    table = render(rows, args, goal_lines(results))
    if not args.no_write:
        write(table)
    print(table)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(shadow, ignore_errors=True)
    shutil.rmtree(pycache, ignore_errors=True)
    return 0


def crm_version() -> str:
    try:
        out = subprocess.run(["crm_simulate", "--version"], capture_output=True, text=True)
    except OSError:
        return "crm_simulate not installed"
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def goal_lines(results: dict[tuple[int, int, str], tuple[Run, Run]]) -> list[str]:
    """Each goal against each scenario measured at its size: met, missed or not measured."""
    out = []
    for (n, r), goal in GOALS.items():
        verdicts = []
        for scenario in SCENARIOS:
            if (n, r, scenario) not in results:
                continue
            theirs, ours = results[(n, r, scenario)]
            if ours.seconds is None or ours.note:
                verdicts.append(f"{scenario}: not measured ({ours.note or 'not run'})")
                continue
            if goal.startswith("<="):
                limit = float(goal.split()[1].rstrip("x"))
                if theirs.seconds is not None and not theirs.note:
                    ratio = ours.seconds / theirs.seconds
                    ok = ratio <= limit
                    verdicts.append(f"{scenario} {ratio:.3f}x {'met' if ok else 'MISSED'}")
                elif theirs.note.startswith(">"):
                    bound = ours.seconds / float(theirs.note.split()[1])
                    ok = bound <= limit
                    verdicts.append(f"{scenario} < {bound:.3f}x {'met' if ok else 'unknown'}")
                else:
                    verdicts.append(f"{scenario}: crm_simulate not run")
            else:
                limit = float(goal.split()[1])
                ok = ours.seconds < limit
                cpu = f" (CPU {ours.cpu:.1f} s)" if ours.cpu is not None else ""
                verdicts.append(f"{scenario} {ours.seconds:.1f} s{cpu} {'met' if ok else 'MISSED'}")
        if verdicts:
            out.append(f"- ({n}, {r}) goal {goal}: " + "; ".join(verdicts) + ".")
    return out


def render(rows: list[str], args: argparse.Namespace, goals: list[str] | None = None) -> str:
    head = [
        "## Scheduler: `hactl simulate --cib` vs `crm_simulate -R`",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
        f"{os.cpu_count()} cores shared with other work (1-minute load average "
        f"{min(LOADS, default=0):.1f} to {max(LOADS, default=0):.1f} during the run, "
        f"{os.getloadavg()[0]:.1f} at the end: on a loaded machine wall times are longer than "
        f"CPU times), Python {platform.python_version()}, {crm_version()}. "
        "Whole process against whole process on the same generated CIB "
        "(`python -m bench.scheduler`); peak RSS and *hactl CPU* (user + system) from "
        "`wait4`; hactl's modules are byte-compiled ahead, as in an installed package. "
        f"crm_simulate is capped at {args.cap:.0f} s and skipped above "
        f"{args.crm_max_resources} resources. *actions*: lines in the Transition "
        "Summary; *same*: both summaries identical line for line.",
        "",
        "| (nodes, resources) | scenario | actions | crm_simulate | hactl | hactl CPU | ratio | "
        "crm_simulate RSS | hactl RSS | same |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    tail = ["", "Goals, whole process against whole process:", "", *(goals or [])]
    return "\n".join(head + rows + tail)


def write(table: str) -> None:
    text = DOC.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    DOC.write_text(f"{before}{START}\n{table}\n{END}{after}")


if __name__ == "__main__":
    sys.exit(main())
