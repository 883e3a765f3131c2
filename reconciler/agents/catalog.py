"""Which agents are installed, where they are, and their meta-data.

OCF agents are looked up in ``$OCF_ROOT/resource.d/<provider>/<type>`` and then in the
agents shipped inside this package (``ocf:hactl:*``), LSB scripts in ``/etc/init.d``,
fence agents (``stonith:fence_*``) on the usual sbin directories and then in the package.
Meta-data is fetched once per agent file (keyed by path and mtime) with a short timeout.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.agents.environment import (
    CRM_FEATURE_SET,
    DEFAULT_OCF_ROOT,
    PACKAGE_FENCE_DIR,
    PACKAGE_OCF_ROOT,
)
from reconciler.agents.metadata import (
    MAX_METADATA_BYTES,
    ActionSpec,
    AgentMetadata,
    MetadataError,
    ParamSpec,
    parse_metadata,
)
from reconciler.agents.request import AgentRef
from reconciler.base.errors import AgentError, Problem

FENCE_DIRS = (Path("/usr/sbin"), Path("/sbin"), Path("/usr/local/sbin"))
LSB_DIR = Path("/etc/init.d")
METADATA_TIMEOUT_S = 10.0
_LSB_SKIP = {"README", "skeleton", "rc", "rcS", "functions"}
# fence-agents ships tools named fence_* that are not agents (no meta-data, interactive)
_NOT_FENCE_AGENTS = {"fence_ack_manual"}


@dataclass(frozen=True, slots=True)
class AgentLocation:
    ref: AgentRef
    path: Path | None  # None for systemd units (reached over D-Bus)


@dataclass
class AgentCatalog:
    """Finds agents. Defaults are the Debian/Pacemaker locations plus our package."""

    ocf_root: Path = DEFAULT_OCF_ROOT
    extra_ocf_roots: tuple[Path, ...] = (PACKAGE_OCF_ROOT,)
    fence_dirs: tuple[Path, ...] = (*FENCE_DIRS, PACKAGE_FENCE_DIR)
    lsb_dir: Path = LSB_DIR
    _cache: dict[tuple[str, float], AgentMetadata | AgentError] = field(default_factory=dict)

    # ----------------------------------------------------------------- lookup
    def ocf_roots(self) -> tuple[Path, ...]:
        return (self.ocf_root, *self.extra_ocf_roots)

    def locate(self, ref: AgentRef) -> Path | None:
        """The agent's file, or None when it is not installed (systemd: always None)."""
        if ref.cls == "ocf":
            for root in self.ocf_roots():
                path = root / "resource.d" / ref.provider / ref.type
                if path.is_file():
                    return path
            return None
        if ref.cls in ("lsb", "service"):
            path = self.lsb_dir / ref.type
            return path if path.is_file() else None
        if ref.cls == "stonith":
            for d in self.fence_dirs:
                path = d / ref.type
                if path.is_file():
                    return path
            return None
        return None

    def ocf_root_for(self, path: Path) -> Path:
        """OCF_ROOT to export for an agent file: the system one unless it lives elsewhere."""
        for root in self.ocf_roots():
            if root in path.parents and (root / "lib" / "heartbeat").is_dir():
                return root
        return self.ocf_root

    # ---------------------------------------------------------------- listing
    def list(self, cls: str | None = None) -> list[AgentRef]:
        """Installed agents, sorted; ``cls`` limits to one class (ocf, lsb, stonith)."""
        found: set[AgentRef] = set()
        if cls in (None, "ocf"):
            for root in self.ocf_roots():
                base = root / "resource.d"
                if not base.is_dir():
                    continue
                for provider in base.iterdir():
                    if not provider.is_dir():
                        continue
                    for f in provider.iterdir():
                        if _is_agent_file(f):
                            found.add(AgentRef("ocf", f.name, provider.name))
        if cls in (None, "lsb") and self.lsb_dir.is_dir():
            for f in self.lsb_dir.iterdir():
                if _is_agent_file(f) and f.name not in _LSB_SKIP:
                    found.add(AgentRef("lsb", f.name))
        if cls in (None, "stonith"):
            for d in self.fence_dirs:
                if d.is_dir():
                    for f in d.glob("fence_*"):
                        if _is_agent_file(f) and f.name not in _NOT_FENCE_AGENTS:
                            found.add(AgentRef("stonith", f.name))
        return sorted(found, key=lambda r: (r.cls, r.provider, r.type))

    # -------------------------------------------------------------- meta-data
    def metadata(self, ref: AgentRef | str) -> AgentMetadata:
        """Parsed meta-data. Raises :class:`AgentError` (missing) / :class:`MetadataError`."""
        if isinstance(ref, str):
            ref = AgentRef.parse(ref)
        if ref.cls == "systemd":
            return systemd_metadata(ref)
        path = self.locate(ref)
        if path is None:
            raise AgentError(f"{ref}: agent not installed ({self._where(ref)})")
        key = (str(path), path.stat().st_mtime)
        cached = self._cache.get(key)
        if isinstance(cached, AgentError):  # failures are remembered too (until mtime moves)
            raise cached
        if cached is not None:
            return cached
        try:
            if ref.cls in ("lsb", "service"):
                md = lsb_metadata(ref, path)
            else:
                md = parse_metadata(str(ref), self._fetch(ref, path))
        except AgentError as exc:
            self._cache[key] = exc
            raise
        self._cache[key] = md
        return md

    def _where(self, ref: AgentRef) -> str:
        if ref.cls == "ocf":
            return " or ".join(str(r / "resource.d" / ref.provider) for r in self.ocf_roots())
        if ref.cls == "stonith":
            return "looked in " + ", ".join(str(d) for d in self.fence_dirs)
        return str(self.lsb_dir)

    def _fetch(self, ref: AgentRef, path: Path) -> bytes:
        if not os.access(path, os.X_OK):
            raise AgentError(f"{ref}: {path} is not executable")
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "OCF_ROOT": str(self.ocf_root_for(path)),
            "OCF_RA_VERSION_MAJOR": "1",
            "OCF_RA_VERSION_MINOR": "1",
            "OCF_RESOURCE_TYPE": ref.type,
            "OCF_RESOURCE_PROVIDER": ref.provider,
            "OCF_RESOURCE_INSTANCE": "meta-data",
            "OCF_RESKEY_crm_feature_set": CRM_FEATURE_SET,
            "HA_LOGFACILITY": "none",
        }
        if ref.cls == "stonith":
            argv, stdin = [str(path)], b"action=metadata\n"
        else:
            argv, stdin = [str(path), "meta-data"], b""
        # output goes to files, not pipes: a daemon the agent forks must not hold us up
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.run(
                    argv,
                    input=stdin,
                    env=env,
                    stdout=out,
                    stderr=err,
                    timeout=METADATA_TIMEOUT_S,
                    start_new_session=True,
                    cwd="/",
                )
            except subprocess.TimeoutExpired:
                raise AgentError(
                    f"{ref}: meta-data timed out after {METADATA_TIMEOUT_S:g}s"
                ) from None
            except OSError as exc:
                raise AgentError(f"{ref}: cannot run {path}: {exc.strerror or exc}") from None
            out.seek(0)
            stdout = out.read(MAX_METADATA_BYTES + 1)
            err.seek(0)
            stderr = err.read(65536)
        if proc.returncode != 0:
            tail = " ".join(stderr.decode(errors="replace").strip().splitlines()[-3:])
            raise AgentError(
                f"{ref}: meta-data exited {proc.returncode}" + (f": {tail}" if tail else "")
            )
        if len(stdout) > MAX_METADATA_BYTES:
            raise MetadataError(f"{ref}: meta-data larger than {MAX_METADATA_BYTES} bytes")
        return stdout


