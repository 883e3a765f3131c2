"""L4 adapter: run OCF, LSB, systemd and fence agents with Pacemaker's contracts.

Public API (what the daemon and the CLI use):

* :class:`Executor` — one node's executor: ``await run(OpRequest)``, ``probe_all``,
  ``start_monitor``/``stop_monitor``, ``events()`` (monitor changes and attribute updates);
* :class:`OpRequest`, :class:`AgentRef`, :func:`clone_meta`, :func:`notify_meta`;
* :class:`OpResult` with :class:`ExecStatus`, :class:`Severity`, :class:`Observed`;
* :class:`AgentCatalog` (installed agents, meta-data), :func:`check_resource_params`;
* :class:`SystemdManager` (system or user manager over D-Bus);
* :class:`AttributeUpdate` (a node attribute set by an agent through crm_attribute & co.).
"""

from reconciler.agents.attrd import AttributeUpdate
from reconciler.agents.catalog import AgentCatalog, check_resource_params, default_catalog
from reconciler.agents.executor import Executor, ExecutorEvent, MonitorEvent
from reconciler.agents.metadata import ActionSpec, AgentMetadata, ParamSpec, parse_metadata
from reconciler.agents.request import AgentRef, OpRequest, clone_meta, notify_meta
from reconciler.agents.results import ExecStatus, Observed, OcfRc, OpResult, Severity
from reconciler.agents.systemd import SystemdManager

__all__ = [
    "ActionSpec",
    "AgentCatalog",
    "AgentMetadata",
    "AgentRef",
    "AttributeUpdate",
    "ExecStatus",
    "Executor",
    "ExecutorEvent",
    "MonitorEvent",
    "Observed",
    "OcfRc",
    "OpRequest",
    "OpResult",
    "ParamSpec",
    "Severity",
    "SystemdManager",
    "check_resource_params",
    "clone_meta",
    "default_catalog",
    "notify_meta",
    "parse_metadata",
]
