"""The runtime verbs: cleanup, refresh, move, ban, clear, standby, maintenance, enable, fence.

They change runtime state (failcounts, history, node attributes, ``cli-``
location overrides labelled ``hactl.io/origin: cli``), never the user's
manifests, except enable/disable which set the target role.
"""

from __future__ import annotations

import json
import time
from typing import Any

from reconciler.base.errors import HactlError, Problem, ValidationError
from reconciler.daemon import keys
from reconciler.daemon.state import active_nodes, read
from reconciler.statestore.etcd import Cmp, Delete, Kv, Op, Put


def _need(args: dict[str, Any], name: str) -> str:
    v = args.get(name)
    if not v:
        raise ValidationError([Problem(f"missing {name}", path=name)])
    return str(v)


def _location(name: str, rsc: str, node: str, score: str, lifetime: str | None) -> bytes:
    spec: dict[str, Any] = {"resource": rsc, "node": node, "score": score}
    if lifetime:
        spec["lifetime"] = lifetime
    doc = {
        "apiVersion": "hactl.io/v1",
        "kind": "Location",
        "metadata": {
            "name": name,
            "labels": {"hactl.io/origin": "cli"},
            "annotations": {"hactl.io/created-at": str(time.time())},
            "generation": 1,
        },
        "spec": spec,
    }
    return json.dumps(doc, sort_keys=True).encode()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower())[:63]


