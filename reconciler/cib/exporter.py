"""Manifests (+ observed status) -> the text of a CIB that crm_simulate accepts. Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reconciler.cib.export_config import Ids, configuration, node_ids
from reconciler.cib.export_status import status_element
from reconciler.model import ManifestSet
from reconciler.model.status import ObservedStatus, all_online

#: the newest schema and feature set Pacemaker 2.1.5 (Debian 12) accepts
VALIDATE_WITH = "pacemaker-3.7"
FEATURE_SET = "3.16.1"


def export_cib(mset: ManifestSet, status: ObservedStatus | None = None) -> str:
    """The whole CIB as XML text. Without a status every node is written as online."""
    observed = [n.name for n in status.nodes] if status is not None else []
    node_id = node_ids(mset, observed)
    root = ET.Element(
        "cib",
        {
            "validate-with": VALIDATE_WITH,
            "crm_feature_set": FEATURE_SET,
            "admin_epoch": "0",
            "epoch": "1",
            "num_updates": "0",
        },
    )
    if status is not None:
        root.set("have-quorum", "1" if status.have_quorum else "0")
        if status.dc_node is not None and status.dc_node in node_id:
            root.set("dc-uuid", node_id[status.dc_node])
        if status.now is not None:
            root.set("execution-date", str(status.now))
    else:
        root.set("have-quorum", "1")
    configuration(root, mset, node_id, Ids())
    if status is None:
        status = all_online(list(node_id))
    status_element(root, mset, status, node_id)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"
