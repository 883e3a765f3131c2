"""`hactl certs`: a cluster CA and certificates signed by it, keys private."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec


def test_certs_makes_ca_and_signed_certificates(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", "certs", "--dir", str(tmp_path),
         "--name", "m1", "--name", "client", "--host", "127.0.0.1", "--host", "node1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in ["m1", "client"]:
        cert = x509.load_pem_x509_certificate((tmp_path / f"{name}.crt").read_bytes())
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        assert sans.get_values_for_type(x509.DNSName) == ["node1"]
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        mode = stat.S_IMODE((tmp_path / f"{name}.key").stat().st_mode)
        assert mode == 0o600, oct(mode)
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    # a second run keeps the CA and adds a certificate signed by the same CA
    ca_before = (tmp_path / "ca.crt").read_bytes()
    out = subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", "certs", "--dir", str(tmp_path), "--name", "m2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "ca.crt").read_bytes() == ca_before
    m2 = x509.load_pem_x509_certificate((tmp_path / "m2.crt").read_bytes())
    m2.verify_directly_issued_by(ca)
