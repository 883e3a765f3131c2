"""`hacd --config FILE`: one node's configuration (YAML, validated here at the edge).

Example (what ``hactl cluster init`` / ``hactl cluster up`` write)::

    cluster: demo-7f3a
    node: node1
    listen: 127.0.0.1:25101          # hactl API + node agent service (gRPC)
    dataDir: /var/lib/hactl/node1    # store member data (builtin backend)
    stateDir: /run/hactl             # agent state: <stateDir>/<node>/{hacd.pid,pids/,rsctmp/}
    heartbeat: 0.5                   # seconds between liveness lease renewals
    nodeTimeout: 2                   # liveness lease TTL (node lost after this)
    store:
      backend: etcd                  # or builtin
      endpoints: [127.0.0.1:25001]
      # builtin only: this member's client/peer addresses and the initial members
      member: {client: 127.0.0.1:25201, peer: 127.0.0.1:25301, role: voter}
      members: {node1: 127.0.0.1:25301, node2: ..., node3: ...}
    nodes:                           # every node of the cluster and its API address
      node1: 127.0.0.1:25101
    tls:                             # the listen port over TLS (absent: plaintext)
      certFile: /etc/hactl/tls/node1.crt   # this node's certificate: server, and the
      keyFile: /etc/hactl/tls/node1.key    # coordinator's client certificate to agents
      caFile: /etc/hactl/tls/ca.crt        # the cluster CA: clients must present its certs
      clientCertAuth: true
    fencing: {agent: fence_hactl_local, params: {state_dir: /run/hactl}}
    twoNode: {fenceDelay: {node1: 5}}   # two nodes only: two_node + wait_for_all, see fencing.md
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.base.errors import ConfigError
from reconciler.transport.tls import TlsFiles


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class MemberConfig(_Cfg):
    client: str
    peer: str
    role: Literal["voter", "witness", "learner"] = "voter"


class StoreConfig(_Cfg):
    backend: Literal["etcd", "builtin"] = "etcd"
    endpoints: tuple[str, ...] = ()
    ca_file: str | None = Field(None, alias="caFile")
    cert_file: str | None = Field(None, alias="certFile")
    key_file: str | None = Field(None, alias="keyFile")
    member: MemberConfig | None = None
    members: dict[str, str] = Field(default_factory=dict)  # name -> peer address
    member_clients: dict[str, str] = Field(default_factory=dict, alias="memberClients")


class TlsConfig(_Cfg):
    """TLS on hacd's ``listen`` port (hactl API and agent service), as etcd's
    ``--cert-file --key-file --trusted-ca-file --client-cert-auth``."""

    cert_file: str = Field(alias="certFile")
    key_file: str = Field(alias="keyFile")
    ca_file: str = Field(alias="caFile")
    client_cert_auth: bool = Field(True, alias="clientCertAuth")


class FencingConfig(_Cfg):
    agent: str = "fence_hactl_local"
    params: dict[str, str] = Field(default_factory=dict)


class TwoNodeConfig(_Cfg):
    """A plain two-node cluster (Corosync's two_node + wait_for_all; see docs/fencing.md)."""

    # seconds to wait before fencing the named node: the node listed survives a split
    fence_delay: dict[str, float] = Field(default_factory=dict, alias="fenceDelay")
    # seconds without a store leader (after Raft's own election timeout) before the peer
    # counts as lost and is fenced
    loss_timeout: float = Field(1.0, gt=0, alias="lossTimeout")
    # False: an operator's override for a node restarted alone (docs/fencing.md)
    wait_for_all: bool = Field(True, alias="waitForAll")


class NodeConfig(_Cfg):
    cluster: str
    node: str
    listen: str
    data_dir: str = Field(alias="dataDir")
    state_dir: str = Field(alias="stateDir")
    heartbeat: float = Field(0.5, gt=0)
    node_timeout: float = Field(2.0, gt=0, alias="nodeTimeout")
    election_ttl: float = Field(2.0, gt=0, alias="electionTtl")
    store: StoreConfig = Field(default_factory=StoreConfig)
    nodes: dict[str, str] = Field(default_factory=dict)
    fencing: FencingConfig | None = None
    tls: TlsConfig | None = None
    two_node: TwoNodeConfig | None = Field(None, alias="twoNode")
    log_level: str = Field("INFO", alias="logLevel")
    # scheduler: the full scheduler; simple: the coordinator's stand-in (primitives, groups)
    planner: Literal["simple", "scheduler"] = "scheduler"
    # directory watchers (GitOps) run by whichever node is the coordinator; see docs/gitops.md
    syncs: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("two_node", mode="before")
    @classmethod
    def _two_node_flag(cls, v: object) -> object:
        """``twoNode: true`` is the defaults; ``false`` is off."""
        if v is True:
            return {}
        if v is False:
            return None
        return v

    def node_state_dir(self) -> Path:
        return Path(self.state_dir) / self.node

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def load(path: str | Path) -> NodeConfig:
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of settings")
    try:
        cfg = NodeConfig.model_validate(raw)
    except ValidationError as e:
        lines = [f"{p}: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise ConfigError("\n".join(lines)) from None
    if cfg.node not in cfg.nodes:
        raise ConfigError(f"{p}: nodes: this node {cfg.node!r} is not listed")
    if cfg.store.backend == "etcd" and not cfg.store.endpoints:
        raise ConfigError(f"{p}: store.endpoints: the etcd backend needs endpoints")
    if cfg.store.backend == "builtin" and cfg.store.member is None:
        raise ConfigError(f"{p}: store.member: the builtin backend needs this member's addresses")
    if cfg.two_node is not None:
        _check_two_node(cfg, p)
    return cfg


def _check_two_node(cfg: NodeConfig, p: Path) -> None:
    two = cfg.two_node
    assert two is not None
    if len(cfg.nodes) != 2:
        raise ConfigError(f"{p}: twoNode: needs exactly two nodes (nodes: lists {len(cfg.nodes)})")
    if cfg.fencing is None:
        raise ConfigError(f"{p}: twoNode: fencing is mandatory in a two-node cluster (fencing:)")
    if cfg.store.backend == "builtin" and sorted(cfg.store.members) != sorted(cfg.nodes):
        raise ConfigError(
            f"{p}: twoNode: store.members must be the two nodes (the store's two voters)"
        )
    for name in sorted(two.fence_delay):
        if name not in cfg.nodes:
            raise ConfigError(f"{p}: twoNode.fenceDelay: {name!r} is not a node")


def tls_files(cfg: NodeConfig) -> TlsFiles | None:
    """The listen port's TLS files, checked on the node that runs hacd (a config is
    written elsewhere, before the files are copied): a missing one names its field."""
    t = cfg.tls
    if t is None:
        return None
    for field, f in (("certFile", t.cert_file), ("keyFile", t.key_file), ("caFile", t.ca_file)):
        if not Path(f).is_file():
            raise ConfigError(f"tls.{field}: {f}: no such file")
    files = TlsFiles(Path(t.cert_file), Path(t.key_file), Path(t.ca_file), t.client_cert_auth)
    files.server_credentials()  # not PEM: a ConfigError naming the file
    return files


def save(cfg: NodeConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.dump(), sort_keys=False))
