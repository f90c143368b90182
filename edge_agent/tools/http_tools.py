"""``[[tools.http]]``: HTTP APIs declared in the config, offered to the model as functions.

Each entry becomes one registry `Tool` (so it gets the registry's schema check, timeout, log
line and secret scrubbing). A call fills the URL template (`http_template`: values only in path
segments and query values, never scheme, host or port), sends the configured method and
headers (secret ones read from files at config time) on the daemon's shared httpx client (no
redirects, no proxies), reads at most ``max_bytes`` of the answer as a stream, and returns the
JSON value at ``result_pointer`` (or the whole JSON, or the text) cleaned (`clean_json`,
`clean_text`): an API's answer is data, never instructions.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import httpx

from edge_agent.config import HttpToolConfig
from edge_agent.integrations.mcp.catalog import MAX_TEXT_CHARS, clean_json
from edge_agent.integrations.mcp.framing import decode_json
from edge_agent.tools.confirm_desk import ConfirmDesk
from edge_agent.tools.http_template import Template
from edge_agent.tools.registry import Tool, ToolFailure
from edge_agent.tools.sanitize import clean_text

__all__ = ["HttpTool", "http_tools", "json_pointer"]


class HttpTool:
    """One configured HTTP tool."""

    def __init__(self, cfg: HttpToolConfig, http: httpx.AsyncClient, desk: ConfirmDesk) -> None:
        self.cfg = cfg
        self.http = http
        self.desk = desk
        self.template = Template(cfg.url)
        self.headers = {**cfg.headers, **{k: v.reveal() for k, v in cfg.secret_headers}}

    def tool(self) -> Tool:
        params = dict(self.cfg.parameters) or {"type": "object", "properties": {}}
        params.setdefault("type", "object")
        if self.cfg.confirm:
            self.desk.register(self.cfg.name, functools.partial(self.call, confirmed=True))
        return Tool(self.cfg.name, self.cfg.description, params, self.call, self.cfg.timeout_s)

    async def call(self, args: dict[str, Any], *, confirmed: bool = False) -> dict[str, Any]:
        if self.cfg.confirm and not confirmed:
            self.desk.ask(self.cfg.name, self.cfg.name, args, f"Shall I use {self.cfg.name}?")
        try:
            url, used = self.template.fill(args)
        except KeyError as exc:
            raise ToolFailure("bad_arguments", f"{exc.args[0]} is needed") from None
        except TypeError as exc:
            raise ToolFailure("bad_arguments", str(exc)) from None
        body = None
        if self.cfg.body == "json":
            body = json.dumps({k: v for k, v in args.items() if k not in used}).encode()
        headers = dict(self.headers)
        headers["Accept-Encoding"] = "identity"
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        try:
            return await self._send(url, body, headers)
        except httpx.TimeoutException:
            raise ToolFailure("timeout", f"no answer in {self.cfg.timeout_s:g} s") from None
        except httpx.ConnectError:
            raise ToolFailure("unreachable", "cannot connect to the service") from None
        except (httpx.TransportError, httpx.InvalidURL):
            raise ToolFailure("unreachable", "the connection failed before an answer") from None

    async def _send(self, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, Any]:
        timeout = httpx.Timeout(self.cfg.timeout_s, connect=min(1.0, self.cfg.timeout_s))
        async with self.http.stream(
            self.cfg.method, url, content=body, headers=headers, timeout=timeout,
            follow_redirects=False,
        ) as resp:  # fmt: skip
            if not 200 <= resp.status_code < 300:
                raise ToolFailure("http_error", f"the service answered http {resp.status_code}")
            encoding = resp.headers.get("content-encoding", "identity").lower()
            if encoding not in ("identity", ""):
                raise ToolFailure("bad_response", "the service sent a compressed answer")
            data = bytearray()
            async for chunk in resp.aiter_raw():
                data += chunk
                if len(data) > self.cfg.max_bytes:
                    raise ToolFailure(
                        "result_too_large", f"the answer is over {self.cfg.max_bytes} bytes"
                    )
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        return self._result(bytes(data), ctype)

    def _result(self, data: bytes, ctype: str) -> dict[str, Any]:
        text = data.decode("utf-8", "replace")
        if ctype.endswith("json") or self.cfg.result_pointer:
            try:
                value = decode_json(text)
            except ValueError:
                raise ToolFailure("bad_response", "the answer is not JSON") from None
            if self.cfg.result_pointer:
                value = json_pointer(value, self.cfg.result_pointer)
            return {"result": clean_json(value)}
        return {"text": clean_text(text, MAX_TEXT_CHARS)}


def json_pointer(value: Any, pointer: str) -> Any:
    """RFC 6901: the value at `pointer`; ToolFailure("bad_response") when it is not there."""
    if pointer in ("", "/"):
        return value
    for token in pointer.lstrip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise ToolFailure("bad_response", "the answer has no value where result_pointer points")
    return value


def http_tools(
    cfgs: tuple[HttpToolConfig, ...], http: httpx.AsyncClient, desk: ConfirmDesk
) -> list[Tool]:
    """The registry tools of ``[[tools.http]]``."""
    return [HttpTool(cfg, http, desk).tool() for cfg in cfgs]