def _is_agent_file(f: Path) -> bool:
    return (
        f.is_file()
        and not f.name.startswith(".")
        and not f.name.endswith((".sh", ".py", ".pyc", ".dpkg-old", ".dpkg-dist", "~"))
        and os.access(f, os.X_OK)
    )


_LSB_HEADER = re.compile(r"### BEGIN INIT INFO(.*?)### END INIT INFO", re.DOTALL)


def lsb_metadata(ref: AgentRef, path: Path) -> AgentMetadata:
    """Meta-data synthesized from an init script's LSB header, as Pacemaker does."""
    try:
        text = path.read_text(errors="replace")[:65536]
    except OSError as exc:
        raise AgentError(f"{ref}: cannot read {path}: {exc.strerror}") from None
    fields: dict[str, str] = {}
    m = _LSB_HEADER.search(text)
    if m:
        for raw in m.group(1).splitlines():
            line = raw.lstrip("#").strip()
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip()] = v.strip()
    actions = tuple(
        ActionSpec(name, timeout_s=15.0, interval_s=15.0 if name == "monitor" else None)
        for name in ("meta-data", "start", "stop", "status", "monitor", "restart")
    )
    return AgentMetadata(
        agent=str(ref),
        name=ref.type,
        shortdesc=fields.get("Short-Description", ""),
        longdesc=fields.get("Description", ""),
        actions=actions,
    )


def systemd_metadata(ref: AgentRef) -> AgentMetadata:
    """Meta-data for a systemd unit (no parameters; Pacemaker's default timeouts)."""
    actions = tuple(
        ActionSpec(name, timeout_s=100.0, interval_s=60.0 if name == "monitor" else None)
        for name in ("meta-data", "start", "stop", "status", "monitor", "reload")
    )
    return AgentMetadata(
        agent=str(ref), name=ref.type, shortdesc=f"systemd unit {ref.type}", actions=actions
    )


