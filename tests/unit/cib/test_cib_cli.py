"""`hactl simulate`, `hactl import-cib` and `hactl export-cib` end to end (click's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cib_helpers import CORPUS, REPO, crm_simulate, needs_corpus, needs_crm_simulate, summary_lines
from click.testing import CliRunner

from reconciler.cli.main import cli

EXAMPLE = REPO / "manifests" / "active-passive-web"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_simulate_fresh_cluster_table_and_pacemaker_format() -> None:
    code, out, _ = run("simulate", "-f", str(EXAMPLE))
    assert code == 0, out
    assert out.splitlines()[0].split() == ["ACTION", "RESOURCE", "WHERE", "WHY"]
    assert any(line.startswith("Start") and "web-ip" in line for line in out.splitlines())
    code, out, _ = run("simulate", "-f", str(EXAMPLE), "--format", "pacemaker")
    assert code == 0
    assert out.startswith("Transition Summary:\n")
    assert any(line.startswith("  * Start ") and "web-ip" in line for line in out.splitlines())


def test_node_fail_fences_and_recovers(tmp_path: Path) -> None:
    status = tmp_path / "status.yaml"
    # converge first: everything where the fresh plan put it, then lose node1
    code, out, _ = run("simulate", "-f", str(EXAMPLE), "--format", "pacemaker")
    started = {
        line.split()[2]: line.split("(")[1].split(")")[0].split()[-1]
        for line in out.splitlines()
        if line.startswith("  * Start")
    }
    nodes = sorted(set(started.values()) | {"node1", "node2"})
    docs = ["apiVersion: hactl.io/v1", "kind: ObservedStatus", "nodes:"]
    for node in nodes:
        docs += [f"  - name: {node}", "    resources:"]
        for rsc, where in sorted(started.items()):
            rc = 0 if where == node else 7
            op = "start" if where == node else "monitor"
            docs += [
                f"      - name: {rsc}",
                f"        operations: [{{operation: {op}, rc: {rc}, callId: 1}}]",
            ]
    status.write_text("\n".join(docs) + "\n")
    code, out, err = run(
        "simulate", "-f", str(EXAMPLE), "--status", str(status), "--format", "pacemaker"
    )
    assert code == 0, err
    assert summary_lines(out) == [], out  # converged: nothing to do
    victim = started["web-ip"]
    code, out, err = run(
        "simulate", "-f", str(EXAMPLE), "--status", str(status), "--node-fail", victim
    )
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("Fence") and victim in line for line in lines), out
    assert any(line.split()[:2] == ["Move", "web-ip"] for line in lines), out


def test_op_fail_recovers_in_place_and_graph_json() -> None:
    code, out, err = run(
        "simulate",
        "-f",
        str(EXAMPLE),
        "--op-fail",
        "web-ip:start:node1:1",
        "--graph",
        "json",
        "--scores",
    )
    assert code == 0, err
    assert "Placement scores:" in out
    graph = json.loads(out[out.index("{") :])
    assert graph["actions"] and all(len(e) == 2 for e in graph["edges"])
    code, out, _ = run("simulate", "-f", str(EXAMPLE), "--graph", "dot")
    assert "digraph transition {" in out


@needs_corpus
def test_simulate_cib_matches_direct_plan() -> None:
    case = CORPUS / "rec-rsc-5.xml"
    code, out, err = run(
        "simulate", "--cib", str(case), "--format", "pacemaker", "--now", "1764000000"
    )
    assert code == 0, err
    expected = summary_lines((CORPUS / "rec-rsc-5.summary").read_text())
    assert summary_lines(out) == expected


@needs_corpus
@needs_crm_simulate
def test_import_then_export_is_accepted_by_crm_simulate(tmp_path: Path) -> None:
    case = CORPUS / "group-fail.xml"
    code, _, err = run("import-cib", str(case), "-o", str(tmp_path / "imported"))
    assert code == 0, err
    assert (tmp_path / "imported" / "manifests" / "cib.yaml").exists()
    out = tmp_path / "out.xml"
    code, _, err = run(
        "export-cib",
        "-f",
        str(tmp_path / "imported" / "manifests"),
        "--status",
        str(tmp_path / "imported" / "status.yaml"),
        "-o",
        str(out),
    )
    assert code == 0, err
    ran = crm_simulate(out, tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert summary_lines(ran.stdout) == summary_lines((CORPUS / "group-fail.summary").read_text())


def test_import_reports_unsupported_on_stderr(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    cib.write_text(
        '<cib><configuration><crm_config/><nodes><node id="1" uname="n1"/></nodes>'
        '<resources><primitive id="a" class="ocf" provider="heartbeat" type="Dummy">'
        '<meta_attributes id="m"><nvpair id="x" name="restart-type" value="restart"/>'
        "</meta_attributes></primitive></resources><constraints>"
        '<rsc_ticket id="t" rsc="a" ticket="T"/></constraints></configuration></cib>'
    )
    code, out, err = run("import-cib", str(cib))
    assert code == 0
    assert "kind: Resource" in out
    assert "restart-type=restart" in err and "<rsc_ticket>" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["simulate", "-f", "nowhere"], "nowhere: no such file or directory"),
        (["simulate"], "give either -f"),
        (["import-cib", "missing.xml"], "missing.xml: cannot read"),
        (["simulate", "-f", str(EXAMPLE), "--op-fail", "bad"], "RSC:ACTION:NODE:RC"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(args: list[str], needle: str) -> None:
    code, out, err = run(*args)
    assert code != 0
    assert needle in out + err
    assert "Traceback" not in out + err


def test_bad_status_file_names_file_and_line(tmp_path: Path) -> None:
    status = tmp_path / "status.yaml"
    status.write_text(
        "apiVersion: hactl.io/v1\nkind: ObservedStatus\nnodes:\n  - name: n1\n    state: sleepy\n"
    )
    code, _, err = run("simulate", "-f", str(EXAMPLE), "--status", str(status))
    assert code == 1
    assert f"{status}:5:" in err and "nodes[0].state" in err
