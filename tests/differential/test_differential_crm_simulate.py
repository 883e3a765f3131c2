"""Differential test: random small clusters, our scheduler against Debian's crm_simulate.

A hypothesis strategy builds a cluster as manifests plus an observed status (nodes
online, standby, offline or lost; primitives, groups, an anonymous clone; location,
colocation and order constraints; resources already running, failed monitors with
failcounts and migration thresholds). The cluster is exported with our CIB exporter,
``crm_simulate -x cib.xml -R`` plans it, ``plan(from_model(...))`` plans it, and the two
Transition Summaries must be equal line for line. On a mismatch the CIB is printed.

Derandomized (the same examples every run); ``HACTL_DIFF_EXAMPLES`` sets how many
(default 120, about a minute on two cores). ``HACTL_DIFF_SEED`` picks another seed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st

from reconciler.cib.exporter import export_cib
from reconciler.model import KINDS, ManifestSet, validate_set
from reconciler.model.status import ObservedStatus
from reconciler.scheduler.from_model import from_model
from reconciler.scheduler.plan import plan
from reconciler.scheduler.summary import render

pytestmark = [
    pytest.mark.crm_simulate,
    pytest.mark.skipif(
        shutil.which("crm_simulate") is None,
        reason="crm_simulate missing (Debian package pacemaker-cli-utils)",
    ),
]

EXAMPLES = int(os.environ.get("HACTL_DIFF_EXAMPLES", "120"))
SEED = int(os.environ.get("HACTL_DIFF_SEED", "20261125"))
NOW = 1_700_000_000
SCORES = ["INFINITY", "-INFINITY", 100, -100, 50, 0]


@dataclass(frozen=True)
class Cluster:
    docs: tuple[dict[str, Any], ...]
    status: dict[str, Any]

    def manifests(self) -> ManifestSet:
        objects = [KINDS[d["kind"]].model_validate(d) for d in self.docs]
        return ManifestSet([(o, None) for o in objects])

    def valid(self) -> bool:
        """What `hactl validate` accepts (contradictory constraints are refused)."""
        return not validate_set(self.manifests())

    def observed(self) -> ObservedStatus:
        return ObservedStatus.model_validate(self.status)


def _doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "hactl.io/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def _primitive(name: str, threshold: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "agent": "ocf:heartbeat:Dummy",
        "operations": [{"name": "monitor", "interval": "10s", "timeout": "20s"}],
    }
    if threshold is not None:
        spec["migrationThreshold"] = threshold
    return _doc("Resource", name, spec)


@st.composite
def clusters(draw: st.DrawFn) -> Cluster:
    n_nodes = draw(st.integers(2, 4))
    nodes = [f"node{i}" for i in range(1, n_nodes + 1)]
    fencing = draw(st.booleans())
    states = draw(
        st.lists(
            st.sampled_from(["online", "online", "online", "standby", "offline", "unclean"]),
            min_size=n_nodes,
            max_size=n_nodes,
        )
    )
    states[0] = "online"  # keep somewhere to run
    if not fencing:
        states = ["offline" if s == "unclean" else s for s in states]
    stickiness = draw(st.sampled_from([0, 0, 100, "INFINITY"]))
    docs: list[dict[str, Any]] = [
        _doc(
            "Cluster",
            "cluster",
            {
                "fencingEnabled": fencing,
                "noQuorumPolicy": "ignore",
                "defaultStickiness": stickiness,
            },
        )
    ]
    for name, state in zip(nodes, states, strict=True):
        docs.append(_doc("Node", name, {"standby": True} if state == "standby" else {}))
    if fencing:
        docs.append(_doc("FencingDevice", "fence", {"agent": "fence_xvm", "hostList": list(nodes)}))
    tops: list[str] = []  # names constraints may refer to
    members: dict[str, list[str]] = {}  # top-level name -> primitives it runs
    n_prims = draw(st.integers(1, 4))
    for i in range(n_prims):
        name = f"rsc{i}"
        docs.append(_primitive(name, draw(st.sampled_from([None, None, 1, 2]))))
        tops.append(name)
        members[name] = [name]
    for g in range(draw(st.integers(0, 2))):
        size = draw(st.integers(2, 3))
        names = [f"grp{g}-m{j}" for j in range(size)]
        docs.extend(_primitive(n, draw(st.sampled_from([None, 1]))) for n in names)
        docs.append(_doc("Group", f"grp{g}", {"resources": names}))
        tops.append(f"grp{g}")
        members[f"grp{g}"] = names
    clone = draw(st.booleans())
    if clone:
        docs.append(_primitive("base", None))
        spec: dict[str, Any] = {"resource": "base"}
        if draw(st.booleans()):
            spec["max"] = draw(st.integers(1, n_nodes))
        docs.append(_doc("Clone", "base-clone", spec))
    # constraints
    for i in range(draw(st.integers(0, 3))):
        docs.append(
            _doc(
                "Location",
                f"loc{i}",
                {
                    "resource": draw(st.sampled_from(tops)),
                    "node": draw(st.sampled_from(nodes)),
                    "score": draw(st.sampled_from(SCORES)),
                },
            )
        )
    pairs = [(a, b) for a in tops for b in tops if a != b]
    if clone:
        pairs += [(t, "base-clone") for t in tops]
    chosen_cols = draw(st.lists(st.sampled_from(pairs), max_size=2, unique=True)) if pairs else []
    for i, (dep, primary) in enumerate(chosen_cols):
        if (primary, dep) in chosen_cols[:i]:
            continue
        docs.append(
            _doc(
                "Colocation",
                f"col{i}",
                {
                    "resource": dep,
                    "withResource": primary,
                    "score": draw(st.sampled_from(["INFINITY", "-INFINITY", 100, -100])),
                },
            )
        )
    ordered = [(a, b) for i, a in enumerate(tops) for b in tops[i + 1 :]]
    for i, (first, then) in enumerate(
        draw(st.lists(st.sampled_from(ordered), max_size=2, unique=True)) if ordered else []
    ):
        docs.append(
            _doc(
                "Order",
                f"ord{i}",
                {
                    "first": first,
                    "then": then,
                    "kind": draw(st.sampled_from(["Mandatory", "Optional"])),
                },
            )
        )
    # observed status: where things already run, and failures
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in nodes}
    failcounts: dict[str, list[dict[str, Any]]] = {n: [] for n in nodes}
    up = [n for n, s in zip(nodes, states, strict=True) if s != "offline"]
    call = 1
    for top in tops:
        where = draw(st.sampled_from([None, *up]))
        if where is None:
            continue
        for prim in members[top]:
            ops = [
                {"operation": "start", "rc": 0, "callId": call},
                {"operation": "monitor", "intervalMs": 10000, "rc": 0, "callId": call + 1},
            ]
            call += 2
            if draw(st.integers(0, 5)) == 0:  # the monitor found it failed
                ops[1] = {**ops[1], "rc": 1, "lastRcChange": NOW - 60}
                failcounts[where].append(
                    {
                        "resource": prim,
                        "operation": "monitor",
                        "intervalMs": 10000,
                        "count": 1,
                        "lastFailure": NOW - 60,
                    }
                )
            runs[where].append({"name": prim, "agent": "ocf:heartbeat:Dummy", "operations": ops})
    if clone:
        for node in draw(st.lists(st.sampled_from(up), max_size=2, unique=True)) if up else []:
            runs[node].append(
                {
                    "name": "base",
                    "agent": "ocf:heartbeat:Dummy",
                    "operations": [{"operation": "start", "rc": 0, "callId": call}],
                }
            )
            call += 1
    status_nodes = []
    for name, state in zip(nodes, states, strict=True):
        entry: dict[str, Any] = {
            "name": name,
            "resources": runs[name],
            "failcounts": failcounts[name],
        }
        if state == "offline":
            entry = {"name": name, "state": "offline"}
        elif state == "unclean":
            entry["state"] = "unclean"
            entry["reason"] = "peer is no longer part of the cluster"
        status_nodes.append(entry)
    status = {"haveQuorum": True, "now": NOW, "nodes": status_nodes}
    return Cluster(tuple(docs), status)


def _summary(text: str) -> list[str]:
    lines = text.splitlines()
    if "Transition Summary:" not in lines:
        return []
    out = []
    for line in lines[lines.index("Transition Summary:") + 1 :]:
        if not line.strip():
            break
        out.append(re.sub(r"\s+", " ", line.strip()))
    return sorted(out)


SHADOW = tempfile.mkdtemp(prefix="cib-shadow-")


@seed(SEED)
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(clusters())
def test_same_transition_summary_as_crm_simulate(cluster: Cluster) -> None:
    assume(cluster.valid())
    mset = cluster.manifests()
    status = cluster.observed()
    cib = export_cib(mset, status)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cib.xml"
        path.write_text(cib)
        env = {**os.environ, "CIB_shadow_dir": SHADOW, "LC_ALL": "C"}
        ran = subprocess.run(
            ["crm_simulate", "-x", str(path), "-R"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert ran.returncode == 0, f"crm_simulate refused our CIB:\n{ran.stderr[-1500:]}\n{cib}"
    theirs = _summary(ran.stdout)
    ours = sorted(
        re.sub(r"\s+", " ", line.strip())
        for line in render(plan(from_model(mset, status), NOW)).splitlines()
        if line.strip()
    )
    assert ours == theirs, (
        f"only crm_simulate: {sorted(set(theirs) - set(ours))}\n"
        f"only hactl: {sorted(set(ours) - set(theirs))}\n"
        f"replay: HACTL_DIFF_SEED={SEED} pytest tests/differential\n--- CIB ---\n{cib}"
    )
