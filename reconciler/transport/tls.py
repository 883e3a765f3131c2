"""TLS for hactl's gRPC ports, as etcd does it: a server certificate and, with
client-certificate authentication, only clients whose certificate the cluster CA signed
are accepted (the TLS handshake refuses the rest; gRPC logs it: ``Handshake failed``).

Used by the store's client and peer ports, by hacd's ``listen`` port (hactl API and node
agent service), by the coordinator's connections to the agents and by ``hactl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from reconciler.base.errors import ConfigError


def read_pem(path: Path, what: str) -> bytes:
    """A PEM file's bytes, or a ConfigError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file: {exc.strerror}") from None
    if b"-----BEGIN" not in data:
        raise ConfigError(f"{path}: the {what} file is not PEM")
    return data


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path
    trusted_ca: Path
    client_cert_auth: bool = True

    def _read(self) -> tuple[bytes, bytes, bytes]:
        return (
            read_pem(self.cert, "cert"),
            read_pem(self.key, "key"),
            read_pem(self.trusted_ca, "trusted CA"),
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        cert, key, ca = self._read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=self.client_cert_auth
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """This certificate as a client's (the coordinator dialling the agents)."""
        return client_credentials(self.trusted_ca, self.cert, self.key)


def client_credentials(
    ca: Path, cert: Path | None = None, key: Path | None = None
) -> grpc.ChannelCredentials:
    """A client's TLS: the CA that signed the server's certificate, and this client's
    own certificate and key when the server requires one."""
    if (cert is None) != (key is None):
        raise ConfigError("a client certificate needs its key, and a key its certificate")
    return grpc.ssl_channel_credentials(
        root_certificates=read_pem(ca, "CA"),
        private_key=read_pem(key, "client key") if key else None,
        certificate_chain=read_pem(cert, "client certificate") if cert else None,
    )


def peer_common_name(auth_context: Mapping[str, Iterable[bytes]]) -> str | None:
    """The common name of the client certificate a TLS peer presented (None without)."""
    names = list(auth_context.get("x509_common_name") or [])
    return names[0].decode(errors="replace") if names else None