async def run_command(kv: Kv, verb: str, args: dict[str, Any]) -> dict[str, Any]:
    state = await read(kv)
    known = set(state.desired.get("resource", {})) | set(state.desired.get("group", {}))
    ops: list[Op] = []
    cmps: list[Cmp] = []
    msg = ""
    rsc = str(args.get("resource") or "")
    if rsc and rsc not in known:
        raise HactlError(f"resource {rsc!r} not found")
    nodes_known = set(state.live) | set(state.histories) | set(state.desired.get("node", {}))
    node = str(args.get("node") or "")
    if node and node not in nodes_known:
        raise HactlError(f"node {node!r} not found")
    if verb == "export":
        # the live state as files: manifests (YAML) and the observed status (for simulate)
        from reconciler.daemon.state import node_names, observed_status
        from reconciler.model.status import to_document

        nodes = node_names(state, state.live)
        status = to_document(observed_status(state, nodes, time.time()))
        docs = []
        for kind in sorted(state.desired):
            for name in sorted(state.desired[kind]):
                doc = json.loads(json.dumps(state.desired[kind][name]))
                meta = doc.get("metadata") or {}
                for server_field in ("generation", "resourceVersion", "uid", "creationTimestamp"):
                    meta.pop(server_field, None)
                docs.append(doc)
        return {
            "message": "exported",
            "manifests": docs,
            "status": status,
            "revision": state.revision,
        }
    if verb in ("cleanup", "refresh"):
        targets = sorted(state.histories) if not node else [node]
        members = [rsc] if rsc else []
        if rsc and rsc in state.desired.get("group", {}):
            spec = state.desired["group"][rsc].get("spec") or {}
            members = [str(m) for m in spec.get("resources", [])]
        for n in targets:
            names = members or sorted(state.histories.get(n, {}))
            for r in names:
                if verb == "cleanup":
                    ops.append(Delete(keys.failcount_prefix(n, r), prefix=True))
                    h = state.histories.get(n, {}).get(r)
                    if h is not None and any(o.id == "last_failure" for o in h.operations):
                        ops.append(Delete(keys.history(n, r)))
                else:
                    ops.append(Delete(keys.history(n, r)))
            if not members and verb == "cleanup":
                ops.append(Delete(keys.failcount_prefix(n), prefix=True))
        msg = f"{verb}: {rsc or 'all resources'} on {node or 'all nodes'}"
    elif verb in ("move", "ban"):
        rsc = _need(args, "resource")
        lifetime = args.get("lifetime")
        to = str(args.get("to") or "")
        if verb == "move" and to:
            name = _safe(f"cli-prefer-{rsc}")
            ops.append(
                Put(keys.desired("Location", name), _location(name, rsc, to, "INFINITY", lifetime))
            )
            msg = f"{rsc} will move to {to} (location {name})"
        else:
            where = node or (active_nodes(state, _first_member(state, rsc)) or [""])[0]
            if not where:
                raise HactlError(f"{rsc} is not running anywhere; give --node")
            name = _safe(f"cli-ban-{rsc}-on-{where}")
            ops.append(
                Put(
                    keys.desired("Location", name),
                    _location(name, rsc, where, "-INFINITY", lifetime),
                )
            )
            msg = f"{rsc} is banned from {where} (location {name})"
    elif verb == "clear":
        rsc = _need(args, "resource")
        prefix_names = [_safe(f"cli-prefer-{rsc}"), _safe(f"cli-ban-{rsc}-on-")]
        for name in sorted(state.desired.get("location", {})):
            if name == prefix_names[0] or name.startswith(prefix_names[1]):
                if node and not name.endswith(_safe(node)) and name != prefix_names[0]:
                    continue
                ops.append(Delete(keys.desired("Location", name)))
        msg = f"cleared {len(ops)} location override(s) of {rsc}"
    elif verb in ("standby", "unstandby", "maintenance", "unmaintenance"):
        node = _need(args, "node")
        attr = "standby" if "standby" in verb else "maintenance"
        on = not verb.startswith("un")
        if on:
            ops.append(Put(keys.node_attribute(node, attr), b"on"))
        else:
            ops.append(Delete(keys.node_attribute(node, attr)))
        msg = f"node {node}: {attr} {'on' if on else 'off'}"
    elif verb in ("enable", "disable"):
        rsc = _need(args, "resource")
        kind = "group" if rsc in state.desired.get("group", {}) else "resource"
        doc = dict(state.desired[kind][rsc])
        rv = int(doc["metadata"].get("resourceVersion") or 0)
        spec = dict(doc.get("spec") or {})
        spec["targetRole"] = "Started" if verb == "enable" else "Stopped"
        if kind == "group":
            for m in spec.get("resources", []):
                if m in state.desired.get("resource", {}):
                    mdoc = dict(state.desired["resource"][m])
                    mspec = dict(mdoc.get("spec") or {})
                    mspec["targetRole"] = spec["targetRole"]
                    mdoc["spec"] = mspec
                    mmeta = dict(mdoc["metadata"])
                    mrv = int(mmeta.pop("resourceVersion", 0) or 0)
                    mdoc["metadata"] = mmeta
                    ops.append(
                        Put(keys.desired("Resource", m), json.dumps(mdoc, sort_keys=True).encode())
                    )
                    cmps.append(Cmp(keys.desired("Resource", m), "mod", "==", mrv))
        doc["spec"] = spec
        meta = dict(doc["metadata"])
        meta.pop("resourceVersion", None)
        meta["generation"] = int(meta.get("generation") or 1) + 1
        doc["metadata"] = meta
        ops.append(Put(keys.desired(kind, rsc), json.dumps(doc, sort_keys=True).encode()))
        cmps.append(Cmp(keys.desired(kind, rsc), "mod", "==", rv))
        msg = f"{rsc}: target role {spec['targetRole']}"
    elif verb == "fence":
        node = _need(args, "node")
        ops.append(Put(keys.node_attribute(node, "fence-requested"), str(time.time()).encode()))
        msg = f"fencing of {node} requested"
    elif verb == "fence-confirm":
        node = _need(args, "node")
        if node in state.live:
            raise HactlError(f"node {node} is online; it cannot be confirmed fenced")
        rec = {
            "at": time.time(),
            "by": "human",
            "device": "manual",
            "rc": 0,
            "ok": True,
            "reason": "confirmed by an operator",
        }
        ops += [
            Put(keys.fencing(node), json.dumps(rec).encode()),
            Put(keys.fencing_history(node, int(time.time() * 1000)), json.dumps(rec).encode()),
            Delete(keys.observed_node(node), prefix=True),
        ]
        msg = f"{node} confirmed fenced; its resources may be recovered"
    else:
        raise HactlError(f"unknown command {verb!r}")
    if ops:
        ok, rev = await kv.txn(cmps, ops)
        if not ok:
            raise HactlError("the object changed meanwhile; try again")
    else:
        rev = state.revision
    return {"message": msg, "revision": rev}


def _first_member(state: Any, rsc: str) -> str:
    if rsc in state.desired.get("group", {}):
        members = (state.desired["group"][rsc].get("spec") or {}).get("resources") or []
        return str(members[0]) if members else rsc
    return rsc
