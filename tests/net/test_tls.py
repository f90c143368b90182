"""The one shared TLS context: verifying, built once, handed to wss:// connects only."""

from __future__ import annotations

import ssl
from pathlib import Path

from edge_agent.net.tls import ca_source, public_context, unverified_context, websocket_tls


async def test_wss_gets_the_one_shared_verifying_context_and_ws_none() -> None:
    first, second = (
        await websocket_tls("wss://api.test/v1/realtime"),
        await websocket_tls("wss://b/"),
    )
    assert first["ssl"] is second["ssl"] is public_context()
    assert await websocket_tls("ws://127.0.0.1:8080/v1/realtime") == {}
    ctx = first["ssl"]
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname


def test_without_a_system_ca_store_certifis_bundle_is_used(monkeypatch, tmp_path) -> None:
    real = ssl.get_default_verify_paths()
    none = real._replace(cafile=str(tmp_path / "no.pem"), capath=str(tmp_path))  # empty dir
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: none)
    public_context.cache_clear()
    try:
        assert ca_source() == "certifi"
        assert public_context().cert_store_stats()["x509_ca"] > 50  # certifi's bundle, loaded
    finally:
        public_context.cache_clear()
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: real._replace(cafile=None))
    assert ca_source() == (
        "system" if real.capath and any(Path(real.capath).iterdir()) else "certifi"
    )


def test_the_unverified_context_checks_nothing() -> None:
    ctx = unverified_context()
    assert ctx.verify_mode is ssl.CERT_NONE and not ctx.check_hostname
