"""A Pacemaker CIB (text) -> manifests + observed status + a report of what was left out.

Pure: the caller reads the file. Usage::

    result = import_cib(text, "cib.xml")
    result.manifests      # ManifestSet (every object checked on its own)
    result.status         # ObservedStatus
    result.history        # with light=True: the operation history as the scheduler's
                          # records (the nodes in ``status`` then carry none)
    result.warnings       # what was not carried over, each by name
    result.problems       # cross-object problems of the imported set (empty when it loads)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pydantic

from reconciler.base.errors import Problem, ValidationError
from reconciler.cib.common import Report, nvpairs, truthy
from reconciler.cib.import_config import ConfigReader
from reconciler.cib.import_status import StatusReader
from reconciler.cib.xmlread import LrmResource, parse_cib
from reconciler.model import KINDS, ManifestSet, validate_set
from reconciler.model.base import Manifest
from reconciler.model.status import NodeHistory, ObservedStatus


@dataclass(frozen=True, slots=True)
class CibImport:
    manifests: ManifestSet
    status: ObservedStatus
    warnings: tuple[str, ...]
    problems: tuple[Problem, ...]
    history: tuple[NodeHistory, ...] | None = None


def _describe(err: pydantic.ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{loc}: {e['msg']}" if loc else str(e["msg"]))
    return "; ".join(parts)


def import_cib(text: str | bytes, source: str = "<cib>", *, light: bool = False) -> CibImport:
    """Translate a whole CIB. Raises ValidationError only when the XML is not a CIB.

    ``light``: read the operation history straight into the scheduler's records
    (``history``) instead of into the status (for planning a large CIB; see StatusReader).
    """
    report = Report()
    readers: list[StatusReader] = []

    def on_node_state(ns: ET.Element, cib: ET.Element, lrm: list[LrmResource]) -> bool:
        conf = cib.find("configuration")
        if conf is None:
            return False  # the configuration comes later: read this one at the end
        if not readers:
            readers.append(StatusReader(conf, _stonith(conf), report, light=light))
        readers[0].add(ns, lrm)
        return True

    parsed = parse_cib(text, source, on_node_state)
    root = parsed.root
    if root.tag != "cib":
        raise ValidationError([Problem(f"root element is <{root.tag}>, not <cib>", file=source)])
    conf = root.find("configuration")
    if conf is None:
        raise ValidationError([Problem("no <configuration> in the CIB", file=source)])
    reader = ConfigReader(conf, report)
    reader.cluster()
    reader.nodes()
    reader.resources()
    reader.constraints()
    reader.fencing_topology()
    reader.other_sections()
    objects: list[Manifest] = []
    for doc in reader.docs:
        cls = KINDS[doc["kind"]]
        try:
            objects.append(cls.model_validate(doc))
        except pydantic.ValidationError as e:
            name = doc["metadata"]["name"]
            report.unsupported(f"{doc['kind']} {name}", "the object", _describe(e))
    if not readers:
        readers.append(StatusReader(conf, _stonith(conf), report, light=light))
    for ns, lrm in parsed.pending:
        readers[0].add(ns, lrm)  # only those read before the configuration was complete
    status = readers[0].result(root)
    mset, problems = _consistent(objects, report)
    history = tuple(readers[0].history) if light else None
    return CibImport(mset, status, tuple(report.warnings), problems, history)


def _stonith(conf: ET.Element) -> bool:
    props = nvpairs(conf.find("crm_config"), "cluster_property_set")
    return truthy(props.get("stonith-enabled", props.get("stonith_enabled")), True)


def _consistent(objects: list[Manifest], report: Report) -> tuple[ManifestSet, tuple[Problem, ...]]:
    """Drop objects that cross-object checks reject (each reported), until the set is valid."""
    for _ in range(8):
        mset = ManifestSet([(obj, None) for obj in objects])
        problems = validate_set(mset)
        if not problems:
            return mset, ()
        by_prefix = {f"{o.kind} {o.name}: ": o for o in objects}
        bad: dict[int, Manifest] = {}
        for problem in problems:
            for prefix, obj in by_prefix.items():
                if problem.message.startswith(prefix):
                    if id(obj) not in bad:
                        where = f"{obj.kind} {obj.name}"
                        detail = problem.message[len(prefix) :]
                        report.unsupported(where, "the object", detail)
                    bad[id(obj)] = obj
        if not bad:
            return mset, tuple(problems)
        objects = [o for o in objects if id(o) not in bad]
    mset = ManifestSet([(obj, None) for obj in objects])
    return mset, tuple(validate_set(mset))
