"""CIB ``<resources>`` -> Resource, Group, Clone and FencingDevice documents.

Meta attributes that Pacemaker lets a group or clone pass down to its members
(``migration-threshold``, ``failure-timeout``, ``requires`` ...) and
``rsc_defaults`` other than stickiness and migration-threshold (which become
Cluster defaults) are folded into every member that does not set its own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from reconciler.base import score as scores
from reconciler.cib.common import Report, interval_ms, nvpairs, role, ruled_blocks, truthy
from reconciler.model.pacemaker_meta import ms_text

Doc = dict[str, Any]
Emit = Any  # Callable[[Doc], None]

PRIMITIVE_META = {
    "resource-stickiness": ("stickiness", "score"),
    "resource_stickiness": ("stickiness", "score"),
    "migration-threshold": ("migrationThreshold", "score"),
    "failure-timeout": ("failureTimeout", "duration"),
    "target-role": ("targetRole", "role"),
    "is-managed": ("managed", "bool"),
    "maintenance": ("maintenance", "bool"),
    "priority": ("priority", "int"),
    "allow-migrate": ("allowMigrate", "bool"),
    "critical": ("critical", "bool"),
    "multiple-active": ("multipleActive", "text"),
    "requires": ("requires", "text"),
    "description": ("description", "text"),
}
GROUP_META = {
    k: v
    for k, v in PRIMITIVE_META.items()
    if v[0] in ("stickiness", "targetRole", "managed", "maintenance", "priority", "description")
}
CLONE_META = {
    **GROUP_META,
    "clone-max": ("max", "int"),
    "clone-node-max": ("perNodeMax", "int"),
    "clone-min": ("minActive", "int"),
    "interleave": ("interleave", "bool"),
    "globally-unique": ("globallyUnique", "bool"),
    "ordered": ("ordered", "bool"),
    "notify": ("notify", "bool"),
    "promotable": ("promotable", "bool"),
    "promoted-max": ("promotedMax", "int"),
    "master-max": ("promotedMax", "int"),
    "promoted-node-max": ("promotedPerNodeMax", "int"),
    "master-node-max": ("promotedPerNodeMax", "int"),
}
#: rsc_defaults that become Cluster fields instead of being folded into resources
CLUSTER_DEFAULTS = {"resource-stickiness", "resource_stickiness", "migration-threshold"}
OP_NAMES = {
    "start",
    "stop",
    "monitor",
    "promote",
    "demote",
    "notify",
    "migrate_to",
    "migrate_from",
    "reload",
    "reload-agent",
}
ON_FAIL = {"ignore", "block", "stop", "restart", "standby", "fence", "demote"}
_OP_ATTRS = {"id", "name", "interval", "timeout", "role", "on-fail", "enabled", "start-delay"}
_FENCE_PARAMS = {
    "pcmk_host_list": "hostList",
    "pcmk_host_map": "hostMap",
    "pcmk_host_check": "hostCheck",
    "pcmk_host_argument": "hostArgument",
    "pcmk_delay_base": "delayBase",
    "pcmk_delay_max": "delayMax",
}


def convert(value: str, how: str) -> Any:
    """A CIB string as the manifest field wants it; ValueError when it cannot."""
    if how == "bool":
        return truthy(value)
    if how in ("score", "int"):
        parsed = scores.parse(value)
        if how == "score" and abs(parsed) >= scores.INFINITY:
            return scores.render(parsed)
        return int(parsed)
    if how == "duration":
        ms = interval_ms(value)
        if ms is None:
            raise ValueError(f"not a duration: {value!r}")
        return ms_text(ms)
    if how == "role":
        r = role(value)
        if r is None:
            raise ValueError(f"not a role: {value!r}")
        return r
    return value


def apply_meta(
    where: str, meta: dict[str, str], table: dict[str, tuple[str, str]], spec: Doc, report: Report
) -> None:
    for key, value in meta.items():
        if key not in table:
            report.unsupported(where, f"meta attribute {key}={value}")
            continue
        field, how = table[key]
        try:
            spec[field] = convert(value, how)
        except ValueError as e:
            report.unsupported(where, f"meta attribute {key}={value}", str(e))


def extra_attributes(report: Report, where: str, el: ET.Element, known: set[str]) -> None:
    """Report every XML attribute of ``el`` that is not carried over."""
    for key in sorted(set(el.attrib) - known - {"id", "description"}):
        report.unsupported(where, f"attribute {key}={el.get(key)}")


def _split(
    meta: dict[str, str], table: dict[str, tuple[str, str]]
) -> tuple[dict[str, str], dict[str, str]]:
    """(meta the element keeps, meta passed down to its members)."""
    own = {k: v for k, v in meta.items() if k in table or k not in PRIMITIVE_META}
    down = {k: v for k, v in meta.items() if k not in table and k in PRIMITIVE_META}
    return own, down


class ResourceReader:
    def __init__(
        self,
        report: Report,
        emit: Emit,
        rsc_defaults: dict[str, str],
        op_defaults: dict[str, str],
        node_names: set[str],
    ) -> None:
        self.report = report
        self.emit = emit
        self.defaults = {
            k: v
            for k, v in rsc_defaults.items()
            if k in PRIMITIVE_META and k not in CLUSTER_DEFAULTS
        }
        self.op_defaults = op_defaults
        self.node_names = node_names

    def top(self, el: ET.Element) -> None:
        if el.tag == "primitive":
            self.primitive(el, {})
        elif el.tag == "group":
            self.group(el, {})
        elif el.tag in ("clone", "master"):
            self.clone(el)
        else:
            self.report.unsupported(f"resources/{el.tag} {el.get('id', '?')}", f"<{el.tag}>")

    def primitive(self, el: ET.Element, down: dict[str, str]) -> str | None:
        rid = el.get("id", "?")
        where = f"primitive {rid}"
        cls = el.get("class", "")
        if el.get("template"):
            self.report.unsupported(where, f"template={el.get('template')}")
            return None
        for tag in ("instance_attributes", "meta_attributes", "utilization"):
            for ruled in ruled_blocks(el, tag):
                self.report.unsupported(where, f"{tag} {ruled} with a rule or reference")
        extra_attributes(self.report, where, el, {"class", "provider", "type", "template"})
        params = nvpairs(el, "instance_attributes")
        meta = {**self.defaults, **down, **nvpairs(el, "meta_attributes")}
        ops = self.operations(where, el)
        if cls == "stonith":
            self.fencing_device(rid, el, params, meta, ops)
            return rid
        if cls not in ("ocf", "lsb", "systemd", "service"):
            self.report.unsupported(where, f"class={cls}")
            return None
        agent = (
            f"ocf:{el.get('provider')}:{el.get('type')}"
            if cls == "ocf"
            else f"{cls}:{el.get('type')}"
        )
        spec: Doc = {"agent": agent}
        if params:
            spec["params"] = params
        if ops:
            spec["operations"] = ops
        apply_meta(where, meta, PRIMITIVE_META, spec, self.report)
        util = self.utilization(where, el)
        if util:
            spec["utilization"] = util
        if el.get("description"):
            spec["description"] = el.get("description")
        self.emit(_doc("Resource", rid, spec))
        return rid

    def utilization(self, where: str, el: ET.Element) -> dict[str, int]:
        out = {}
        for key, value in nvpairs(el, "utilization").items():
            try:
                out[key] = max(0, int(value))
            except ValueError:
                self.report.unsupported(where, f"utilization {key}={value}", "not an integer")
        return out

    def operations(self, where: str, el: ET.Element) -> list[Doc]:
        out: list[Doc] = []
        seen: set[tuple[str, int]] = set()
        ops = el.find("operations")
        for op in ops.findall("op") if ops is not None else []:
            name = op.get("name", "")
            here = f"{where} op {op.get('id') or name}"
            ms = interval_ms(op.get("interval", "0"))
            if name not in OP_NAMES or ms is None:
                self.report.unsupported(here, f"name={name} interval={op.get('interval')}")
                continue
            if (name, ms) in seen:
                self.report.unsupported(here, f"a second {name} every {ms_text(ms)}", "duplicate")
                continue
            seen.add((name, ms))
            doc: Doc = {"name": name}
            if ms:
                doc["interval"] = ms_text(ms)
            timeout = op.get("timeout") or self.op_defaults.get("timeout")
            tms = interval_ms(timeout)
            if tms is not None:
                doc["timeout"] = ms_text(tms)
            elif timeout is not None:
                self.report.unsupported(here, f"timeout={timeout}", "unreadable")
            if op.get("role"):
                r = role(op.get("role"))
                if r is None or r == "Stopped":
                    self.report.unsupported(here, f"role={op.get('role')}")
                else:
                    doc["role"] = r
            on_fail = op.get("on-fail")
            if on_fail in ON_FAIL:
                doc["onFail"] = on_fail
            elif on_fail:
                self.report.unsupported(here, f"on-fail={on_fail}")
            if op.get("enabled") is not None:
                doc["enabled"] = truthy(op.get("enabled"))
            delay = interval_ms(op.get("start-delay"))
            if delay:
                doc["startDelay"] = ms_text(delay)
            if op.get("description"):
                doc["description"] = op.get("description")
            for key in sorted(set(op.attrib) - _OP_ATTRS - {"description"}):
                self.report.unsupported(here, f"attribute {key}={op.get(key)}")
            for key, value in nvpairs(op, "meta_attributes").items():
                self.report.unsupported(here, f"meta attribute {key}={value}")
            for key, value in nvpairs(op, "instance_attributes").items():
                self.report.unsupported(here, f"instance attribute {key}={value}")
            out.append(doc)
        return out

    def fencing_device(
        self, rid: str, el: ET.Element, params: dict[str, str], meta: dict[str, str], ops: list[Doc]
    ) -> None:
        where = f"primitive {rid}"
        spec: Doc = {"agent": el.get("type", "")}
        rest: dict[str, str] = {}
        for key, value in params.items():
            field = _FENCE_PARAMS.get(key)
            hosts = [h for h in value.replace(",", " ").split() if h]
            if field == "hostList":
                known = [h for h in hosts if h in self.node_names]
                for h in hosts:
                    if h not in self.node_names:
                        self.report.unsupported(where, f"{key} entry {h}", "not a cluster node")
                if known:
                    spec[field] = known
            elif field == "hostMap":
                pairs = [p.split(":", 1) for p in value.replace(",", ";").split(";") if ":" in p]
                for node, _ in pairs:
                    if node not in self.node_names:
                        self.report.unsupported(where, f"{key} entry {node}", "not a cluster node")
                mapped = {n: port for n, port in pairs if n in self.node_names}
                if mapped:
                    spec[field] = mapped
            elif field == "hostCheck" and value in (
                "static-list",
                "dynamic-list",
                "status",
                "none",
            ):
                spec[field] = value
            elif field in ("delayBase", "delayMax") and interval_ms(value) is not None:
                spec[field] = ms_text(interval_ms(value) or 0)
            elif field == "hostArgument":
                spec[field] = value
            else:
                rest[key] = value  # carried verbatim (e.g. a host list naming remote nodes)
        if rest:
            spec["params"] = rest
        usable = [o for o in ops if o["name"] in ("start", "stop", "monitor")]
        for dropped in ops:
            if dropped not in usable:
                self.report.unsupported(where, f"op {dropped['name']}", "a fencing device op")
        if usable:
            spec["operations"] = usable
        for key, value in meta.items():
            if key == "target-role" and value.lower() in ("started", "stopped"):
                spec["targetRole"] = value.capitalize()
            elif key == "priority":
                spec["priority"] = convert(value, "int")
            elif key == "description":
                spec["description"] = value
            else:
                self.report.unsupported(where, f"meta attribute {key}={value}")
        self.emit(_doc("FencingDevice", rid, spec))

    def group(self, el: ET.Element, down: dict[str, str]) -> str | None:
        gid = el.get("id", "?")
        where = f"group {gid}"
        extra_attributes(self.report, where, el, set())
        own, more = _split(nvpairs(el, "meta_attributes"), GROUP_META)
        members = []
        for child in el:
            if child.tag == "primitive":
                if child.get("class") == "stonith":
                    self.report.unsupported(where, f"fencing device {child.get('id')} in a group")
                    continue
                name = self.primitive(child, {**down, **more})
                if name:
                    members.append(name)
            elif child.tag not in ("meta_attributes", "instance_attributes", "utilization"):
                self.report.unsupported(where, f"<{child.tag}>")
        for key, value in nvpairs(el, "instance_attributes").items():
            self.report.unsupported(where, f"instance attribute {key}={value}")
        if not members:
            self.report.unsupported(where, "the group", "no member could be carried over")
            return None
        spec: Doc = {"resources": members}
        apply_meta(where, own, GROUP_META, spec, self.report)
        self.emit(_doc("Group", gid, spec))
        return gid

    def clone(self, el: ET.Element) -> None:
        cid = el.get("id", "?")
        where = f"clone {cid}"
        extra_attributes(self.report, where, el, set())
        own, down = _split(nvpairs(el, "meta_attributes"), CLONE_META)
        child_name = None
        for child in el:
            if child.tag == "primitive" and child_name is None:
                child_name = self.primitive(child, down)
            elif child.tag == "group" and child_name is None:
                child_name = self.group(child, down)
            elif child.tag not in ("meta_attributes", "instance_attributes"):
                self.report.unsupported(where, f"<{child.tag}>")
        for key, value in nvpairs(el, "instance_attributes").items():
            self.report.unsupported(where, f"instance attribute {key}={value}")
        if child_name is None:
            self.report.unsupported(where, "the clone", "its child could not be carried over")
            return
        spec: Doc = {"resource": child_name}
        if el.tag == "master":
            spec["promotable"] = True
        apply_meta(where, own, CLONE_META, spec, self.report)
        self.emit(_doc("Clone", cid, spec))


def _doc(kind: str, name: str, spec: Doc) -> Doc:
    return {"apiVersion": "hactl.io/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