_FENCE_DEVICE_PARAMS = {
    "pcmk_host_map",
    "pcmk_host_list",
    "pcmk_host_check",
    "pcmk_delay_max",
    "pcmk_delay_base",
    "pcmk_action_limit",
    "pcmk_host_argument",
    "pcmk_off_action",
    "pcmk_reboot_action",
    "pcmk_monitor_timeout",
    "pcmk_reboot_timeout",
    "pcmk_off_timeout",
    "pcmk_list_timeout",
    "pcmk_status_timeout",
    "pcmk_on_timeout",
}


def check_params(
    md: AgentMetadata,
    params: dict[str, str],
    *,
    fence: bool = False,
    path_prefix: str = "spec.params",
) -> list[Problem]:
    """Problems with ``params`` for the agent described by ``md`` (sorted, deterministic)."""
    problems: list[Problem] = []
    known = {p.name: p for p in md.parameters}
    for name in sorted(params):
        if fence and (name in _FENCE_DEVICE_PARAMS or name.startswith("pcmk_")):
            continue
        spec = known.get(name)
        where = f"{path_prefix}.{name}"
        if spec is None:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            problems.append(
                Problem(
                    f"{md.agent} has no parameter {name!r}",
                    path=where,
                    hint=f"did you mean `{close[0]}`?"
                    if close
                    else f"see `hactl agents describe {md.agent}`",
                )
            )
            continue
        problems += _check_value(md.agent, spec, params[name], where)
    # A parameter and the older name it obsoletes (fence agents' ip/ipaddr) satisfy each other.
    spellings = {p.name: {p.name} for p in md.parameters}
    for p in md.parameters:
        if p.obsoletes:
            spellings[p.name].add(p.obsoletes)
            spellings.setdefault(p.obsoletes, {p.obsoletes}).add(p.name)
    for spec in md.parameters:
        if (
            spec.required
            and not spellings[spec.name] & params.keys()
            and spec.default in (None, "")
        ):
            if fence and spec.name in ("action", "port", "plug", "nodename"):
                continue  # supplied per fencing request
            problems.append(
                Problem(
                    f"{md.agent} requires parameter {spec.name!r}",
                    path=f"{path_prefix}.{spec.name}",
                )
            )
    return problems


def _check_value(agent: str, spec: ParamSpec, value: str, where: str) -> list[Problem]:
    if spec.type == "integer":
        try:
            int(value.strip())
        except ValueError:
            return [Problem(f"{agent}: {spec.name} must be an integer, got {value!r}", path=where)]
    elif spec.type == "boolean":
        if value.strip().lower() not in (
            "1",
            "0",
            "true",
            "false",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
        ):
            return [Problem(f"{agent}: {spec.name} must be a boolean, got {value!r}", path=where)]
    elif spec.type == "select" and spec.options and value not in spec.options:
        return [
            Problem(
                f"{agent}: {spec.name} must be one of {', '.join(spec.options)}, got {value!r}",
                path=where,
            )
        ]
    return []


_DEFAULT_CATALOG: AgentCatalog | None = None


def extra_ocf_roots(value: str | None) -> tuple[Path, ...]:
    """``HACTL_OCF_PATH``: more OCF roots (``ROOT/resource.d/PROVIDER/TYPE``), colon
    separated, searched after the system's and before hactl's own agents."""
    return tuple(Path(p) for p in (value or "").split(":") if p)


def default_catalog() -> AgentCatalog:
    global _DEFAULT_CATALOG
    if _DEFAULT_CATALOG is None:
        extra = extra_ocf_roots(os.environ.get("HACTL_OCF_PATH"))
        _DEFAULT_CATALOG = AgentCatalog(extra_ocf_roots=(*extra, PACKAGE_OCF_ROOT))
    return _DEFAULT_CATALOG


def check_resource_params(
    agent: str, params: dict[str, str], catalog: AgentCatalog | None = None
) -> list[Problem]:
    """Check a Resource's ``params`` against the agent installed on this machine.

    Returns problems (unknown parameter with a did-you-mean hint, missing required
    parameter, integer/boolean/select values of the wrong kind, agent not installed,
    unusable meta-data); an empty list means fine. Never raises for bad input.
    """
    cat = catalog or default_catalog()
    try:
        ref = AgentRef.parse(agent)
        md = cat.metadata(ref)
    except (AgentError, MetadataError) as exc:
        return [Problem(str(exc), path="spec.agent")]
    return check_params(md, params, fence=ref.is_fence)
