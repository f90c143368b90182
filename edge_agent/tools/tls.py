"""TLS for devices that carry credentials (Home Assistant's token, the Hue username).

`tls_context(device)` builds the verifying context for a ``scheme = "https"`` device, one of:

- the system CAs (a device with a certificate from a public or system-installed CA);
- ``ca_file``: only that CA (a home CA that signed the device's certificate); the host name
  (or IP address) must match the certificate;
- ``cert_sha256``: the device's own self-signed certificate, pinned by its SHA-256
  fingerprint. The chain and the name are not checked (a self-signed device has neither); the
  handshake fails unless the certificate the peer presents is exactly that one, *before* any
  request (with its token) is sent.

Must not: turn verification off in any case, or fall back to http.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from typing import ClassVar

from edge_agent.config import DeviceConfig, cert_fingerprint
from edge_agent.tools.drivers.base import DeviceError

__all__ = ["pinned_context", "tls_context"]


class _PinnedObject(ssl.SSLObject):
    """An SSLObject whose handshake fails unless the peer's certificate has the pinned digest."""

    pin: ClassVar[bytes] = b""

    def do_handshake(self) -> None:
        super().do_handshake()  # raises SSLWantReadError until the handshake is complete
        der = self.getpeercert(binary_form=True)
        if not der or not hmac.compare_digest(hashlib.sha256(der).digest(), self.pin):
            raise ssl.SSLCertVerificationError(
                1, "the certificate does not match the pinned cert_sha256"
            )


def pinned_context(fingerprint_hex: str) -> ssl.SSLContext:
    """A client context that accepts exactly the certificate with this SHA-256 (hex) digest."""
    pin = bytes.fromhex(cert_fingerprint(fingerprint_hex))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the pin below replaces chain and name checks
    ctx.sslobject_class = type("PinnedObject", (_PinnedObject,), {"pin": pin})
    return ctx


def tls_context(device: DeviceConfig) -> ssl.SSLContext:
    """The verifying context for an https device (see the module doc for the three modes)."""
    if device.cert_sha256:
        return pinned_context(device.cert_sha256)
    try:
        ctx = ssl.create_default_context(cafile=device.ca_file or None)
    except (OSError, ssl.SSLError):
        raise DeviceError(
            "not_supported", "ca_file is not a readable PEM CA certificate; fix it in the config"
        ) from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
