"""Cross-object validation: everything that needs more than one document to see.

``validate_set(mset)`` runs every checker in ``CHECKERS`` and returns all problems, sorted by
file and line. A checker is any ``Callable[[ManifestSet], list[Problem]]``; the CLI adds more
(e.g. parameters checked against installed agents' meta-data).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.base.errors import Problem
from reconciler.model.checks_constraints import check_conflicts, check_group_members
from reconciler.model.checks_fencing import check_fencing
from reconciler.model.checks_objects import check_cluster, check_duplicates, check_operations
from reconciler.model.checks_order import check_order_cycles
from reconciler.model.checks_refs import check_containment, check_references
from reconciler.model.manifestset import ManifestSet

Checker = Callable[[ManifestSet], list[Problem]]

CHECKERS: tuple[Checker, ...] = (
    check_duplicates,
    check_references,
    check_containment,
    check_operations,
    check_order_cycles,
    check_group_members,
    check_conflicts,
    check_fencing,
    check_cluster,
)


def validate_set(mset: ManifestSet, extra: Sequence[Checker] = ()) -> list[Problem]:
    """Every cross-object problem of ``mset`` (plus those ``extra`` checkers find), sorted."""
    problems: list[Problem] = []
    for checker in (*CHECKERS, *extra):
        problems.extend(checker(mset))
    unique = list(dict.fromkeys(problems))
    return sorted(
        unique,
        key=lambda p: (p.file or "", p.line or 0, p.column or 0, p.path or "", p.message),
    )
