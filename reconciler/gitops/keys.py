"""Store key layout of desired objects and of GitOps watchers (see docs/gitops.md).

::

    /hactl/desired/<kind>/<name>             one desired object, JSON (kind lower-cased)
    /hactl/gitops/<watcher>/inventory        JSON: what this watcher applied
    /hactl/gitops/<watcher>/status           JSON: the watcher's status record
    /hactl/gitops/<watcher>/suspend          present = suspended (any value)
    /hactl/gitops/<watcher>/reconcile        a request to reconcile now (mod revision = request)
    /hactl/gitops/<watcher>/events/<seq>     JSON events, seq zero-padded, bounded retention

An object's resourceVersion is the mod revision of its key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DESIRED_PREFIX = "/hactl/desired/"
GITOPS_PREFIX = "/hactl/gitops/"

_WATCHER_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """Identity of a desired object: its kind (as in manifests, e.g. ``Resource``) and name."""

    kind: str
    name: str

    def store_key(self) -> str:
        return f"{DESIRED_PREFIX}{self.kind.lower()}/{self.name}"

    def render(self) -> str:
        return f"{self.kind}/{self.name}"


def check_watcher_name(name: str) -> str:
    """Return ``name`` if it is a valid watcher name (a DNS label), else raise ValueError."""
    if not _WATCHER_NAME.match(name):
        raise ValueError(
            f"invalid sync name {name!r}: use lower-case letters, digits and '-', "
            "at most 63 characters, starting and ending with a letter or digit"
        )
    return name


def watcher_name_from_directory(basename: str) -> str:
    """A valid default watcher name derived from a directory's base name."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", basename.lower()).strip("-")[:63].strip("-")
    return cleaned or "sync"


def watcher_prefix(watcher: str) -> str:
    return f"{GITOPS_PREFIX}{watcher}/"


def inventory_key(watcher: str) -> str:
    return watcher_prefix(watcher) + "inventory"


def status_key(watcher: str) -> str:
    return watcher_prefix(watcher) + "status"


def suspend_key(watcher: str) -> str:
    return watcher_prefix(watcher) + "suspend"


def reconcile_key(watcher: str) -> str:
    return watcher_prefix(watcher) + "reconcile"


def events_prefix(watcher: str) -> str:
    return watcher_prefix(watcher) + "events/"


def event_key(watcher: str, seq: int) -> str:
    return f"{events_prefix(watcher)}{seq:012d}"
