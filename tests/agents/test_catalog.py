"""Meta-data of every installed agent parses; typed descriptions; parameter checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from agents_kit import needs_ocf

from reconciler.agents.catalog import AgentCatalog, check_resource_params
from reconciler.agents.metadata import MetadataError, parse_duration, parse_metadata
from reconciler.agents.request import AgentRef
from reconciler.base.errors import AgentError


def test_every_installed_agent_has_usable_metadata() -> None:
    catalog = AgentCatalog()
    refs = catalog.list()
    if not any(r.cls == "ocf" and r.provider == "heartbeat" for r in refs):
        pytest.skip("Debian's resource-agents are not installed (`make install` as root)")

    def load(ref: AgentRef) -> str | None:
        try:
            md = catalog.metadata(ref)
        except AgentError as exc:
            return f"{ref}: {exc}"
        assert md.agent == str(ref)
        return None

    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(load, refs) if f]
    assert failures == []
    classes = {r.cls for r in refs}
    assert {"ocf", "stonith"} <= classes
    assert AgentRef("ocf", "webserver", "hactl") in refs
    assert AgentRef("stonith", "fence_hactl_local") in refs
    print(f"{len(refs)} agents, meta-data parsed for all")


@needs_ocf("heartbeat", "IPaddr2")
def test_typed_description_of_ipaddr2() -> None:
    md = AgentCatalog().metadata("ocf:heartbeat:IPaddr2")
    ip = md.param("ip")
    assert ip is not None and ip.required and ip.unique and ip.type == "string"
    lvs = md.param("lvs_support")
    assert lvs is not None and lvs.type == "boolean" and lvs.default == "false"
    assert md.default_timeout("start") == 20.0
    monitor = md.action("monitor")
    assert monitor is not None and monitor.interval_s == 10.0
    problems = check_resource_params(
        "ocf:heartbeat:IPaddr2", {"ip": "10.0.0.5", "cidr_netmask": "24", "lvs_support": "maybe"}
    )
    assert [p.path for p in problems] == ["spec.params.lvs_support"]
    assert "boolean" in problems[0].message


def test_check_resource_params_problems() -> None:
    assert check_resource_params("nonsense:x", {})[0].path == "spec.agent"
    missing = check_resource_params("ocf:nobody:Nothing", {})
    assert "not installed" in missing[0].message
    fence = check_resource_params(
        "stonith:fence_hactl_local",
        {"state_dir": "/run/hactl", "pcmk_host_list": "n1 n2", "pcmk_delay_max": "5s"},
    )
    assert fence == []
    fence = check_resource_params("stonith:fence_hactl_local", {})
    assert [p.path for p in fence] == ["spec.params.state_dir"]


def test_parse_metadata_shapes_and_errors() -> None:
    md = parse_metadata(
        "ocf:x:y",
        """<?xml version="1.0"?>
<resource-agent name="y" version="2.0"><version>1.1</version>
<shortdesc lang="en">Short</shortdesc>
<parameters>
 <parameter name="mode" required="1" reloadable="1"><content type="select" default="a">
  <option value="a"/><option value="b"/></content></parameter>
 <parameter name="old" deprecated="1"><content type="integer"/></parameter>
 <parameter name="gone"><deprecated/><content type="string"/></parameter>
</parameters>
<actions><action name="start" timeout="2min"/><action name="monitor" timeout="100ms"
 interval="PT5M" depth="10" role="Promoted"/></actions></resource-agent>""",
    )
    assert md.ocf_version == "1.1" and md.shortdesc == "Short"
    mode = md.param("mode")
    assert mode is not None and mode.options == ("a", "b") and mode.reloadable
    assert md.param("old").deprecated and md.param("gone").deprecated  # type: ignore[union-attr]
    assert md.default_timeout("start") == 120.0
    mon = md.action("monitor")
    assert mon is not None and mon.timeout_s == 0.1 and mon.interval_s == 300.0
    assert mon.depth == 10 and mon.role == "Promoted"
    for bad, words in [
        ("", "empty"),
        ("<resource-agent><x></resource-agent>", "not valid XML"),
        ("<other/>", "expected <resource-agent>"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><resource-agent/>', "entities"),
    ]:
        with pytest.raises(MetadataError, match=words):
            parse_metadata("ocf:x:y", bad)


def test_durations() -> None:
    assert parse_duration("20") == 20.0
    assert parse_duration("20s") == 20.0
    assert parse_duration("1500ms") == 1.5
    assert parse_duration("2min") == 120.0
    assert parse_duration("1h") == 3600.0
    assert parse_duration("PT1M30S") == 90.0
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_agent_refs() -> None:
    assert str(AgentRef.parse("ocf:heartbeat:IPaddr2")) == "ocf:heartbeat:IPaddr2"
    assert AgentRef.parse("fence_ipmilan") == AgentRef("stonith", "fence_ipmilan")
    assert AgentRef.parse("systemd:nginx.service").type == "nginx.service"
    for bad in (
        "ocf:IPaddr2",
        "ocf::x",
        "lsb:",
        "xyz:abc",
        "ocf:heartbeat:../../bin/sh",
        "lsb:a/b",
    ):
        with pytest.raises(AgentError):
            AgentRef.parse(bad)


def test_package_agents_are_executable() -> None:
    from reconciler.agents.environment import PACKAGE_FENCE_DIR, PACKAGE_OCF_ROOT

    for path in (
        PACKAGE_OCF_ROOT / "resource.d/hactl/webserver",
        PACKAGE_FENCE_DIR / "fence_hactl_local",
    ):
        assert Path(path).stat().st_mode & 0o111, path
