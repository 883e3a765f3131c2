"""The scheduler's input: desired configuration plus observed state, as immutable values.

These types mirror what a Pacemaker CIB can express, so that a CIB maps onto them
one to one (``reconciler.cib`` reads a CIB into manifests + observed status and
``reconciler.scheduler.from_model`` builds these values; the conformance tests
build them straight from the CIB XML and both paths must agree).

Conventions (contract for producers of this input)
--------------------------------------------------
* Every collection is a tuple, in the order the CIB lists it (document order
  matters for some tie-breaks: nodes, resources and constraints keep it).
* ``meta`` / ``params`` / node ``attributes`` are ``Mapping[str, str]`` holding
  the *raw* Pacemaker names and string values (``resource-stickiness``,
  ``migration-threshold``, ``target-role``, ``clone-max``, ``promoted-max`` /
  ``master-max``, ``interleave``, ``globally-unique``, ``is-managed``,
  ``failure-timeout``, ``multiple-active``, ``priority``, ``requires``,
  ``allow-migrate``, ``maintenance`` ...). The scheduler parses and defaults
  them (units like ``60s``/``2min`` included). Resource-level ``meta`` must
  already be merged with nothing: the ``rsc_defaults`` go in
  :attr:`ClusterOptions.rsc_defaults` and ``op_defaults`` in
  :attr:`ClusterOptions.op_defaults`; the scheduler applies them.
* Scores are ints already clamped to +/-1,000,000 (``reconciler.base.score``).
* Times are integer seconds since the epoch; ``now`` is an argument of
  ``plan()``, never read from a clock. Intervals/timeouts are milliseconds.
* Rules are kept unevaluated (:class:`Rule`); the scheduler evaluates them
  against node attributes (``#uname``, ``#id``, ``#kind``, ``#is_dc`` are
  added by the scheduler) and ``now``.
* Node state: ``online`` means the node is a full member able to run
  resources. ``unclean`` means its state is unknown and it must be fenced
  before its resources can be recovered elsewhere. From a CIB
  ``node_state`` (Pacemaker's ``determine_online_status_fencing``):
  - ``in_ccm`` true and ``crmd="online"`` and ``join="member"`` -> online;
  - ``in_ccm`` true, ``crmd`` online, join not member/expected down and
    ``join="down"`` or pending -> offline (not unclean) ... see
    ``tests/conformance/cib_reader.py`` for the exact table we use;
  - ``in_ccm`` false/absent with ``expected="member"`` (or ``join="member"``)
    -> offline and *unclean* (when stonith is enabled), otherwise offline;
  - a node with no ``node_state`` at all: offline, clean, unless
    ``startup-fencing`` is true and stonith enabled -> unclean.
  ``shutdown`` is true when the transient attribute ``shutdown`` is non-zero.
  ``standby`` / ``maintenance`` are the node attributes of those names
  (configured instance attributes or transient ones, transient wins).
* Operation history (:class:`OpRecord`) is the ``lrm_rsc_op`` list per
  resource per node, unsorted is fine (the scheduler sorts by ``call_id``;
  ``call_id`` -1 means pending/in flight). ``expected_rc`` is the target rc
  from the ``transition-key`` (third field), default 0 (7 for probes is NOT
  assumed: give it explicitly when known).
* Failcounts: one :class:`FailCount` per ``fail-count-<rsc>#<op>_<interval>``
  (or legacy ``fail-count-<rsc>``) transient attribute, with the matching
  ``last-failure-...`` time. Promotion scores ``master-<rsc>`` stay in
  :attr:`NodeState.transient_attributes`.

Changes are recorded at the bottom of this docstring (newest last).

Change log
----------
* v1: initial contract.
* v1.1: mapping defaults via default_factory (v1 failed at import time).
* v1.2: ``NodeState.unclean_reason`` (additive; ``#unclean-reason`` still read).
* v1.3: ``Primitive.params_digest`` (additive, optional).
* v1.4: :class:`OpRecord` and :class:`ResourceHistory` are named tuples defined in
  ``reconciler.model.status`` (``OpRecord``, ``NodeHistory``) and re-exported here
  unchanged, so that a CIB's status is read straight into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from reconciler.base.score import Score
from reconciler.model import status as _status

#: the history records, defined with the observed status (see the v1.4 change above)
OpRecord = _status.OpRecord
ResourceHistory = _status.NodeHistory

EMPTY: Mapping[str, str] = MappingProxyType({})
EMPTY_INT: Mapping[str, int] = MappingProxyType({})


def _empty() -> Mapping[str, str]:
    return EMPTY


def _empty_int() -> Mapping[str, int]:
    return EMPTY_INT


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class Expression:
    """``<expression attribute= operation= value= type= value-source=>``.

    ``operation``: lt, gt, lte, gte, eq, ne, defined, not_defined.
    ``type``: string, integer, number, version (``None``: Pacemaker's default
    guess: number if both sides parse as numbers, else string).
    ``value_source``: literal, param, meta.
    """

    attribute: str
    operation: str
    value: str | None = None
    type: str | None = None
    value_source: str = "literal"


@dataclass(frozen=True, slots=True)
class DateSpec:
    """``<date_spec>`` fields as ranges like ``"1-5"`` or single values; ``None`` = any."""

    hours: str | None = None
    monthdays: str | None = None
    weekdays: str | None = None
    yeardays: str | None = None
    months: str | None = None
    weeks: str | None = None
    years: str | None = None
    weekyears: str | None = None
    moon: str | None = None


@dataclass(frozen=True, slots=True)
class DateExpression:
    """``<date_expression operation= start= end=>`` with optional duration / date_spec.

    ``operation``: in_range, gt, lt, date_spec. ``start``/``end`` are ISO 8601
    strings as written in the CIB. ``duration`` maps years/months/weeks/days/
    hours/minutes/seconds to integer strings.
    """

    operation: str
    start: str | None = None
    end: str | None = None
    duration: Mapping[str, str] | None = None
    date_spec: DateSpec | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """``<rule score= score-attribute= boolean-op= role=>`` with nested expressions.

    ``score`` applies when the rule matches (top-level rules of a location
    constraint); ``score_attribute`` names a node attribute whose value is the
    score. ``role`` restricts a location rule to instances in that role
    (``Promoted``/``Unpromoted``; legacy ``Master``/``Slave`` accepted).
    """

    id: str
    expressions: tuple[Expression | DateExpression | Rule, ...] = ()
    boolean_op: str = "and"
    score: Score | None = None
    score_attribute: str | None = None
    role: str | None = None


# ----------------------------------------------------------------------- cluster


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """``crm_config`` properties plus ``rsc_defaults`` / ``op_defaults`` meta.

    ``no_quorum_policy``: stop, freeze, ignore, demote, suicide.
    ``placement_strategy``: default, utilization, minimal, balanced.
    ``rsc_defaults`` / ``op_defaults``: raw meta attribute names and values.
    ``properties`` keeps every crm_config nvpair as written (for options not
    lifted into a field).
    """

    symmetric_cluster: bool = True
    stonith_enabled: bool = True
    stonith_action: str = "reboot"
    no_quorum_policy: str = "stop"
    placement_strategy: str = "default"
    maintenance_mode: bool = False
    stop_all_resources: bool = False
    start_failure_is_fatal: bool = True
    startup_fencing: bool = True
    concurrent_fencing: bool = False
    stop_orphan_resources: bool = True
    stop_orphan_actions: bool = True
    node_health_strategy: str = "none"
    rsc_defaults: Mapping[str, str] = field(default_factory=_empty)
    op_defaults: Mapping[str, str] = field(default_factory=_empty)
    properties: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Node:
    """A configured node (``<node id= uname= type=>``).

    ``attributes``: configured instance attributes (rules see these merged with
    the transient ones from :class:`NodeState`, transient winning).
    ``utilization``: capacities by name (integers).
    ``score``: the node's base score (``<node score=>``, rarely used).
    ``kind``: member, remote.
    """

    name: str
    id: str
    kind: str = "member"
    attributes: Mapping[str, str] = field(default_factory=_empty)
    utilization: Mapping[str, int] = field(default_factory=_empty_int)
    score: int = 0


# ---------------------------------------------------------------------- resources


@dataclass(frozen=True, slots=True)
class Operation:
    """One configured ``<op name= interval= timeout= role= on-fail=>``.

    ``interval_ms`` 0 for start/stop/promote/demote/probe-like ops.
    ``role``: Promoted/Unpromoted/Started/None. ``on_fail``: restart, ignore,
    block, stop, standby, fence, demote, restart-container (``None``: default).
    ``meta``: any further op attributes/meta (``enabled``, ``record-pending``,
    ``requires``...).
    """

    name: str
    interval_ms: int = 0
    timeout_ms: int | None = None
    role: str | None = None
    on_fail: str | None = None
    meta: Mapping[str, str] = field(default_factory=_empty)
    id: str = ""


@dataclass(frozen=True, slots=True)
class Primitive:
    """``<primitive id= class= provider= type=>``; ``cls`` is ocf/lsb/systemd/stonith/service.

    ``params_digest``: digest of ``params`` computed the same way as the
    ``op_digest`` recorded in the operation history (Pacemaker's op-digest for
    CIB input). When both are known and the latest start's digest differs,
    the resource is restarted "due to resource definition change".
    ``None`` disables the check.
    """

    id: str
    cls: str
    type: str
    provider: str | None = None
    params: Mapping[str, str] = field(default_factory=_empty)
    meta: Mapping[str, str] = field(default_factory=_empty)
    utilization: Mapping[str, int] = field(default_factory=_empty_int)
    operations: tuple[Operation, ...] = ()
    params_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """``<group>``: members start in order and are colocated with the previous one."""

    id: str
    members: tuple[Primitive, ...]
    meta: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Clone:
    """``<clone>`` or ``<master>``/promotable clone of a primitive or a group.

    ``promotable`` is true for ``<master>`` or meta ``promotable=true``.
    ``meta`` carries clone-max, clone-node-max, promoted-max (master-max),
    promoted-node-max, globally-unique, interleave, ordered, notify ...
    """

    id: str
    child: Primitive | Group
    meta: Mapping[str, str] = field(default_factory=_empty)
    promotable: bool = False


Resource = Primitive | Group | Clone


# -------------------------------------------------------------------- constraints


@dataclass(frozen=True, slots=True)
class ResourceSet:
    """``<resource_set sequential= require-all= role= action=>`` of resource ids."""

    id: str
    resources: tuple[str, ...]
    sequential: bool = True
    require_all: bool = True
    role: str | None = None
    action: str | None = None
    score: Score | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """``<rsc_location rsc= node= score= role= resource-discovery=>`` or with rules.

    Exactly one of ``rsc`` / ``rsc_pattern`` / ``sets``. Either ``node`` with
    ``score``, or ``rules`` (each rule carries its score).
    ``resource_discovery``: always, never, exclusive.
    """

    id: str
    rsc: str | None = None
    rsc_pattern: str | None = None
    sets: tuple[ResourceSet, ...] = ()
    node: str | None = None
    score: Score | None = None
    rules: tuple[Rule, ...] = ()
    role: str | None = None
    resource_discovery: str = "always"


@dataclass(frozen=True, slots=True)
class Colocation:
    """``<rsc_colocation rsc= with-rsc= score= rsc-role= with-rsc-role=>`` or sets.

    ``rsc`` (the dependent) is placed after and relative to ``with_rsc``
    (the primary). ``node_attribute`` defaults to ``#uname``.
    """

    id: str
    score: Score
    rsc: str | None = None
    with_rsc: str | None = None
    rsc_role: str | None = None
    with_rsc_role: str | None = None
    node_attribute: str = "#uname"
    sets: tuple[ResourceSet, ...] = ()
    influence: bool | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """``<rsc_order first= then= first-action= then-action= kind= symmetrical=>`` or sets.

    ``kind``: Mandatory, Optional, Serialize (``None`` with ``score``: legacy
    score semantics, 0 = Optional, otherwise Mandatory). ``symmetrical``
    ``None`` means the default (true except for Serialize).
    """

    id: str
    first: str | None = None
    then: str | None = None
    first_action: str | None = None
    then_action: str | None = None
    kind: str | None = None
    score: Score | None = None
    symmetrical: bool | None = None
    require_all: bool = True
    sets: tuple[ResourceSet, ...] = ()


@dataclass(frozen=True, slots=True)
class FencingLevel:
    """``<fencing-level target= index= devices=>`` (devices comma separated in the CIB)."""

    target: str
    index: int
    devices: tuple[str, ...]


# ---------------------------------------------------------------------- observed


@dataclass(frozen=True, slots=True)
class FailCount:
    """``fail-count-<rsc>#<op>_<interval>`` on a node; ``last_failure`` epoch seconds."""

    resource: str
    node: str
    count: Score
    operation: str | None = None
    interval_ms: int | None = None
    last_failure: int | None = None


