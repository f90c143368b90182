"""The daemon's one verifying TLS context for public services (OpenAI, the weather service).

Every `ssl.create_default_context()` holds its own copy of the CA store: httpx makes one from
certifi's bundle for each client (1.6 MB of RSS each, built even for plain-http clients) and
websockets makes another for each ``wss://`` connect. One context, made at the first TLS
connection and shared by the HTTP transport and the Realtime socket, costs that once.

It trusts the system's CAs (what ``update-ca-certificates`` installs, the same store the device
contexts of `edge_agent.tools.tls` use); only where the system has none (no ca-certificates
package) does it fall back to certifi's bundle, which httpx depends on anyway.
Must not: turn verification off, or be mutated by a caller (it is shared).
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl

__all__ = ["ca_source", "public_context", "unverified_context", "websocket_tls"]


def ca_source() -> str:
    """Where `public_context` takes its CAs from: 'system' or 'certifi'."""
    paths = ssl.get_default_verify_paths()
    if (paths.cafile and os.path.isfile(paths.cafile)) or (
        paths.capath and os.path.isdir(paths.capath) and any(os.scandir(paths.capath))
    ):
        return "system"
    return "certifi"


@functools.cache
def public_context() -> ssl.SSLContext:
    """The shared verifying client context (built once; ~0.1 s of CPU on a Pi: call it from a
    worker thread the first time, as `edge_agent.net.http1` does)."""
    if ca_source() == "system":
        return ssl.create_default_context()
    import certifi  # httpx's own dependency

    return ssl.create_default_context(cafile=certifi.where())


@functools.cache
def unverified_context() -> ssl.SSLContext:
    """A context that checks nothing: only for ``verify=False`` callers (tests, a LAN proxy)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def websocket_tls(url: str) -> dict[str, ssl.SSLContext]:
    """``connect(url, **await websocket_tls(url))``: the shared context for a ``wss://`` URL
    (asyncio would build a new CA store for every connect), nothing for ``ws://``."""
    if url.startswith("wss:"):
        return {"ssl": await asyncio.to_thread(public_context)}
    return {}
