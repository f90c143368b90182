"""Realtime credentials: the handshake headers from an API key or a relay's ephemeral secret.

With `realtime.token_url` set, the device holds no real key: before each connect it POSTs
``{"model": ...}`` to the relay (with ``Authorization: Bearer <relay token>`` when
`realtime.token_file` gives one; `edge-agent relay` requires it) and gets
``{"value": "ek_...", "expires_at": ...}`` (the shape of OpenAI's
``POST /v1/realtime/client_secrets``; ``{"client_secret": {"value": ...}}`` is also accepted). A secret opens sessions until it expires; a session already open outlives it.
Secrets never appear in messages, logs or reprs.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from edge_agent.config import RealtimeConfig, Secret
from edge_agent.errors import FatalRealtimeError, RealtimeError
from edge_agent.net.http1 import AsyncioTransport

__all__ = ["Credentials", "RedactingLogger", "session_url"]

_REFUSED: Final = frozenset({401, 403})
_SECRET_HEADERS: Final = frozenset({"authorization", "api-key"})
_CODE_RE: Final = re.compile(r"^[a-z_]{1,40}$")


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """For websockets' `logger=`: its DEBUG handshake lines print every header; hide the key."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if len(args) == 2 and str(args[0]).lower() in _SECRET_HEADERS:
            args = (args[0], "***")
        super().log(level, msg, *args, **kwargs)


def session_url(url: str, model: str) -> str:
    """`realtime.url` with ``model=`` added to its query (Azure keeps its own params)."""
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"model": model})))


class Credentials:
    """Gives the handshake headers; fetches a fresh secret per connect when a relay is set."""

    def __init__(
        self, config: RealtimeConfig, api_key: Secret, http: httpx.AsyncClient | None = None
    ) -> None:
        self._config = config
        self._api_key = api_key
        self._http = http
        self._owns_http = http is None

    @property
    def uses_relay(self) -> bool:
        return bool(self._config.token_url)

    def __repr__(self) -> str:
        return f"Credentials(relay={self.uses_relay}, api_key={self._api_key!r})"

    async def headers(self, model: str | None = None) -> dict[str, str]:
        """Raises FatalRealtimeError (relay refused us) or RealtimeError (retry later).

        `model`: the session's model, asked of the relay (default ``realtime.model``)."""
        key = await self._fetch_secret(model) if self.uses_relay else self._api_key.reveal()
        if self._config.auth == "api-key":
            return {"api-key": key}
        return {"Authorization": f"Bearer {key}"}

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _fetch_secret(self, model: str | None = None) -> str:
        if self._http is None:
            ca = self._config.token_ca_file
            self._http = httpx.AsyncClient(  # a token_ca_file's context is built off the loop
                timeout=self._config.connect_timeout_s,
                transport=AsyncioTransport(verify=ca or True),
            )
        # With a relay, `api_key` is this satellite's relay token (config.py), never an OpenAI key.
        token = self._api_key.reveal()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await self._http.post(
            self._config.token_url, json={"model": model or self._config.model}, headers=headers
        )
        if resp.status_code in _REFUSED:
            raise FatalRealtimeError(
                f"token relay refused us (http {resp.status_code}{_relay_reason(resp)}); check "
                "realtime.token_url, realtime.token_file and the relay's access rules"
            )
        if resp.status_code != 200:
            wait = resp.headers.get("retry-after", "")
            after = f", retry after {int(wait)} s" if wait.isdigit() else ""
            raise RealtimeError(
                f"token relay answered http {resp.status_code}{_relay_reason(resp)}{after}"
            )
        try:
            body = resp.json()
            value = body.get("value") or body["client_secret"]["value"]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RealtimeError(
                'token relay answer has no "value"; expected {"value": "ek_..."}'
            ) from None
        if not isinstance(value, str) or not value:
            raise RealtimeError('token relay answer has an empty "value"')
        return value


def _relay_reason(resp: httpx.Response) -> str:
    """': <code>' from the relay's ``{"error": {"code": ...}}``, checked to be a plain word."""
    try:
        code = resp.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {code}" if isinstance(code, str) and _CODE_RE.match(code) else ""
