"""Our transition graph held against crm_simulate's (``-G``), beyond the summary.

* Clone notifications: for small notify=true CIBs (``notify_cibs.py``) and the
  corpus cases with notify=true clones, the required notify actions
  (Pacemaker's keys and nodes), the notification variables on each instance's
  notify action, and the ordering edges that touch a notify action are the
  same in crm_simulate's graph and in our plan.
* Probes: for every corpus case and those CIBs, the same probes (resource
  instance and node), including one probe per node for anonymous clones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cib_reader import read_cib
from harness import CORPUS
from notify_cibs import scenarios

from reconciler.scheduler.plan import Action, plan

CORPUS_NOTIFY = (
    "promoted-score-startup",
    "promoted-move",
    "clbz5007-promotable-colocation",
    "colo_promoted_w_native",
)
CRM = shutil.which("crm_simulate")

Ident = tuple[str, str | None]


def _crm_ident(el: ET.Element) -> Ident:
    key = el.get("operation_key") or ""
    prim = el.find("primitive")
    if prim is not None:
        rid, long_id = prim.get("id") or "", prim.get("long-id")
        if long_id and not key.startswith(long_id + "_"):
            key = long_id + key[len(rid) :]  # anonymous clones: s_start_0 -> s:1_start_0
    return key, el.get("on_node")


def crm_graph(cib: Path) -> tuple[dict[Ident, dict[str, str]], set[tuple[Ident, Ident]]]:
    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(tmp) / "graph.xml"
        env = {**os.environ, "CIB_shadow_dir": tmp, "LC_ALL": "C"}
        assert CRM is not None
        subprocess.run(
            [CRM, "-x", str(cib), "-S", "-G", str(graph)],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        root = ET.parse(graph).getroot()
    by_id: dict[str, Ident] = {}
    synapses = []
    for syn in root.findall("synapse"):
        action = next(iter(syn.find("action_set") or []))
        by_id[action.get("id") or ""] = _crm_ident(action)
        synapses.append((syn, action))
    acts: dict[Ident, dict[str, str]] = {}
    edges: set[tuple[Ident, Ident]] = set()
    for syn, action in synapses:
        me = _crm_ident(action)
        attrs = action.find("attributes")
        meta = attrs.attrib if attrs is not None else {}
        acts[me] = {k[9:]: v for k, v in meta.items() if k.startswith("CRM_meta_notify_")}
        for trigger in syn.find("inputs") or []:
            for first in trigger:
                edges.add((by_id[first.get("id") or ""], me))
    return acts, edges


def our_graph(cib: Path) -> tuple[dict[Ident, dict[str, str]], set[tuple[Ident, Ident]]]:
    inp, now = read_cib(cib)
    p = plan(inp, now)
    req = {a.id: a for a in p.required_actions()}

    def ident(a: Action) -> Ident:
        return a.key.split("@")[0], a.node

    acts = {
        ident(a): {k: v for k, v in a.notify.items() if k.startswith("notify_")}
        for a in req.values()
    }
    edges = {(ident(req[f]), ident(req[t])) for f, t in p.edges if f in req and t in req}
    return acts, edges


def _is_notify(i: Ident) -> bool:
    return "_notify_" in i[0]


def _secondary(i: Ident) -> bool:
    """Pacemaker's extra pseudo actions for a stop implied by fencing
    (``d_post_notify_stop_0``, ``d_notified_0``: a primitive's name, no node).
    We leave them out: the survivors' post-stop notifications already follow the
    fencing through the clone's stopped action (the edges are checked)."""
    key, node = i
    return node is None and (key.endswith("_notified_0") or key.endswith("_post_notify_stop_0"))


def _cib(case: str, tmp_path: Path) -> Path:
    texts = scenarios()
    if case in texts:
        cib = tmp_path / f"{case}.xml"
        cib.write_text(texts[case])
        return cib
    cib = CORPUS / f"{case}.xml"
    if not cib.exists():
        pytest.skip(f"corpus case {case} not found under {CORPUS}")
    return cib


def _corpus() -> list[str]:
    return sorted(p.stem for p in CORPUS.glob("*.xml")) if CORPUS.is_dir() else []


needs_crm = pytest.mark.skipif(
    CRM is None, reason="crm_simulate (pacemaker-cli-utils) is not installed"
)


@needs_crm
@pytest.mark.parametrize("case", [*scenarios(), *CORPUS_NOTIFY])
def test_notify_actions_match_crm_simulate(case: str, tmp_path: Path) -> None:
    texts = scenarios()
    cib = _cib(case, tmp_path)
    theirs, their_edges = crm_graph(cib)
    ours, our_edges = our_graph(cib)
    clones = {k[0].split("_", 1)[0] for k in theirs if k[1] is None and "_pre_notify_" in k[0]}
    secondary = {k for k in theirs if _secondary(k) and k[0].split("_", 1)[0] not in clones}
    theirs = {k: v for k, v in theirs.items() if k not in secondary}
    their_edges = {e for e in their_edges if e[0] not in secondary and e[1] not in secondary}
    their_notes = {k for k in theirs if _is_notify(k)}
    our_notes = {k for k in ours if _is_notify(k)}
    if case in texts:
        assert their_notes, f"{case}: crm_simulate scheduled no notifications"
    assert sorted(our_notes, key=str) == sorted(their_notes, key=str)
    for key in sorted(their_notes, key=str):
        if key[1] is None:
            continue  # pseudo actions: key type/operation only
        # notify_key_* are Pacemaker's internal bookkeeping; the agent's variables must match
        want = {k: v for k, v in theirs[key].items() if not k.startswith("notify_key_")}
        got = {k: v for k, v in ours[key].items() if not k.startswith("notify_key_")}
        assert got == want, f"{case}: notification variables of {key}"
    keep = {e for e in their_edges if _is_notify(e[0]) or _is_notify(e[1])}
    mine = {e for e in our_edges if _is_notify(e[0]) or _is_notify(e[1])}
    assert sorted(mine, key=str) == sorted(keep, key=str)


@needs_crm
@pytest.mark.parametrize("case", [*scenarios(), *_corpus()])
def test_probes_match_crm_simulate(case: str, tmp_path: Path) -> None:
    cib = _cib(case, tmp_path)
    theirs, _ = crm_graph(cib)
    ours, _ = our_graph(cib)
    want = sorted((k for k in theirs if k[0].endswith("_monitor_0")), key=str)
    got = sorted((k for k in ours if k[0].endswith("_monitor_0")), key=str)
    assert got == want
