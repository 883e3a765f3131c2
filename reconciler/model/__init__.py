"""The manifest language: models of every kind, YAML loading with located errors, validation.

Public API (stable; other layers code against it)::

    from reconciler.model import load_paths, load_text, validate_set, dump_yaml, ManifestSet

    mset = load_paths(["manifests/demo"])   # files, directories (*.yaml/*.yml, sorted,
                                            # recursive, hidden skipped) and "-" for stdin
    mset = load_text(text, "web.yaml")      # the same for text in memory
    # Both raise reconciler.base.errors.ValidationError carrying ALL Problems
    # (file, line, column, field path like "spec.operations[0].interval", message, hint).

    mset.resources["web"].spec.agent.standard        # "ocf" (AgentRef: standard/provider/type)
    mset.resources["web"].spec.operations[0].interval.milliseconds   # Duration, in ms
    mset.groups, mset.clones, mset.locations, mset.colocations, mset.orders,
    mset.fencing_devices, mset.fencing_topologies, mset.nodes   # Mapping[name, model], by name
    mset.cluster                                      # Cluster | None (a singleton)
    mset.objects                                      # every object, in input order
    mset.source(obj)                                  # Source(file, line, column, ...) or None
    mset.resource_like("web")                         # Resource | Group | Clone | None
    mset.problem(obj, ("spec", "node"), "message")    # a Problem located at that field

    validate_set(mset, extra=[checker, ...])  # cross-object problems; a checker is
                                              # Callable[[ManifestSet], list[Problem]]
    parse_paths(paths) / parse_text_set(text, source)  # (ManifestSet of the valid documents,
                                              # per-document problems): no cross-object checks
    dump_yaml(objects) -> str                 # round-trips: load_text(dump_yaml(objs)) == objs

Models are frozen pydantic v2 models: YAML names are camelCase (``migrationThreshold``), Python
attributes snake_case (``migration_threshold``). Scores are ints clamped to +/-1,000,000
(``reconciler.base.score``); durations are :class:`Duration` (``.milliseconds``). Optional meta
that defaults to a cluster-wide value (stickiness, migrationThreshold) is ``None`` when unset;
read the Cluster's ``default_*`` then. ``KINDS`` maps kind names to model classes.
"""

from reconciler.model.base import API_VERSION, LabelSelector, Manifest, ObjectMeta
from reconciler.model.cluster import Cluster, ClusterSpec, Node, NodeSpec
from reconciler.model.constraints import (
    Colocation,
    ColocationSpec,
    Location,
    LocationSpec,
    Order,
    OrderSpec,
    ResourceSet,
)
from reconciler.model.dump import dump_yaml, to_data
from reconciler.model.fencing import (
    FencingDevice,
    FencingDeviceSpec,
    FencingLevel,
    FencingTopology,
    FencingTopologySpec,
)
from reconciler.model.kinds import KINDS, RESOURCE_KINDS
from reconciler.model.loader import (
    load_paths,
    load_text,
    parse_paths,
    parse_text_set,
)
from reconciler.model.manifestset import ManifestSet, Source
from reconciler.model.resources import (
    Clone,
    CloneSpec,
    Group,
    GroupSpec,
    Operation,
    Resource,
    ResourceSpec,
)
from reconciler.model.rules import DateExpression, DateSpec, Expression, LocationRule, Rule
from reconciler.model.validation import CHECKERS, Checker, validate_set
from reconciler.model.values import AgentRef, Duration, Score

__all__ = [
    "API_VERSION",
    "CHECKERS",
    "KINDS",
    "RESOURCE_KINDS",
    "AgentRef",
    "Checker",
    "Clone",
    "CloneSpec",
    "Cluster",
    "ClusterSpec",
    "Colocation",
    "ColocationSpec",
    "DateExpression",
    "DateSpec",
    "Duration",
    "Expression",
    "FencingDevice",
    "FencingDeviceSpec",
    "FencingLevel",
    "FencingTopology",
    "FencingTopologySpec",
    "Group",
    "GroupSpec",
    "LabelSelector",
    "Location",
    "LocationRule",
    "LocationSpec",
    "Manifest",
    "ManifestSet",
    "Node",
    "NodeSpec",
    "ObjectMeta",
    "Operation",
    "Order",
    "OrderSpec",
    "Resource",
    "ResourceSet",
    "ResourceSpec",
    "Rule",
    "Score",
    "Source",
    "dump_yaml",
    "load_paths",
    "load_text",
    "parse_paths",
    "parse_text_set",
    "to_data",
    "validate_set",
]
