"""Pacemaker's operation digests (``op-digest``), so exported history matches its config.

Pacemaker records, with every operation result, an MD5 over the resource's
parameters as they were when the operation ran. When the digest it computes
from the current configuration differs (or is missing), it restarts the
resource "due to resource definition change". An exported status must carry
the digest of the configuration it is exported with, or crm_simulate would
restart everything.

The digest is the MD5 of ``" <parameters a="1" b="2"/>\\n"`` with the
parameters sorted by name, after dropping every ``CRM_meta_*`` attribute except
the timeout of a recurring operation (Pacemaker's ``pcmk__filter_op_for_digest``
and ``calculate_operation_digest``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def _escape(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def parameters_xml(params: Mapping[str, str]) -> str:
    if not params:
        return "<parameters/>"
    attrs = " ".join(f'{name}="{_escape(params[name])}"' for name in sorted(params))
    return f"<parameters {attrs}/>"


def op_digest(
    params: Mapping[str, str], interval_ms: int = 0, timeout_ms: int | None = None
) -> str:
    """The ``op-digest`` Pacemaker expects for an operation with these parameters."""
    values = dict(params)
    if interval_ms and timeout_ms is not None:
        values["CRM_meta_timeout"] = str(timeout_ms)
    text = f" {parameters_xml(values)}\n"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
