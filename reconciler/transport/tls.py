"""TLS for the store's client and peer ports, as etcd does it: a server certificate and,
with client-certificate authentication, only clients whose certificate the cluster CA
signed are accepted (the TLS handshake refuses the rest; gRPC logs it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from reconciler.base.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path
    trusted_ca: Path
    client_cert_auth: bool = True

    def _read(self) -> tuple[bytes, bytes, bytes]:
        out = []
        for what, p in (("cert", self.cert), ("key", self.key), ("trusted CA", self.trusted_ca)):
            try:
                out.append(p.read_bytes())
            except OSError as exc:
                raise ConfigError(f"{p}: cannot read the {what} file: {exc.strerror}") from None
        return out[0], out[1], out[2]

    def server_credentials(self) -> grpc.ServerCredentials:
        cert, key, ca = self._read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=self.client_cert_auth
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        cert, key, ca = self._read()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )
