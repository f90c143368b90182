"""Throw-away certificates for the TLS tests (the `cryptography` package; nothing leaves /tmp)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ServerCert:
    cert_pem: Path
    key_pem: Path
    sha256: str  # hex fingerprint of the DER certificate

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_pem, self.key_pem)
        return ctx


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
           ) -> ServerCert:  # fmt: skip
    cert_pem, key_pem = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))  # fmt: skip
    der = cert.public_bytes(serialization.Encoding.DER)
    return ServerCert(cert_pem, key_pem, hashlib.sha256(der).hexdigest())


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
          signer: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)  # fmt: skip
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


def make_certs(directory: Path) -> tuple[Path, ServerCert, ServerCert]:
    """(CA file, a server cert signed by it for 127.0.0.1, a self-signed server cert)."""
    ca_key, srv_key, own_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("edge-agent test CA", ca_key, "edge-agent test CA", ca_key, ca=True)
    ca_file = directory / "ca.crt"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    signed = _write(
        directory,
        "signed",
        _cert("ha.test", srv_key, "edge-agent test CA", ca_key, ca=False),
        srv_key,
    )
    own = _write(directory, "self",
                 _cert("hue bridge", own_key, "hue bridge", own_key, ca=False), own_key)  # fmt: skip
    return ca_file, signed, own
