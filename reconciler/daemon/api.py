"""hactl's API, served by every hacd: apply, get, delete, view, runtime verbs, change feed.

Writes go to the store in one transaction with resourceVersion (mod revision)
checks, so an apply of many objects is all or nothing and never overwrites a
change it did not see.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from reconciler.base.errors import Conflict, HactlError, Problem, ValidationError
from reconciler.daemon import keys, selectors
from reconciler.daemon.commands import run_command
from reconciler.daemon.state import ClusterState, Snapshot, parse, read
from reconciler.daemon.view import build_view
from reconciler.gitops.records import syncs_view
from reconciler.model import KINDS, ManifestSet, validate_set
from reconciler.statestore.etcd import Cmp, Delete, Kv, Op, Put

SERVER_FIELDS = ("generation", "resourceVersion", "uid", "creationTimestamp")


def kind_of(text: str) -> str:
    """``resources``/``rsc``/``Resource`` → ``Resource``."""
    t = text.strip().lower()
    aliases = {
        "rsc": "Resource",
        "res": "Resource",
        "resources": "Resource",
        "groups": "Group",
        "clones": "Clone",
        "locations": "Location",
        "colocations": "Colocation",
        "orders": "Order",
        "nodes": "Node",
        "fencingdevices": "FencingDevice",
        "fencingtopologies": "FencingTopology",
        "clusters": "Cluster",
    }
    if t in aliases:
        return aliases[t]
    for k in KINDS:
        if k.lower() == t or k.lower() + "s" == t:
            return k
    raise ValidationError(
        [Problem(f"unknown kind {text!r}", hint="one of " + ", ".join(sorted(KINDS)))]
    )


def _spec_only(doc: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (doc.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    return {"metadata": meta, "spec": doc.get("spec")}


def _problems_of(e: Exception, where: str) -> list[Problem]:
    if isinstance(e, ValidationError):
        return list(e.problems)
    errors = getattr(e, "errors", None)
    if callable(errors):
        return [
            Problem(
                str(err.get("msg")),
                file=where,
                path=".".join(str(x) for x in err.get("loc", ())),
            )
            for err in errors()
        ]
    return [Problem(str(e), file=where)]


class Api:
    def __init__(
        self, kv: Kv, node: str, local: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        """``local``: this hacd's own view of its node, without the store (NodeStatus)."""
        self.kv = kv
        self.node = node
        self._local = local
        self._transition = ""

    def node_status(self) -> str:
        """This node as its hacd sees it, when the store may not answer (no quorum):
        ``hactl status`` says why a node waits instead of only "no hacd answered"."""
        doc = self._local() if self._local is not None else {"node": self.node}
        return json.dumps(doc, sort_keys=True)

    # ------------------------------------------------------------------ apply
    async def apply(
        self, documents_json: str, dry_run: bool, prune: bool, selector: str, source: str
    ) -> tuple[str, int, str, str]:
        self._transition = ""
        try:
            result, rev = await self._apply(
                json.loads(documents_json), dry_run, prune, selector, source
            )
        except HactlError as e:
            return "", 0, str(e), ""
        except ValueError as e:
            return "", 0, f"{source}: not a JSON list of documents: {e}", ""
        return json.dumps(result), rev, "", self._transition

    async def _apply(
        self, docs: list[dict[str, Any]], dry_run: bool, prune: bool, selector: str, source: str
    ) -> tuple[list[dict[str, str]], int]:
        if not isinstance(docs, list):
            raise ValidationError([Problem("expected a list of documents", file=source)])
        problems: list[Problem] = []
        incoming: dict[tuple[str, str], dict[str, Any]] = {}
        models = []
        for i, doc in enumerate(docs):
            kind = str(doc.get("kind", "")) if isinstance(doc, dict) else ""
            cls = KINDS.get(kind)
            where = f"{source}[{i}]"
            if cls is None:
                problems.append(Problem(f"unknown kind {kind!r}", file=where, path="kind"))
                continue
            try:
                obj = cls.model_validate(doc)
            except Exception as e:  # pydantic's error: located per field below
                problems.extend(_problems_of(e, where))
                continue
            key = (kind, obj.metadata.name)
            if key in incoming:
                problems.append(Problem(f"{kind}/{obj.metadata.name} given twice", file=where))
            incoming[key] = doc
            models.append(obj)
        if problems:
            raise ValidationError(problems)
        state = await read(self.kv)
        current: dict[tuple[str, str], dict[str, Any]] = {}
        for kind in KINDS:
            for d in state.objects(kind):
                current[(kind, d["metadata"]["name"])] = d
        prune_keys: list[tuple[str, str]] = []
        if prune:
            selectors.check(selector)
            prune_keys = sorted(
                k
                for k, d in current.items()
                if k not in incoming
                and selectors.matches(selector, (d.get("metadata") or {}).get("labels") or {})
            )
        merged = []
        for k, d in sorted(current.items()):
            if k in incoming or k in prune_keys:
                continue
            try:
                merged.append(KINDS[k[0]].model_validate(d))
            except Exception:
                continue
        mset = ManifestSet([(m, None) for m in [*merged, *models]])
        problems = validate_set(mset)
        if problems:
            raise ValidationError(problems)
        result: list[dict[str, str]] = []
        ops: list[Op] = []
        compares: list[Cmp] = []
        now_iso = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for k in sorted(incoming):
            doc = dict(incoming[k])
            old = current.get(k)
            meta = {
                kk: vv for kk, vv in (doc.get("metadata") or {}).items() if kk not in SERVER_FIELDS
            }
            if old is None:
                action = "created"
                meta.update(generation=1, uid=str(uuid.uuid4()), creationTimestamp=now_iso)
                compares.append(Cmp(keys.desired(*k), "create", "==", 0))
            else:
                om = old.get("metadata") or {}
                given_rv = (doc.get("metadata") or {}).get("resourceVersion")
                if given_rv and str(given_rv) != str(om.get("resourceVersion")):
                    raise Conflict(
                        f"{k[0]}/{k[1]}: resourceVersion {given_rv} is stale "
                        f"(now {om.get('resourceVersion')}); get it again and retry"
                    )
                same = _spec_only({**doc, "metadata": meta}) == _spec_only(old)
                action = "unchanged" if same else "configured"
                gen = int(om.get("generation") or 1) + (0 if same else 1)
                meta.update(
                    generation=gen,
                    uid=om.get("uid") or str(uuid.uuid4()),
                    creationTimestamp=om.get("creationTimestamp") or now_iso,
                )
                compares.append(
                    Cmp(keys.desired(*k), "mod", "==", int(om.get("resourceVersion") or 0))
                )
            result.append({"kind": k[0], "name": k[1], "action": action})
            if action != "unchanged":
                doc["metadata"] = meta
                doc.pop("status", None)
                ops.append(Put(keys.desired(*k), json.dumps(doc, sort_keys=True).encode()))
        for k in prune_keys:
            ops.append(Delete(keys.desired(*k)))
            compares.append(
                Cmp(
                    keys.desired(*k),
                    "mod",
                    "==",
                    int(current[k]["metadata"].get("resourceVersion") or 0),
                )
            )
            result.append({"kind": k[0], "name": k[1], "action": "pruned"})
        if dry_run:
            self._transition = self._predict(state, incoming, prune_keys)
        if dry_run or not ops:
            return result, state.revision
        ok, rev = await self.kv.txn(compares, ops)
        if not ok:
            raise Conflict("the cluster changed while applying; nothing was written, apply again")
        return result, rev

    def _predict(
        self,
        state: ClusterState,
        incoming: dict[tuple[str, str], dict[str, Any]],
        pruned: list[tuple[str, str]],
    ) -> str:
        """The Transition Summary the coordinator would plan once this apply is written."""
        from reconciler.daemon.scheduling import transition_summary

        future = copy.deepcopy(state)
        for kind, name in pruned:
            future.desired.get(kind.lower(), {}).pop(name, None)
        for (kind, name), doc in incoming.items():
            future.desired.setdefault(kind.lower(), {})[name] = doc
        try:
            return transition_summary(future, time.time())
        except Exception as e:  # the prediction is a courtesy; the apply result stands
            return f"  (no prediction: {e})"

    # ------------------------------------------------------------------ read
    async def get(self, kind: str, name: str, selector: str) -> tuple[str, int, str]:
        try:
            k = kind_of(kind)
            state = await read(self.kv)
        except HactlError as e:
            return "", 0, str(e)
        objs = [
            d
            for d in state.objects(k)
            if (not name or d["metadata"]["name"] == name)
            and (
                not selector
                or selectors.matches(selector, (d.get("metadata") or {}).get("labels") or {})
            )
        ]
        if name and not objs:
            return "", state.revision, f"{k}/{name} not found"
        return json.dumps(objs), state.revision, ""

    async def delete(self, kind: str, name: str, selector: str) -> tuple[str, str]:
        try:
            k = kind_of(kind)
            state = await read(self.kv)
        except HactlError as e:
            return "", str(e)
        victims = [
            d
            for d in state.objects(k)
            if (not name or d["metadata"]["name"] == name)
            and (
                not selector
                or selectors.matches(selector, (d.get("metadata") or {}).get("labels") or {})
            )
        ]
        if name and not victims:
            return "", f"{k}/{name} not found"
        if not victims:
            return "[]", ""
        ops: list[Op] = [Delete(keys.desired(k, d["metadata"]["name"])) for d in victims]
        ok, _ = await self.kv.txn([], ops)
        del ok
        return json.dumps(
            [{"kind": k, "name": d["metadata"]["name"], "action": "deleted"} for d in victims]
        ), ""

    async def view(self) -> tuple[str, int]:
        """The status view, from one range of every hactl key (one consistent revision,
        one linearizable read instead of one per tree)."""
        entries, revision = await self.kv.range(keys.ALL)
        snap = Snapshot(entries, revision)
        state = parse(snap.under(keys.ROOT), revision)
        view = build_view(state, snap.under(keys.EVENTS), time.time())
        history = []
        for e in snap.under(keys.FENCING_HISTORY)[-200:]:
            try:
                rec = json.loads(e.value)
            except ValueError:
                continue
            history.append({"node": keys.split(e.key, keys.FENCING_HISTORY)[0], **rec})
        view["fencingHistory"] = history
        view["syncs"] = await syncs_view(snap)
        return json.dumps(view), state.revision

    async def command(self, verb: str, args_json: str) -> tuple[str, str]:
        try:
            args = json.loads(args_json or "{}")
            result = await run_command(self.kv, verb, args)
        except HactlError as e:
            return "", str(e)
        except ValueError as e:
            return "", f"bad arguments: {e}"
        return json.dumps(result), ""

    async def changes(self, prefix: str) -> AsyncIterator[int]:
        _, rev = await self.kv.range(keys.ELECTION)
        async for evs in self.kv.watch(prefix or keys.ROOT, rev + 1):
            yield evs[-1].mod_revision
