"""Reading a CIB's XML in one pass, without an element per operation record.

A converged CIB records a probe of every resource on every node: (64 nodes, 10000
resources) is 267 MB with 650,000 ``lrm_rsc_op`` elements. Building an ElementTree
element for each of them, and then a record from the element, costs about twice what
reading the attributes costs. So the document is read with expat directly: everything
is built as an ElementTree (the configuration, ``node_state`` with its transient
attributes) except the children of ``/cib/status/node_state/lrm/lrm_resources``, whose
``lrm_resource`` and ``lrm_rsc_op`` attributes are handed over as the mappings expat
makes, grouped per resource. Each ``node_state`` is handed to a callback as soon as it
ends and then dropped from the tree, so the status is never held whole.

Only the first ``lrm`` of a ``node_state`` and its first ``lrm_resources`` count, and
only ``lrm_rsc_op`` elements directly inside an ``lrm_resource``: what the element-based
reader looked at.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.parsers import expat

from reconciler.base.errors import Problem, ValidationError

#: one ``lrm_resource``: its attributes and those of each ``lrm_rsc_op`` in it, in order
LrmResource = tuple[dict[str, str], list[dict[str, str]]]
#: called with (node_state element, cib root, its lrm_resources); True: drop the element
NodeStateHandler = Callable[[ET.Element, ET.Element, list[LrmResource]], bool]


@dataclass
class ParsedCib:
    root: ET.Element
    #: node_states the handler did not take (it returned False), with their histories
    pending: list[tuple[ET.Element, list[LrmResource]]] = field(default_factory=list)


def refuse_dtd(text: str | bytes, source: str) -> None:
    head = text[:65536]
    doctype, entity = (
        ("<!DOCTYPE", "<!ENTITY") if isinstance(head, str) else (b"<!DOCTYPE", b"<!ENTITY")
    )
    if doctype in head[:4096] or entity in head:  # type: ignore[operator]
        raise ValidationError([Problem("DTDs and entities are not accepted in a CIB", file=source)])


def _fix(name: str) -> str:
    """expat's ``uri}local`` (namespace processing) -> ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def parse_cib(text: str | bytes, source: str, on_node_state: NodeStateHandler) -> ParsedCib:
    """Parse a whole CIB; a clear located error instead of a traceback on bad XML."""
    refuse_dtd(text, source)
    parser = expat.ParserCreate(None, "}")
    parser.buffer_text = True
    builder = ET.TreeBuilder()
    result: list[ParsedCib] = []
    tags: list[str] = []  # open elements outside the lrm_resources being read fast
    status: list[ET.Element] = []  # /cib/status, while it is open
    node: list[ET.Element] = []  # /cib/status/node_state, while it is open
    histories: list[LrmResource] = []  # of the open node_state
    lrm_seen = [0, 0]  # lrm elements in the open node_state, lrm_resources in the open lrm
    depth = 0  # inside the lrm_resources read fast: 1 = lrm_resource, 2 = lrm_rsc_op
    ops: list[dict[str, str]] | None = None
    target: list[LrmResource] = histories

    def fast_start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth, ops
        depth += 1
        if depth == 1:
            if tag == "lrm_resource":
                ops = []
                target.append((attrs, ops))
            else:
                ops = None
        elif depth == 2 and ops is not None and tag == "lrm_rsc_op":
            ops.append(attrs)

    def fast_end(tag: str) -> None:
        nonlocal depth
        if depth:
            depth -= 1
            return
        parser.StartElementHandler = start  # the end of lrm_resources
        parser.EndElementHandler = end
        parser.CharacterDataHandler = builder.data
        end(tag)

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal target, depth
        el = builder.start(_fix(tag), attrs)
        level = len(tags)
        tags.append(tag)
        if level == 0:
            result.append(ParsedCib(el))
        elif level == 1:
            if tag == "status":
                status.append(el)
        elif level == 2 and status and tag == "node_state":
            node.append(el)
            histories.clear()
            lrm_seen[0] = 0
        elif level == 3 and node and tag == "lrm":
            lrm_seen[0] += 1
            lrm_seen[1] = 0
        elif level == 4 and node and tags[3] == "lrm" and tag == "lrm_resources":
            lrm_seen[1] += 1
            first = lrm_seen[0] == 1 and lrm_seen[1] == 1
            target = histories if first else []
            depth = 0
            parser.StartElementHandler = fast_start
            parser.EndElementHandler = fast_end
            parser.CharacterDataHandler = None

    def end(tag: str) -> None:
        el = builder.end(_fix(tag))
        tags.pop()
        level = len(tags)
        if level == 2 and node and el is node[0]:
            node.clear()
            taken = list(histories)
            histories.clear()
            if on_node_state(el, result[0].root, taken):
                status[0].remove(el)
            else:
                result[0].pending.append((el, taken))
        elif level == 1 and status and el is status[0]:
            status.clear()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(text, True)
    except expat.ExpatError as e:
        message = f"{expat.ErrorString(e.code)}: line {e.lineno}, column {e.offset}"
        raise ValidationError(
            [
                Problem(
                    f"not well-formed XML: {message}",
                    file=source,
                    line=e.lineno,
                    column=e.offset + 1,
                )
            ]
        ) from None
    if not result:
        raise ValidationError([Problem("no XML element in the file", file=source)])
    builder.close()
    return result[0]
