"""``twoNode:`` in hacd.yaml and ``hactl cluster init --two-node``: refused with the file and
field named unless the cluster really is two nodes with fencing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.base.errors import ConfigError
from reconciler.cli.cluster import cluster
from reconciler.daemon import config


def write(tmp_path: Path, **over: Any) -> Path:
    doc: dict[str, Any] = {
        "cluster": "c",
        "node": "a",
        "listen": "127.0.0.1:25790",
        "dataDir": str(tmp_path / "data"),
        "stateDir": str(tmp_path / "state"),
        "store": {
            "backend": "builtin",
            "member": {"client": "127.0.0.1:25791", "peer": "127.0.0.1:25792"},
            "members": {"a": "127.0.0.1:25792", "b": "127.0.0.1:25793"},
        },
        "nodes": {"a": "127.0.0.1:25790", "b": "127.0.0.1:25794"},
        "fencing": {"agent": "fence_hactl_local", "params": {"state_dir": "/run/hactl"}},
        "twoNode": {"fenceDelay": {"a": 3}},
    }
    for k, v in over.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    p = tmp_path / "hacd.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_a_valid_two_node_config_and_the_true_shorthand(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path))
    assert cfg.two_node is not None and cfg.two_node.fence_delay == {"a": 3.0}
    assert cfg.two_node.wait_for_all and cfg.two_node.loss_timeout == 1.0
    cfg = config.load(write(tmp_path, twoNode=True))
    assert cfg.two_node is not None and cfg.two_node.fence_delay == {}
    assert config.load(write(tmp_path, twoNode=False)).two_node is None


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"fencing": None}, "twoNode: fencing is mandatory"),
        (
            {"nodes": {"a": "x:1", "b": "x:2", "c": "x:3"}},
            "twoNode: needs exactly two nodes",
        ),
        ({"twoNode": {"fenceDelay": {"z": 1}}}, "twoNode.fenceDelay: 'z' is not a node"),
        ({"twoNode": {"fenceDelay": {"a": "soon"}}}, "twoNode.fenceDelay.a"),
        ({"twoNode": {"lossTimeout": 0}}, "twoNode.lossTimeout"),
        ({"twoNode": {"quorum": 1}}, "twoNode.quorum"),
    ],
)
def test_bad_two_node_configs_name_the_file_and_field(
    tmp_path: Path, over: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, **over)
    with pytest.raises(ConfigError, match=rf"hacd.yaml: {message}"):
        config.load(path)


def test_init_two_node_writes_fencing_and_the_delay(tmp_path: Path) -> None:
    args = ["init", "--node", "a=10.0.0.1", "--node", "b=10.0.0.2", "--dir", str(tmp_path)]
    args += ["--no-tls", "--two-node", "--fence-agent", "fence_ipmilan"]
    args += ["--fence-param", "ip=10.0.1.1", "--fence-delay", "a=5"]
    res = CliRunner().invoke(cluster, args)
    assert res.exit_code == 0, res.output
    for n in ("a", "b"):
        cfg = config.load(tmp_path / f"{n}.yaml")
        assert cfg.two_node is not None and cfg.two_node.fence_delay == {"a": 5.0}
        assert cfg.fencing is not None and cfg.fencing.params == {"ip": "10.0.1.1"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--two-node"], "fencing is mandatory"),
        (["--two-node", "--fence-agent", "f", "--node", "c=10.0.0.3"], "exactly two"),
        (["--two-node", "--fence-agent", "f", "--fence-delay", "z=1"], "--fence-delay 'z=1'"),
        (["--fence-delay", "a=1"], "is for --two-node"),
    ],
)
def test_init_two_node_refuses_bad_options(tmp_path: Path, extra: list[str], message: str) -> None:
    args = ["init", "--node", "a=10.0.0.1", "--node", "b=10.0.0.2", "--dir", str(tmp_path)]
    res = CliRunner().invoke(cluster, [*args, "--no-tls", *extra])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not list(tmp_path.glob("*.yaml")), "a refused init wrote configs"
