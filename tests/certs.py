"""Test-time PKI: a CA, a server certificate (SAN IP 127.0.0.1 + DNS localhost) and a client
certificate, written as PEM files into a directory. Uses ``cryptography`` (test extra).

``make_pki(dir)`` returns a :class:`Pki` with the file paths and a ``server_tls_block()`` helper
that renders the nats-server ``tls { ... }`` block. ``make_pki(dir, name="other")`` makes a second,
unrelated CA (for "unknown CA" tests).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "make_pki"]


@dataclass
class Pki:
    dir: Path
    ca_cert: str
    ca_key: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    wrong_host_cert: str  # valid chain, SAN only "example.invalid"
    wrong_host_key: str

    def server_tls_block(self, *, verify: bool = False, handshake_first: bool = False,
                         cert: Optional[str] = None, key: Optional[str] = None, timeout: float = 2.0) -> str:
        q = json.dumps
        lines = [
            "tls {",
            f"  cert_file: {q(cert or self.server_cert)}",
            f"  key_file: {q(key or self.server_key)}",
            f"  ca_file: {q(self.ca_cert)}",
            f"  timeout: {timeout}",
        ]
        if verify:
            lines.append("  verify: true")
        if handshake_first:
            lines.append("  handshake_first: true")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> str:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(path)


def _write_cert(path: Path, cert: x509.Certificate) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _leaf(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cn: str,
          san: list[x509.GeneralName], usage: x509.ObjectIdentifier) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def make_pki(directory: Path | str, name: str = "test") -> Pki:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    local = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    srv_cert, srv_key = _leaf(ca_cert, ca_key, "localhost", local, ExtendedKeyUsageOID.SERVER_AUTH)
    cli_cert, cli_key = _leaf(ca_cert, ca_key, f"{name} client", [x509.DNSName("client.test")],
                              ExtendedKeyUsageOID.CLIENT_AUTH)
    bad_cert, bad_key = _leaf(ca_cert, ca_key, "example.invalid", [x509.DNSName("example.invalid")],
                              ExtendedKeyUsageOID.SERVER_AUTH)
    return Pki(
        dir=d,
        ca_cert=_write_cert(d / f"{name}-ca.pem", ca_cert),
        ca_key=_write_key(d / f"{name}-ca-key.pem", ca_key),
        server_cert=_write_cert(d / f"{name}-server.pem", srv_cert),
        server_key=_write_key(d / f"{name}-server-key.pem", srv_key),
        client_cert=_write_cert(d / f"{name}-client.pem", cli_cert),
        client_key=_write_key(d / f"{name}-client-key.pem", cli_key),
        wrong_host_cert=_write_cert(d / f"{name}-wronghost.pem", bad_cert),
        wrong_host_key=_write_key(d / f"{name}-wronghost-key.pem", bad_key),
    )
