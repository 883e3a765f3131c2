"""Our manifests' meta fields as Pacemaker's meta attributes (``resource-stickiness``, …).

One translation, used wherever a manifest meets Pacemaker's vocabulary: the
scheduler's input (``scheduler/from_model.py``) and the CIB export
(``cib/export_config.py``). Only values that differ from Pacemaker's defaults
are written.
"""

from __future__ import annotations

from reconciler.base import score as scores
from reconciler.model.resources import CloneSpec, Resource

# Annotations that carry what a CIB had and our manifests do not model, so that an
# imported cluster exports (and plans) with the same ids.
NODE_ID_ANNOTATION = "pacemaker.clusterlabs.org/node-id"
SET_IDS_ANNOTATION = "pacemaker.clusterlabs.org/set-ids"


def ms_text(ms: int) -> str:
    """Milliseconds as Pacemaker reads them back: ``10s`` or ``1500ms``."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def common_meta(spec: object) -> dict[str, str]:
    """The meta attributes every resource kind has (stickiness, target role, …)."""
    meta: dict[str, str] = {}
    stickiness = getattr(spec, "stickiness", None)
    if stickiness is not None:
        meta["resource-stickiness"] = scores.render(stickiness)
    target = str(getattr(spec, "target_role", "Started"))
    if target != "Started":
        meta["target-role"] = target
    if not getattr(spec, "managed", True):
        meta["is-managed"] = "false"
    if getattr(spec, "maintenance", False):
        meta["maintenance"] = "true"
    if getattr(spec, "priority", 0):
        meta["priority"] = str(getattr(spec, "priority", 0))
    return meta


def primitive_meta(res: Resource) -> dict[str, str]:
    spec = res.spec
    meta = common_meta(spec)
    if spec.migration_threshold is not None:
        meta["migration-threshold"] = scores.render(spec.migration_threshold)
    if spec.failure_timeout is not None:
        meta["failure-timeout"] = ms_text(spec.failure_timeout.milliseconds)
    if spec.allow_migrate:
        meta["allow-migrate"] = "true"
    if not spec.critical:
        meta["critical"] = "false"
    if spec.multiple_active != "stop_start":
        meta["multiple-active"] = spec.multiple_active
    if spec.requires is not None:
        meta["requires"] = spec.requires
    return meta


def clone_meta(spec: CloneSpec) -> dict[str, str]:
    meta = common_meta(spec)
    for key, value in (
        ("clone-max", spec.max),
        ("clone-min", spec.min_active),
        ("promoted-max", spec.promoted_max),
        ("promoted-node-max", spec.promoted_per_node_max),
    ):
        if value is not None:
            meta[key] = str(value)
    if spec.per_node_max != 1:
        meta["clone-node-max"] = str(spec.per_node_max)
    for key, flag in (
        ("interleave", spec.interleave),
        ("globally-unique", spec.globally_unique),
        ("ordered", spec.ordered),
        ("notify", spec.notify),
        ("promotable", spec.promotable),
    ):
        if flag:
            meta[key] = "true"
    return meta
