"""What the manifests cannot express is reported by name, never dropped silently."""

from __future__ import annotations

import pytest

from reconciler.base.errors import ValidationError
from reconciler.cib.importer import import_cib

CIB = """<cib validate-with="pacemaker-3.7" have-quorum="1" epoch="1" admin_epoch="0" num_updates="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="opts">
        <nvpair id="o1" name="stonith-enabled" value="false"/>
        <nvpair id="o2" name="node-health-strategy" value="migrate-on-red"/>
        <nvpair id="o3" name="dc-version" value="2.1.5"/>
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="1" uname="n1"/>
      <node id="2" uname="n2" type="remote"/>
    </nodes>
    <resources>
      <template id="tmpl" class="ocf" provider="heartbeat" type="Dummy"/>
      <primitive id="from-template" template="tmpl"/>
      <primitive id="web" class="ocf" provider="heartbeat" type="apache" xyz="1">
        <meta_attributes id="web-meta">
          <nvpair id="m1" name="restart-type" value="restart"/>
          <nvpair id="m2" name="migration-threshold" value="3"/>
        </meta_attributes>
        <operations>
          <op id="web-mon" name="monitor" interval="10s" record-pending="true">
            <instance_attributes id="web-mon-ia">
              <nvpair id="m3" name="OCF_CHECK_LEVEL" value="10"/>
            </instance_attributes>
          </op>
        </operations>
      </primitive>
      <bundle id="httpd-bundle"><docker image="httpd"/></bundle>
    </resources>
    <constraints>
      <rsc_ticket id="ticket-web" rsc="web" ticket="T1"/>
      <rsc_location id="loc-set"><resource_set id="s1"><resource_ref id="web"/></resource_set></rsc_location>
      <rsc_location id="loc-ok" rsc="web" node="n1" score="100"/>
    </constraints>
    <tags><tag id="t1"><obj_ref id="web"/></tag></tags>
  </configuration>
  <status/>
</cib>
"""


def test_each_unsupported_feature_is_named() -> None:
    result = import_cib(CIB, "cib.xml")
    text = "\n".join(result.warnings)
    for expected in (
        "node-health-strategy=migrate-on-red",
        "node n2: type=remote",
        "<template>",
        "primitive from-template: template=tmpl",
        "meta attribute restart-type=restart",
        "attribute record-pending=true",
        "instance attribute OCF_CHECK_LEVEL=10",
        "<bundle>",
        "<rsc_ticket>",
        "rsc_location loc-set: resource_set",
        "configuration: <tags>",
        "primitive web: attribute xyz=1",
    ):
        assert expected in text, f"{expected!r} not reported in:\n{text}"
    assert "dc-version" not in text  # informational only
    # what is supported came through
    web = result.manifests.resources["web"]
    assert web.spec.migration_threshold == 3
    assert web.spec.operations[0].interval.milliseconds == 10_000
    assert result.manifests.locations["loc-ok"].spec.score == 100
    assert "loc-set" not in result.manifests.locations


def test_objects_the_checks_reject_are_dropped_and_named() -> None:
    cib = CIB.replace(
        '<rsc_location id="loc-ok" rsc="web" node="n1" score="100"/>',
        '<rsc_location id="loc-ok" rsc="web" node="n1" score="100"/>'
        '<rsc_colocation id="col-missing" rsc="web" with-rsc="nothere" score="INFINITY"/>',
    )
    result = import_cib(cib, "cib.xml")
    assert result.problems == ()
    assert any(w.startswith("Colocation col-missing: the object:") for w in result.warnings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<cib><configuration>", "not well-formed XML"),
        ("<notacib/>", "root element is <notacib>"),
        ("<cib/>", "no <configuration>"),
        ('<!DOCTYPE cib [<!ENTITY x "y">]><cib/>', "DTDs and entities"),
    ],
)
def test_bad_xml_is_a_located_error(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        import_cib(text, "bad.xml")
    assert message in str(err.value)
    assert err.value.problems[0].file == "bad.xml"


def test_dc_deadtime_becomes_the_startup_wait() -> None:
    cib = CIB.replace(
        '<nvpair id="o3" name="dc-version" value="2.1.5"/>',
        '<nvpair id="o3" name="dc-deadtime" value="45s"/>',
    )
    result = import_cib(cib, "cib.xml")
    assert "dc-deadtime" not in "\n".join(result.warnings)
    cluster = result.manifests.cluster
    assert cluster is not None
    assert cluster.spec.startup_wait.milliseconds == 45_000
