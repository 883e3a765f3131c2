"""crm_attribute, crm_master, attrd_updater and crm_node, compatible with what agents use.

Run as a script by the shims in a node's ``HA_SBIN_DIR`` (see environment.write_shims):
``python -S attrcli.py crm_attribute --promotion -v 10``. Standard library only, so it
starts fast and never imports the hactl package.

Updates go to the node agent's attribute socket (``$HACTL_ATTRD_SOCKET``, one JSON object
per line, see reconciler.agents.attrd); when nothing listens there (``hactl agent run``
outside a cluster) they go to the JSON file ``$HACTL_ATTR_FILE`` instead.

Exit codes follow Pacemaker's: 0 ok, 64 usage, 105 no such attribute, 1 other errors.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import socket
import sys
from typing import Any

EX_OK = 0
EX_ERROR = 1
EX_USAGE = 64
EX_NOSUCH = 105


def _local_node() -> str:
    return os.environ.get("HACTL_NODE") or os.uname().nodename


def _promotion_name(resource: str | None) -> str:
    rsc = resource or os.environ.get("OCF_RESOURCE_INSTANCE", "")
    if not rsc:
        raise SystemExit(_fail("--promotion needs OCF_RESOURCE_INSTANCE or a resource", EX_USAGE))
    # anonymous clone instances share one score name: strip ":N"
    return "master-" + rsc.split(":", 1)[0]


def _fail(message: str, code: int) -> int:
    print(f"crm_attribute: {message}", file=sys.stderr)
    return code


def _send(request: dict[str, Any]) -> dict[str, Any] | None:
    """Ask the node agent; None when it does not listen (then the file is used)."""
    path = os.environ.get("HACTL_ATTRD_SOCKET")
    if not path or not os.path.exists(path):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        print(
            f"warning: the node agent does not answer on {path} ({exc.strerror}); "
            "keeping the attribute in the local file",
            file=sys.stderr,
        )
        return None
    with sock:
        sock.sendall(json.dumps(request).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    reply: dict[str, Any] = json.loads(buf or b"{}")
    return reply


def _file_request(request: dict[str, Any]) -> dict[str, Any]:
    path = os.environ.get("HACTL_ATTR_FILE") or os.path.join(
        os.environ.get("HA_RSCTMP", "/tmp"), "hactl-attributes.json"
    )
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        text = f.read()
        data: dict[str, dict[str, str]] = json.loads(text) if text.strip() else {}
        node, name = request["node"], request["name"]
        if request["op"] == "query":
            value = data.get(node, {}).get(name)
            return {"ok": True, "value": value}
        if request.get("value") is None:
            data.get(node, {}).pop(name, None)
        else:
            data.setdefault(node, {})[name] = request["value"]
        f.seek(0)
        f.truncate()
        json.dump(data, f, indent=1, sort_keys=True)
        return {"ok": True}


def _do(request: dict[str, Any]) -> dict[str, Any]:
    reply = _send(request)
    if reply is None:
        reply = _file_request(request)
    return reply


def _update(node: str, name: str, value: str | None, lifetime: str, tool: str) -> int:
    reply = _do(
        {
            "op": "update",
            "node": node,
            "name": name,
            "value": value,
            "lifetime": lifetime,
            "source": tool,
            "resource": os.environ.get("OCF_RESOURCE_INSTANCE", ""),
        }
    )
    if not reply.get("ok"):
        return _fail(str(reply.get("error", "update refused")), EX_ERROR)
    return EX_OK


def _query(node: str, name: str, quiet: bool, default: str | None, scope: str) -> int:
    reply = _do({"op": "query", "node": node, "name": name})
    value = reply.get("value")
    if value is None:
        value = default
    if value is None:
        print(f"Error performing operation: No such device or address ({name})", file=sys.stderr)
        return EX_NOSUCH
    if quiet:
        print(value)
    else:
        print(f"scope={scope}  name={name} value={value}")
    return EX_OK


def crm_attribute(argv: list[str], tool: str = "crm_attribute") -> int:
    p = argparse.ArgumentParser(prog=tool, add_help=True)
    p.add_argument("-n", "--name", "--attr-name")
    p.add_argument("-v", "--update", "--attr-value", dest="value")
    p.add_argument("-D", "--delete", action="store_true")
    p.add_argument("-G", "--query", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-Q", dest="quiet_upper", action="store_true")
    p.add_argument("-N", "--node")
    p.add_argument("-U", "--uname")  # pre-1.1 spelling of --node
    p.add_argument("-l", "--lifetime", choices=["reboot", "forever"])
    p.add_argument("-t", "--type", default=None)
    p.add_argument("-d", "--default")
    p.add_argument("-i", "--id")
    p.add_argument("-s", "--set-name")
    p.add_argument("-p", "--promotion", nargs="?", const="", default=None)
    p.add_argument("-r", "--rsc")  # crm_master's resource
    p.add_argument("-W", "--utilization", action="store_true")
    p.add_argument("-z", "--utilization-z", action="store_true")
    args, _unknown = p.parse_known_args(argv)
    quiet = args.quiet or args.quiet_upper
    node = args.node or args.uname or _local_node()
    lifetime = args.lifetime or "forever"
    scope = "status" if (args.type == "status" or args.lifetime == "reboot") else "nodes"
    if tool == "crm_master" or args.promotion is not None:
        name = _promotion_name(args.promotion or args.rsc)
        lifetime = "reboot"
        scope = "status"
    elif args.name:
        name = args.name
    else:
        return _fail("an attribute name is required (-n NAME)", EX_USAGE)
    if args.delete:
        return _update(node, name, None, lifetime, tool)
    if args.value is not None:
        return _update(node, name, args.value, lifetime, tool)
    return _query(node, name, quiet, args.default, scope)


def attrd_updater(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="attrd_updater")
    p.add_argument("-n", "--name")
    p.add_argument("-U", "--update", "-v", dest="value")
    p.add_argument("-B", "--update-both", dest="both")
    p.add_argument("-D", "--delete", action="store_true")
    p.add_argument("-Q", "--query", action="store_true")
    p.add_argument("-N", "--node")
    p.add_argument("-d", "--delay")
    p.add_argument("-p", "--private", action="store_true")
    p.add_argument("-A", "--all", action="store_true")
    p.add_argument("-R", "--refresh", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-l", "--lifetime")
    args, _unknown = p.parse_known_args(argv)
    if args.refresh:
        return EX_OK
    if not args.name:
        print("attrd_updater: an attribute name is required (-n NAME)", file=sys.stderr)
        return EX_USAGE
    node = args.node or _local_node()
    value = args.value if args.value is not None else args.both
    if args.delete:
        return _update(node, args.name, None, "reboot", "attrd_updater")
    if value is not None:
        return _update(node, args.name, value, "reboot", "attrd_updater")
    reply = _do({"op": "query", "node": node, "name": args.name})
    if reply.get("value") is None:
        print(
            f"attrd_updater: could not query value of {args.name}: attribute does not exist",
            file=sys.stderr,
        )
        return EX_NOSUCH
    print(f'name="{args.name}" host="{node}" value="{reply["value"]}"')
    return EX_OK


def crm_node(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="crm_node")
    p.add_argument("-n", "--name", action="store_true")
    p.add_argument("-q", "--quorum", action="store_true")
    p.add_argument("-i", "--cluster-id", action="store_true")
    args, _unknown = p.parse_known_args(argv)
    if args.quorum:
        print(os.environ.get("HACTL_QUORATE", "1"))
        return EX_OK
    if args.cluster_id:
        uuid = os.environ.get("OCF_RESKEY_CRM_meta_on_node_uuid")  # noqa: SIM112
        print(uuid or _local_node())
        return EX_OK
    print(_local_node())
    return EX_OK


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(
            "usage: attrcli.py crm_attribute|crm_master|attrd_updater|crm_node ARGS",
            file=sys.stderr,
        )
        return EX_USAGE
    tool, rest = os.path.basename(argv[1]), argv[2:]
    try:
        if tool in ("crm_attribute", "crm_master"):
            return crm_attribute(rest, tool)
        if tool == "attrd_updater":
            return attrd_updater(rest)
        if tool == "crm_node":
            return crm_node(rest)
    except (OSError, ValueError) as exc:
        print(f"{tool}: {exc}", file=sys.stderr)
        return EX_ERROR
    print(f"attrcli.py: unknown tool {tool}", file=sys.stderr)
    return EX_USAGE


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main(sys.argv))
