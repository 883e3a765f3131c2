"""CIB ``<configuration>`` -> manifest documents (plain camelCase mappings, in CIB order).

Every element or attribute that has no place in the manifests is reported by
name through :class:`Report`; nothing is dropped silently.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from reconciler.base import score as scores
from reconciler.cib.common import Report, nvpairs, role, ruled_blocks, truthy
from reconciler.cib.import_resources import PRIMITIVE_META, ResourceReader, extra_attributes
from reconciler.cib.import_resources import convert as resource_convert
from reconciler.cib.import_rules import location_rule
from reconciler.model.base import API_VERSION
from reconciler.model.pacemaker_meta import NODE_ID_ANNOTATION, SET_IDS_ANNOTATION

Doc = dict[str, Any]

# crm_config property -> (Cluster spec field, converter)
_PROPS: dict[str, tuple[str, str]] = {
    "stonith-enabled": ("fencingEnabled", "bool"),
    "stonith-action": ("fencingAction", "action"),
    "stonith-timeout": ("fencingTimeout", "duration"),
    "concurrent-fencing": ("concurrentFencing", "bool"),
    "priority-fencing-delay": ("priorityFencingDelay", "duration"),
    "symmetric-cluster": ("symmetricCluster", "bool"),
    "no-quorum-policy": ("noQuorumPolicy", "quorum"),
    "placement-strategy": ("placementStrategy", "text"),
    "cluster-recheck-interval": ("clusterRecheckInterval", "duration"),
    "start-failure-is-fatal": ("startFailureIsFatal", "bool"),
    "maintenance-mode": ("maintenanceMode", "bool"),
    "stop-all-resources": ("stopAllResources", "bool"),
    "batch-limit": ("batchLimit", "int"),
    "default-resource-stickiness": ("defaultStickiness", "score"),
    "dc-deadtime": ("startupWait", "duration"),
}
#: properties that only describe the running cluster or tune daemons, not decisions
INFORMATIONAL = frozenset(
    {
        "dc-version",
        "cluster-infrastructure",
        "cluster-name",
        "last-lrm-refresh",
        "have-watchdog",
        "election-timeout",
        "shutdown-escalation",
        "transition-idle-timeout",
        "cluster-delay",
        "cluster-ipc-limit",
        "join-integration-timeout",
        "join-finalization-timeout",
        "pe-input-series-max",
        "pe-error-series-max",
        "pe-warn-series-max",
        "expected-quorum-votes",
        "crmd-transition-delay",
        "crmd-integration-timeout",
        "crmd-finalization-timeout",
        "enable-startup-probes",
        "stop-orphan-resources",
        "stop-orphan-actions",
        "startup-fencing",
        "node-health-strategy",
        "remove-after-stop",
        "is-managed-default",
        "load-threshold",
        "node-action-limit",
        "migration-limit",
        "stonith-watchdog-timeout",
        "fence-reaction",
        "enable-acl",
        "cluster-recheck-interval",
    }
)
#: defaults of the informational ones that matter when changed
_EXPECTED = {
    "stop-orphan-resources": "true",
    "stop-orphan-actions": "true",
    "startup-fencing": "true",
    "node-health-strategy": "none",
    "enable-startup-probes": "true",
    "is-managed-default": "true",
    "remove-after-stop": "false",
}


def _same(value: str, default: str) -> bool:
    if default in ("true", "false"):
        return truthy(value) == truthy(default)
    return value.strip().lower() == default


def manifest(kind: str, name: str, spec: Doc, annotations: dict[str, str] | None = None) -> Doc:
    meta: Doc = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}


def convert(value: str, how: str) -> Any:
    if how == "quorum":
        return "fence" if value == "suicide" else value
    if how == "action":
        return "off" if value in ("off", "poweroff") else value
    return resource_convert(value, how)


class ConfigReader:
    """Walks ``<configuration>``; collects documents and the report."""

    def __init__(self, conf: ET.Element, report: Report) -> None:
        self.conf = conf
        self.report = report
        self.docs: list[Doc] = []
        self.op_defaults = nvpairs(conf.find("op_defaults"), "meta_attributes")
        self.rsc_defaults = nvpairs(conf.find("rsc_defaults"), "meta_attributes")

    # ----------------------------------------------------------------- cluster

    def cluster(self) -> None:
        crm = self.conf.find("crm_config")
        props = nvpairs(crm, "cluster_property_set")
        if crm is not None:
            for blocked in ruled_blocks(crm, "cluster_property_set"):
                self.report.unsupported("crm_config", f"cluster_property_set {blocked} with a rule")
        spec: Doc = {}
        for raw, value in props.items():
            key = raw.replace("_", "-") if raw.replace("-", "_") == raw else raw
            if key in _PROPS:
                field, how = _PROPS[key]
                try:
                    spec[field] = convert(value, how)
                except ValueError as e:
                    self.report.unsupported("crm_config", f"{raw}={value}", str(e))
            elif key in INFORMATIONAL:
                if key in _EXPECTED and not _same(value, _EXPECTED[key]):
                    self.report.unsupported("crm_config", f"{raw}={value}")
                # otherwise it only tunes daemons or describes the running cluster
            else:
                self.report.unsupported("crm_config", f"{raw}={value}")
        self.defaults(spec)
        self.docs.append(manifest("Cluster", "cluster", spec))

    def defaults(self, spec: Doc) -> None:
        for key, value in self.rsc_defaults.items():
            if key in ("resource-stickiness", "resource_stickiness"):
                spec["defaultStickiness"] = convert(value, "score")
            elif key == "migration-threshold":
                spec["defaultMigrationThreshold"] = convert(value, "score")
            elif key in PRIMITIVE_META:
                pass  # folded into every resource that does not set it (see primitive())
            else:
                self.report.unsupported("rsc_defaults", f"meta attribute {key}={value}")
        for key, value in self.op_defaults.items():
            if key != "timeout":
                self.report.unsupported("op_defaults", f"{key}={value}")
        for tag in ("rsc_defaults", "op_defaults"):
            block = self.conf.find(tag)
            if block is not None:
                for ruled in ruled_blocks(block, "meta_attributes"):
                    self.report.unsupported(tag, f"meta_attributes {ruled} with a rule")

    # ------------------------------------------------------------------- nodes

    def nodes(self) -> None:
        nodes = self.conf.find("nodes")
        for el in nodes.findall("node") if nodes is not None else []:
            name = el.get("uname") or el.get("id") or ""
            kind = el.get("type", "member") or "member"
            if kind not in ("member", "normal"):
                self.report.unsupported(f"node {name}", f"type={kind}")
                continue
            if el.get("score"):
                self.report.unsupported(f"node {name}", f"score={el.get('score')}")
            extra_attributes(self.report, f"node {name}", el, {"uname", "type", "score"})
            attrs = nvpairs(el, "instance_attributes")
            for ruled in ruled_blocks(el, "instance_attributes"):
                self.report.unsupported(f"node {name}", f"instance_attributes {ruled} with a rule")
            spec: Doc = {}
            for flag in ("standby", "maintenance"):
                if flag in attrs:
                    spec[flag] = truthy(attrs.pop(flag))
            if attrs:
                spec["attributes"] = attrs
            util = self.utilization(f"node {name}", el)
            if util:
                spec["utilization"] = util
            self.docs.append(manifest("Node", name, spec, {NODE_ID_ANNOTATION: el.get("id", name)}))

    def utilization(self, where: str, el: ET.Element) -> dict[str, int]:
        out = {}
        for key, value in nvpairs(el, "utilization").items():
            try:
                out[key] = max(0, int(value))
            except ValueError:
                self.report.unsupported(where, f"utilization {key}={value}", "not an integer")
        return out

    # --------------------------------------------------------------- resources

    def resources(self) -> None:
        names = {d["metadata"]["name"] for d in self.docs if d["kind"] == "Node"}
        reader = ResourceReader(
            self.report, self.docs.append, self.rsc_defaults, self.op_defaults, names
        )
        res = self.conf.find("resources")
        for el in list(res) if res is not None else []:
            reader.top(el)

    def constraints(self) -> None:
        cons = self.conf.find("constraints")
        for el in list(cons) if cons is not None else []:
            cid = el.get("id", "?")
            if el.tag == "rsc_location":
                self.location(cid, el)
            elif el.tag == "rsc_colocation":
                self.colocation(cid, el)
            elif el.tag == "rsc_order":
                self.order(cid, el)
            else:
                self.report.unsupported(f"constraint {cid}", f"<{el.tag}>")

    def extra_attrs(self, where: str, el: ET.Element, known: set[str]) -> None:
        for key in sorted(set(el.attrib) - known - {"id"}):
            self.report.unsupported(where, f"attribute {key}={el.get(key)}")

    def location(self, cid: str, el: ET.Element) -> None:
        where = f"rsc_location {cid}"
        spec: Doc = {}
        if el.find("resource_set") is not None:
            self.report.unsupported(where, "resource_set in a location constraint")
            return
        if el.get("rsc"):
            spec["resource"] = el.get("rsc")
        elif el.get("rsc-pattern"):
            spec["resourcePattern"] = el.get("rsc-pattern")
        if el.get("node") is not None:
            spec["node"] = el.get("node")
            spec["score"] = convert(el.get("score", "0"), "score")
        rules = []
        for rule_el in el.findall("rule"):
            rule = location_rule(f"{where} rule {rule_el.get('id', '?')}", rule_el, self.report)
            if rule is not None:
                rules.append(rule)
        if rules:
            spec["rules"] = rules
        elif el.get("node") is None:
            self.report.unsupported(where, "the constraint", "no node and no usable rule")
            return
        if el.get("role"):
            spec["role"] = role(el.get("role"))
        if el.get("resource-discovery"):
            spec["resourceDiscovery"] = el.get("resource-discovery")
        self.extra_attrs(
            where, el, {"rsc", "rsc-pattern", "node", "score", "role", "resource-discovery"}
        )
        self.docs.append(manifest("Location", cid, spec))

    def sets(self, where: str, el: ET.Element, kind: str) -> list[Doc]:
        out = []
        for s in el.findall("resource_set"):
            doc: Doc = {"resources": [r.get("id", "") for r in s.findall("resource_ref")]}
            if s.get("sequential") is not None:
                doc["sequential"] = truthy(s.get("sequential"))
            if s.get("require-all") is not None:
                doc["requireAll"] = truthy(s.get("require-all"))
            if s.get("role") and kind == "colocation":
                doc["role"] = role(s.get("role"))
            if s.get("action") and kind == "order":
                doc["action"] = s.get("action")
            here = f"{where} set {s.get('id', '?')}"
            self.extra_attrs(here, s, {"sequential", "require-all", "role", "action"})
            if s.get("action") and kind != "order":
                self.report.unsupported(here, f"action={s.get('action')}")
            if s.get("role") and kind != "colocation":
                self.report.unsupported(here, f"role={s.get('role')}")
            out.append(doc)
        return out

    @staticmethod
    def set_ids(el: ET.Element) -> dict[str, str] | None:
        ids = [s.get("id", "") for s in el.findall("resource_set")]
        return {SET_IDS_ANNOTATION: ",".join(ids)} if ids and all(ids) else None

    def colocation(self, cid: str, el: ET.Element) -> None:
        where = f"rsc_colocation {cid}"
        spec: Doc = {"score": convert(el.get("score", "0"), "score")}
        if el.find("resource_set") is not None:
            spec["sets"] = self.sets(where, el, "colocation")
        else:
            spec["resource"] = el.get("rsc")
            spec["withResource"] = el.get("with-rsc")
            if el.get("rsc-role"):
                spec["role"] = role(el.get("rsc-role"))
            if el.get("with-rsc-role"):
                spec["withRole"] = role(el.get("with-rsc-role"))
        if el.get("node-attribute"):
            spec["nodeAttribute"] = el.get("node-attribute")
        if el.get("influence") is not None:
            spec["influence"] = truthy(el.get("influence"))
        self.extra_attrs(
            where,
            el,
            {
                "rsc",
                "with-rsc",
                "score",
                "rsc-role",
                "with-rsc-role",
                "node-attribute",
                "influence",
            },
        )
        self.docs.append(manifest("Colocation", cid, spec, self.set_ids(el)))

    def order(self, cid: str, el: ET.Element) -> None:
        where = f"rsc_order {cid}"
        spec: Doc = {}
        if el.find("resource_set") is not None:
            spec["sets"] = self.sets(where, el, "order")
        else:
            spec["first"] = el.get("first")
            spec["then"] = el.get("then")
            if el.get("first-action"):
                spec["firstAction"] = el.get("first-action")
            if el.get("then-action"):
                spec["thenAction"] = el.get("then-action")
        kind = el.get("kind")
        if kind is None and el.get("score") is not None:
            kind = "Optional" if scores.parse(el.get("score", "0")) == 0 else "Mandatory"
        if kind is not None:
            spec["kind"] = kind.capitalize()
        if el.get("symmetrical") is not None:
            spec["symmetrical"] = truthy(el.get("symmetrical"))
        if el.get("require-all") is not None and not truthy(el.get("require-all")):
            self.report.unsupported(where, "require-all=false")
        self.extra_attrs(
            where,
            el,
            {
                "first",
                "then",
                "first-action",
                "then-action",
                "kind",
                "score",
                "symmetrical",
                "require-all",
            },
        )
        self.docs.append(manifest("Order", cid, spec, self.set_ids(el)))

    # ----------------------------------------------------------------- fencing

    def fencing_topology(self) -> None:
        topo = self.conf.find("fencing-topology")
        if topo is None:
            return
        by_target: dict[tuple[str, str], list[tuple[int, list[str]]]] = {}
        for lv in topo.findall("fencing-level"):
            if lv.get("target"):
                key = ("node", lv.get("target", ""))
            elif lv.get("target-pattern"):
                key = ("nodePattern", lv.get("target-pattern", ""))
            elif lv.get("target-attribute"):
                key = ("nodeAttribute", f"{lv.get('target-attribute')}={lv.get('target-value')}")
            else:
                self.report.unsupported(f"fencing-level {lv.get('id', '?')}", "target")
                continue
            devices = [d for d in lv.get("devices", "").split(",") if d]
            by_target.setdefault(key, []).append((int(lv.get("index", "0")), devices))
        counts: dict[str, int] = {}
        for i, ((field, target), levels) in enumerate(sorted(by_target.items())):
            spec: Doc = {"levels": [{"devices": d} for _, d in sorted(levels)]}
            if field == "nodeAttribute":
                name, _, value = target.partition("=")
                spec[field] = {"name": name, "value": value}
            else:
                spec[field] = target
            counts[field] = counts.get(field, 0) + 1
            name = f"fencing-{target}" if field == "node" else f"fencing-{field}-{counts[field]}"
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?", name):
                name = f"fencing-{i + 1}"
            self.docs.append(manifest("FencingTopology", name, spec))

    def other_sections(self) -> None:
        known = {
            "crm_config",
            "nodes",
            "resources",
            "constraints",
            "rsc_defaults",
            "op_defaults",
            "fencing-topology",
        }
        for child in self.conf:
            if child.tag not in known and len(child):
                self.report.unsupported("configuration", f"<{child.tag}>")
