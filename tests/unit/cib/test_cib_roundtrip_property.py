"""Random clusters (the differential test's strategy): manifests + status -> CIB -> manifests
+ status plans exactly as the original, and a second round trip changes nothing."""

from __future__ import annotations

import sys

from cib_helpers import REPO
from hypothesis import HealthCheck, assume, given, settings

from reconciler.cib.exporter import export_cib
from reconciler.cib.importer import import_cib
from reconciler.model import dump_yaml
from reconciler.scheduler.from_model import from_model
from reconciler.scheduler.plan import plan
from reconciler.scheduler.summary import render

sys.path.insert(0, str(REPO / "tests" / "differential"))
from test_differential_crm_simulate import NOW, Cluster, clusters


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(clusters())
def test_export_import_keeps_the_plan_and_is_stable(cluster: Cluster) -> None:
    assume(cluster.valid())
    mset, status = cluster.manifests(), cluster.observed()
    first = import_cib(export_cib(mset, status), "exported.xml")
    assert first.problems == () and first.warnings == (), first.warnings
    before = render(plan(from_model(mset, status), NOW))
    after = render(plan(from_model(first.manifests, first.status), NOW))
    assert after == before
    # what simulate --cib reads (the history straight into the scheduler's records)
    light = import_cib(export_cib(mset, status).encode(), "exported.xml", light=True)
    assert from_model(light.manifests, light.status, light.history) == from_model(
        first.manifests, first.status
    )
    second = import_cib(export_cib(first.manifests, first.status), "again.xml")
    assert dump_yaml(second.manifests.objects) == dump_yaml(first.manifests.objects)
    assert second.status == first.status
