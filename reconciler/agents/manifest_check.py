"""`hactl validate`'s check of manifests against the agents installed on this machine.

Each Resource's and FencingDevice's ``params`` are checked against its agent's
meta-data (unknown parameters with a did-you-mean hint, missing required ones,
values of the wrong type, agents that are not installed), and every problem is
located at the field in its file.
"""

from __future__ import annotations

from reconciler.agents.catalog import AgentCatalog, check_resource_params, default_catalog
from reconciler.base.errors import Problem
from reconciler.model import ManifestSet
from reconciler.model.base import Manifest
from reconciler.model.manifestset import FieldPath


def _field_path(path: str | None) -> FieldPath:
    if not path:
        return ("spec",)
    return tuple(path.split("."))


def check_installed_agents(mset: ManifestSet, catalog: AgentCatalog | None = None) -> list[Problem]:
    """Problems of every Resource and FencingDevice against the installed agents."""
    cat = catalog or default_catalog()
    problems: list[Problem] = []
    targets: list[tuple[Manifest, str, dict[str, str]]] = [
        (res, str(res.spec.agent), dict(res.spec.params)) for res in mset.resources.values()
    ]
    targets += [
        (
            dev,
            dev.spec.agent if ":" in dev.spec.agent else f"stonith:{dev.spec.agent}",
            dict(dev.spec.params),
        )
        for dev in mset.fencing_devices.values()
    ]
    for obj, agent, params in targets:
        for p in check_resource_params(agent, params, catalog=cat):
            problems.append(mset.problem(obj, _field_path(p.path), p.message, p.hint))
    return problems
