"""How hactl finds a cluster's TLS files: contexts (kubeconfig-like), options, environment.

No cluster is needed: a small click command with the shared ``server_options`` resolves
the cluster the way every live command does, and reports what a Session would use.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from reconciler.base.errors import ConfigError
from reconciler.cli.common import (
    ClientTls,
    Session,
    contexts_file,
    resolve_servers,
    save_context,
    server_options,
)
from reconciler.transport.certs import make_ca, make_cert


@click.command()
@server_options
def probe(server: str | None, context: str | None) -> None:
    servers = resolve_servers(server, context)
    tls = Session(servers).tls
    click.echo(
        json.dumps(
            {
                "servers": servers,
                "tls": None
                if tls is None
                else {"ca": str(tls.ca), "cert": str(tls.cert), "key": str(tls.key)},
            }
        )
    )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HACTL_CLUSTER_DIR", str(tmp_path / "no-local-cluster"))
    for var in ("HACTL_SERVER", "HACTL_CA", "HACTL_CERT", "HACTL_KEY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run(*args: str, **env: str) -> tuple[int, dict[str, object] | str]:
    out = CliRunner().invoke(probe, list(args), env=env or None)
    if out.exit_code != 0:
        return out.exit_code, out.output
    return 0, json.loads(out.output)


def write_contexts(data: dict[str, object]) -> Path:
    path = contexts_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_plaintext_without_tls_files(env: Path) -> None:
    assert run("--server", "10.0.0.1:7420") == (0, {"servers": ["10.0.0.1:7420"], "tls": None})


def test_a_context_carries_tls_files_relative_to_its_file(env: Path) -> None:
    path = write_contexts(
        {
            "current": "prod",
            "contexts": {
                "prod": {
                    "server": "10.0.0.1:7420,10.0.0.2:7420",
                    "certificateAuthority": "prod/ca.crt",
                    "clientCertificate": "/abs/admin.crt",
                    "clientKey": "prod/admin.key",
                }
            },
        }
    )
    code, got = run("--context", "prod")
    assert code == 0
    base = path.parent
    assert got == {
        "servers": ["10.0.0.1:7420", "10.0.0.2:7420"],
        "tls": {
            "ca": f"{base}/prod/ca.crt",
            "cert": "/abs/admin.crt",
            "key": f"{base}/prod/admin.key",
        },
    }
    # the current context too, and the command line overrides one file
    code, got = run("--client-certificate", "/other/op.crt", "--client-key", "/other/op.key")
    assert code == 0 and isinstance(got, dict)
    assert got["tls"] == {
        "ca": f"{base}/prod/ca.crt",
        "cert": "/other/op.crt",
        "key": "/other/op.key",
    }


def test_options_and_environment_beside_server(env: Path) -> None:
    code, got = run("--server", "h:1", "--certificate-authority", "/t/ca.crt")
    assert code == 0 and isinstance(got, dict)
    assert got["tls"] == {"ca": "/t/ca.crt", "cert": "None", "key": "None"}
    code, got = run(
        HACTL_SERVER="h:2", HACTL_CA="/e/ca.crt", HACTL_CERT="/e/a.crt", HACTL_KEY="/e/a.key"
    )
    assert code == 0 and isinstance(got, dict)
    assert got == {
        "servers": ["h:2"],
        "tls": {"ca": "/e/ca.crt", "cert": "/e/a.crt", "key": "/e/a.key"},
    }


def test_incomplete_tls_options_are_usage_errors(env: Path) -> None:
    code, out = run("--server", "h:1", "--client-certificate", "/a.crt", "--client-key", "/a.key")
    assert code == 2 and "--certificate-authority" in str(out)
    code, out = run(
        "--server", "h:1", "--certificate-authority", "/ca", "--client-certificate", "/a"
    )
    assert code == 2 and "go together" in str(out)


def test_saved_context_and_credentials_from_real_files(env: Path) -> None:
    tls = env / "tls"
    make_ca(tls)
    make_cert(tls, "admin", ["admin"])
    save_context(
        "c1", "10.0.0.1:7420", make_current=False,
        tls=ClientTls(tls / "ca.crt", tls / "admin.crt", tls / "admin.key"),
    )  # fmt: skip
    data = yaml.safe_load(contexts_file().read_text())
    assert "current" not in data
    assert data["contexts"]["c1"]["clientKey"] == str((tls / "admin.key").resolve())
    ClientTls(tls / "ca.crt", tls / "admin.crt", tls / "admin.key").credentials()
    with pytest.raises(ConfigError, match=r"missing\.crt: cannot read the CA file"):
        ClientTls(tls / "missing.crt").credentials()
