"""The light reading of a CIB's status (``import_cib(..., light=True)``, what
`hactl simulate --cib` uses) gives the scheduler exactly the records the status model
would: record by record on odd attribute values, and whole inputs on the corpus (see
test_cib_production_path)."""

from __future__ import annotations

import random

import pydantic
import pytest

from reconciler.cib.import_status import light_operation, operation
from reconciler.cib.importer import import_cib
from reconciler.model.status import op_record
from reconciler.scheduler.from_model import from_model

KEYS = (
    "interval",
    "rc-code",
    "call-id",
    "op-status",
    "transition-key",
    "last-rc-change",
    "last-run",
)
VALUES = (
    "0",
    "7",
    "300",
    "-1",
    "x",
    "1700000000",
    " 5",
    "+3",
    "256",
    "999",
    "1:2:300:x",
    "1:2:7",
    "1:2",
    "",
    None,
)


def _expected(attrs: dict[str, str]) -> object:
    try:
        return op_record("r", operation(attrs))
    except pydantic.ValidationError as e:
        return type(e)


def _light(attrs: dict[str, str], ints: dict[str, int | None] | None) -> object:
    try:
        return light_operation("r", attrs, ints)
    except pydantic.ValidationError as e:
        return type(e)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_light_record_equals_model_record(seed: int) -> None:
    rng = random.Random(seed)
    shared: dict[str, int | None] = {}  # the integers parsed once per reading
    for _ in range(3000):
        attrs = {
            "operation": rng.choice(["monitor", "start", "stop", "promote", ""]),
            "id": rng.choice(["rsc_last_0", ""]),
        }
        for key in KEYS:
            value = rng.choice(VALUES)
            if value is not None:
                attrs[key] = value
        expected = _expected(attrs)
        assert _light(attrs, None) == expected, f"seed {seed}: {attrs}"
        assert _light(attrs, shared) == expected, f"seed {seed}: {attrs} (shared integers)"


CIB = """<cib have-quorum="1"><configuration><crm_config/><nodes>
<node id="1" uname="n1"/><node id="2" uname="n2"/></nodes><resources>
<primitive id="a" class="ocf" provider="heartbeat" type="Dummy"/></resources>
<constraints/></configuration><status>
<node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="1"><lrm_resources>
<lrm_resource id="a" class="ocf" provider="heartbeat" type="Dummy">
<lrm_rsc_op id="a_last_0" operation="start" call-id="4" rc-code="0" interval="0"
 transition-key="1:1:0:x"/>
<unknown><lrm_rsc_op id="nested" operation="stop" call-id="9" rc-code="0"/></unknown>
</lrm_resource>
<lrm_rsc_op id="stray" operation="stop" call-id="9" rc-code="0"/>
</lrm_resources><lrm_resources><lrm_resource id="b" class="ocf" type="X"/></lrm_resources>
</lrm><lrm><lrm_resources><lrm_resource id="c" class="ocf" type="X"/></lrm_resources></lrm>
<transient_attributes id="1"><instance_attributes id="t1">
<nvpair id="t1-a" name="fail-count-a#start_0" value="1"/></instance_attributes>
</transient_attributes></node_state>
<node_state id="2" uname="n2" in_ccm="false" crmd="offline" join="down" expected="down"/>
</status></cib>"""


def test_light_cib_reads_what_the_model_reads() -> None:
    full = import_cib(CIB, "t.xml")
    light = import_cib(CIB.encode(), "t.xml", light=True)
    assert light.history is not None
    assert [(h.resource, h.node, [o.id for o in h.operations]) for h in light.history] == [
        ("a", "n1", ["a_last_0"])
    ]
    assert [h.name for h in full.status.nodes[0].resources] == ["a"]
    assert from_model(light.manifests, light.status, light.history) == from_model(
        full.manifests, full.status
    )


def test_status_before_configuration() -> None:
    head, rest = CIB.split("<configuration>", 1)
    conf, status = rest.split("</configuration>", 1)
    swapped = (
        head + status.replace("</cib>", "") + "<configuration>" + conf + "</configuration></cib>"
    )
    light = import_cib(swapped, "t.xml", light=True)
    full = import_cib(CIB, "t.xml")
    assert from_model(light.manifests, light.status, light.history) == from_model(
        full.manifests, full.status
    )
