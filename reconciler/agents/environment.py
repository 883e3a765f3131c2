"""Per-node directories and the environment an agent sees, as Pacemaker sets it.

Several nodes of a local test cluster run on one machine, so everything an agent writes
(``HA_RSCTMP``, ``HA_VARRUN``, ...) lives under the node's own state directory::

    <state_dir>/                  one node (the fence agent's <state_dir>/<node>/)
      hacd.pid                    the node daemon's pid (written by the daemon)
      pids/                       one file per process the node started (pid [starttime])
      off                         present while the node is fenced off (fence_hactl_local)
      rsctmp/   -> HA_RSCTMP      agents' state files (Dummy's, webserver's pidfile)
      run/      -> HA_VARRUN
      lib/      -> HA_VARLIB
      lock/     -> HA_VARLOCK
      sbin/     -> HA_SBIN_DIR    crm_attribute, crm_master, attrd_updater, crm_node
      attributes.json             node attributes set by agents when no daemon listens
      attrd.sock                  the node agent's attribute socket (see attrd.py)
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.agents.request import OpRequest

OCF_RA_VERSION = ("1", "1")
# Pacemaker 2.1.5's CRM feature set: agents compare it (ocf_promotion_score)
CRM_FEATURE_SET = "3.16.2"
DEFAULT_OCF_ROOT = Path("/usr/lib/ocf")
PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_OCF_ROOT = PACKAGE_DIR / "ocf"
PACKAGE_FENCE_DIR = PACKAGE_DIR / "fence"
ATTR_CLI = PACKAGE_DIR / "attrcli.py"
SHIM_COMMANDS = ("crm_attribute", "crm_master", "attrd_updater", "crm_node")
_SUN_PATH_MAX = 107


@dataclass(frozen=True, slots=True)
class NodeEnvironment:
    """Where one node's agents keep their state, and how their commands are launched.

    ``command_prefix`` wraps every agent command, e.g. ``("ip", "netns", "exec", "n1")``
    to run a node's agents inside its network namespace.
    """

    node: str
    state_dir: Path
    node_uuid: str = ""
    ocf_root: Path = DEFAULT_OCF_ROOT
    command_prefix: tuple[str, ...] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def rsctmp(self) -> Path:
        return self.state_dir / "rsctmp"

    @property
    def varrun(self) -> Path:
        return self.state_dir / "run"

    @property
    def varlib(self) -> Path:
        return self.state_dir / "lib"

    @property
    def varlock(self) -> Path:
        return self.state_dir / "lock"

    @property
    def sbin(self) -> Path:
        return self.state_dir / "sbin"

    @property
    def pids_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def attributes_file(self) -> Path:
        return self.state_dir / "attributes.json"

    @property
    def attrd_socket(self) -> Path:
        """``<state_dir>/attrd.sock``, or a short /tmp path when that is too long for AF_UNIX."""
        path = self.state_dir.resolve() / "attrd.sock"
        if len(os.fsencode(str(path))) <= _SUN_PATH_MAX:
            return path
        digest = hashlib.sha256(os.fsencode(str(path))).hexdigest()[:16]
        return Path("/tmp") / f"hactl-attrd-{digest}.sock"

    def prepare(self) -> None:
        """Create the directories and write the attribute command shims (idempotent)."""
        for d in (
            self.state_dir,
            self.rsctmp,
            self.varrun,
            self.varlib,
            self.varlock,
            self.sbin,
            self.pids_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        write_shims(self.sbin)

    def base_env(self) -> dict[str, str]:
        """The environment common to every agent class on this node."""
        env = {
            "PATH": f"{self.sbin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": os.environ.get("HOME", "/root"),
            "HACTL_NODE": self.node,
            "HACTL_NODE_DIR": str(self.state_dir.resolve()),
            "HACTL_ATTRD_SOCKET": str(self.attrd_socket),
            "HACTL_ATTR_FILE": str(self.attributes_file),
        }
        env.update(self.extra_env)
        return env

    def ocf_env(self, req: OpRequest, timeout_s: float) -> dict[str, str]:
        """Exactly what Pacemaker's executor exports to an OCF agent."""
        env = self.base_env()
        env.update(
            {
                "OCF_ROOT": str(self.ocf_root),
                "OCF_RA_VERSION_MAJOR": OCF_RA_VERSION[0],
                "OCF_RA_VERSION_MINOR": OCF_RA_VERSION[1],
                "OCF_EXIT_REASON_PREFIX": "ocf-exit-reason:",
                "OCF_RESOURCE_INSTANCE": req.resource,
                "OCF_RESOURCE_TYPE": req.agent.type,
                "OCF_RESOURCE_PROVIDER": req.agent.provider,
                "HA_RSCTMP": str(self.rsctmp),
                "HA_VARRUN": str(self.varrun),
                "HA_VARLIB": str(self.varlib),
                "HA_VARLOCK": str(self.varlock),
                "HA_SBIN_DIR": str(self.sbin),
                "HA_LOGFACILITY": "none",
                "HA_logfacility": "none",
                "HA_LOGD": "no",
                "HA_use_logd": "no",
                "HA_debug": "0",
                "PCMK_logfacility": "none",
                "PCMK_service": "pacemaker-execd",
            }
        )
        for name, value in sorted(req.params.items()):
            env[f"OCF_RESKEY_{name}"] = value
        meta = {
            "timeout": str(round(timeout_s * 1000)),
            "interval": str(round(req.interval_s * 1000)),
            "name": req.action,
            "on_node": self.node,
            "on_node_uuid": self.node_uuid or self.node,
        }
        if req.role:
            meta["role"] = req.role
        meta.update(req.meta)
        for name, value in sorted(meta.items()):
            env[f"OCF_RESKEY_CRM_meta_{name}"] = value
        env["OCF_RESKEY_crm_feature_set"] = CRM_FEATURE_SET
        if req.check_level is not None:
            env["OCF_CHECK_LEVEL"] = str(req.check_level)
        return env

    def wrap(self, argv: list[str]) -> list[str]:
        return [*self.command_prefix, *argv]


def write_shims(sbin: Path) -> None:
    """Write ``crm_attribute`` & co. into ``sbin``: small sh scripts that run our attribute
    client with this interpreter (no import of the hactl package, so they start fast)."""
    sbin.mkdir(parents=True, exist_ok=True)
    for name in SHIM_COMMANDS:
        path = sbin / name
        text = (
            "#!/bin/sh\n"
            f"# {name}: hactl's compatible command (node attributes go to the node agent)\n"
            f"exec '{sys.executable}' -S -s '{ATTR_CLI}' {name} \"$@\"\n"
        )
        if path.exists() and path.read_text() == text:
            continue
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        tmp.replace(path)