@dataclass(frozen=True, slots=True)
class NodeState:
    """Observed state of one node (``node_state`` + ``transient_attributes``).

    ``unclean_reason`` is the text of the fencing line when ``unclean`` (e.g.
    "peer is no longer part of the cluster"); the older convention of a
    ``#unclean-reason`` transient attribute is still read when it is ``None``.
    ``pending``: member but not yet ready to run resources (join pending/down).
    """

    name: str
    online: bool
    unclean: bool = False
    shutdown: bool = False
    standby: bool = False
    maintenance: bool = False
    pending: bool = False
    transient_attributes: Mapping[str, str] = field(default_factory=_empty)
    unclean_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything observed about the cluster."""

    nodes: tuple[NodeState, ...] = ()
    history: tuple[ResourceHistory, ...] = ()
    failcounts: tuple[FailCount, ...] = ()
    have_quorum: bool = True
    dc: str | None = None


# --------------------------------------------------------------------- the input


@dataclass(frozen=True, slots=True)
class SchedulerInput:
    """The whole input of ``plan(input, now)``."""

    options: ClusterOptions
    nodes: tuple[Node, ...]
    resources: tuple[Resource, ...]
    locations: tuple[Location, ...] = ()
    colocations: tuple[Colocation, ...] = ()
    orders: tuple[Order, ...] = ()
    fencing_levels: tuple[FencingLevel, ...] = ()
    observed: Observed = field(default_factory=Observed)
