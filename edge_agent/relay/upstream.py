"""Minting upstream: ``POST /v1/realtime/client_secrets`` with the real key, answers mapped.

One short-lived connection per mint, spoken with h11 over asyncio streams (TLS verified with the
system's CA store). httpx would do it too, but it adds ~7 MB of idle RSS to a service whose
whole job is this one request (bench/relay.py); proxies ($HTTPS_PROXY) are not supported.

`mint()` returns a `Minted` or a `Refusal` for the satellite. Nothing upstream says is passed on
verbatim: OpenAI's error messages quote part of the key ("Incorrect API key provided:
sk-ab***yz"), so only an error *code* matching ``[a-z_]{1,40}`` survives, and headers never do.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import h11

from edge_agent.config import Secret
from edge_agent.relay.policy import Grant, Refusal

__all__ = ["Minted", "mint"]

MAX_ANSWER: Final = 65536
_CODE_RE: Final = re.compile(r"^[a-z_]{1,40}$")
_VALUE_RE: Final = re.compile(r"^[\x21-\x7e]{8,512}$")


@dataclass(frozen=True, slots=True)
class Minted:
    """A fresh client secret; `value` is shown only in the answer to its satellite."""

    value: Secret
    expires_at: int


async def mint(url: str, api_key: Secret, grant: Grant, timeout_s: float) -> Minted | Refusal:
    try:
        async with asyncio.timeout(timeout_s):
            status, body = await _post(url, api_key, grant.upstream_body())
    except TimeoutError:
        return Refusal(504, "upstream_timeout", f"OpenAI did not answer within {timeout_s:g} s")
    except (OSError, ssl.SSLError, h11.ProtocolError, _TooLarge):
        return Refusal(502, "upstream_unreachable", "the relay cannot reach OpenAI")
    if status == 0:
        return Refusal(
            502, "upstream_unreachable", "OpenAI closed the connection without an answer"
        )
    if status == 200:
        return _parse_secret(body)
    code = _error_code(body)
    detail = f" ({code})" if code else ""
    if status in (401, 403):
        return Refusal(
            502,
            "upstream_refused_key",
            f"OpenAI refused the relay's API key{detail}; fix the key on the relay",
        )
    if status == 429:
        return Refusal(
            503, "upstream_rate_limited", f"OpenAI is rate limiting the relay{detail}", 10
        )
    if 400 <= status < 500:
        return Refusal(502, "upstream_rejected", f"OpenAI rejected the mint: http {status}{detail}")
    return Refusal(502, "upstream_error", f"OpenAI answered http {status}{detail}")


def _parse_secret(body: bytes) -> Minted | Refusal:
    bad = Refusal(502, "upstream_bad_answer", "OpenAI's answer has no usable client secret")
    try:
        data = json.loads(body)
    except ValueError:
        return bad
    if not isinstance(data, dict):
        return bad
    value, expires_at = data.get("value"), data.get("expires_at")
    if isinstance(data.get("client_secret"), dict):  # the older shape
        value = data["client_secret"].get("value", value)
        expires_at = data["client_secret"].get("expires_at", expires_at)
    if not isinstance(value, str) or not _VALUE_RE.match(value):
        return bad
    if isinstance(expires_at, bool) or not isinstance(expires_at, int) or expires_at <= 0:
        return bad
    return Minted(Secret(value), expires_at)


def _error_code(body: bytes) -> str:
    try:
        error = json.loads(body).get("error")
        code = error.get("code") or error.get("type")
    except (ValueError, AttributeError):
        return ""
    return code if isinstance(code, str) and _CODE_RE.match(code) else ""


class _TooLarge(Exception):
    pass


async def _post(url: str, api_key: Secret, payload: dict[str, object]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    ctx = ssl.create_default_context() if https else None
    reader, writer = await asyncio.open_connection(
        host, port, ssl=ctx, server_hostname=host if https else None
    )
    try:
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=16384)
        data = json.dumps(payload).encode()
        head = h11.Request(
            method="POST",
            target=target,
            headers=[
                ("Host", parts.netloc.rsplit("@", 1)[-1]),
                ("Authorization", f"Bearer {api_key.reveal()}"),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("Accept", "application/json"),
                ("User-Agent", "edge-agent-relay"),
                ("Connection", "close"),
            ],
        )
        writer.write(conn.send(head) + (conn.send(h11.Data(data=data)) or b""))
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        status, chunks, size = 0, [], 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_ANSWER:
                    raise _TooLarge
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
        return status, b"".join(chunks)
    finally:
        writer.close()
