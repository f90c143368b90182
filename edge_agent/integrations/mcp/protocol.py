"""MCP's JSON-RPC 2.0 session core, sans-I/O: messages out, classified messages in.

Why our own and not the official SDK's client: importing ``mcp.client.session`` costs about
+56 MB of idle RSS (pydantic models of the whole protocol), more than the daemon's headroom on a
Pi Zero 2 W. We need a small part of MCP: ``initialize`` (version negotiation),
``notifications/initialized``, ``tools/list`` (paginated), ``tools/call``,
``notifications/cancelled`` and ``notifications/tools/list_changed``. Prompts, resources,
sampling, elicitation and roots are not used: a server's request for any of them is answered
with "method not found".

`Session` numbers requests, remembers which are pending and turns every incoming JSON value
into one frozen event. It never trusts the peer: a message that is not a JSON-RPC object, a
response to an id we never sent, or a result of the wrong shape becomes `Garbage` or an
`McpError`, never an exception from deep inside. Transports (`http_transport`,
`stdio_transport`) move the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from edge_agent.errors import ToolError

__all__ = [
    "CLIENT_INFO",
    "PROTOCOL_VERSIONS",
    "Event",
    "Garbage",
    "McpError",
    "Notification",
    "Response",
    "ServerRequest",
    "Session",
    "ToolsChanged",
]

PROTOCOL_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""Versions we speak, newest first; we offer the first and accept any of them back."""
CLIENT_INFO: Final = {"name": "edge-agent", "version": "1"}
METHOD_NOT_FOUND: Final = -32601


class McpError(ToolError):
    """An MCP exchange failed; `code` is a tool-result code (``unreachable``, ``mcp_error``...)."""


@dataclass(frozen=True, slots=True)
class Response:
    """The answer to our request `id`: `result` (a dict) or `error` (code, message)."""

    id: int
    result: Mapping[str, Any] | None = None
    error_code: int = 0
    error_message: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None


@dataclass(frozen=True, slots=True)
class ToolsChanged:
    """``notifications/tools/list_changed``: list the tools again."""


@dataclass(frozen=True, slots=True)
class Notification:
    """Any other notification (logging, progress): ignored by the client."""

    method: str


@dataclass(frozen=True, slots=True)
class ServerRequest:
    """The server asks us something (sampling, roots, ping); `reply` is what to send back."""

    method: str
    reply: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Garbage:
    """Something that is not a JSON-RPC message we expect (logged, dropped)."""

    why: str


Event = Response | ToolsChanged | Notification | ServerRequest | Garbage


class Session:
    """One MCP session's ids and negotiated facts.

    ``msg = session.request("tools/list", {})`` → send `msg`; feed every JSON value received to
    ``session.receive(value)``; a `Response` with ``msg["id"]`` is the answer.
    """

    def __init__(self) -> None:
        self._next_id = 1
        self.pending: set[int] = set()
        self.protocol_version = ""
        self.server_name = ""
        self.tools_list_changed = False  # the server said it sends list_changed
        self.instructions = ""

    def _reset(self) -> None:
        self.pending.clear()
        self.protocol_version = ""
        self.server_name = ""
        self.tools_list_changed = False  # the server said it sends list_changed
        self.instructions = ""

    # -- out -----------------------------------------------------------------------------------
    def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        ident = self._next_id
        self._next_id += 1
        self.pending.add(ident)
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            msg["params"] = dict(params)
        return msg

    def initialize(self) -> dict[str, Any]:
        """The ``initialize`` request (a new session starts its own numbering)."""
        self._reset()
        return self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSIONS[0],
                "capabilities": {},
                "clientInfo": CLIENT_INFO,
            },
        )

    @staticmethod
    def notification(method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = dict(params)
        return msg

    def cancelled(self, ident: int, reason: str) -> dict[str, Any]:
        """Tell the server we gave up on `ident` (its answer will be dropped)."""
        self.pending.discard(ident)
        return self.notification("notifications/cancelled", {"requestId": ident, "reason": reason})

    def forget(self, ident: int) -> None:
        self.pending.discard(ident)

    # -- in ------------------------------------------------------------------------------------
    def receive(self, value: Any) -> Event:
        """Classify one decoded JSON value from the server."""
        if not isinstance(value, dict) or value.get("jsonrpc") != "2.0":
            return Garbage("not a JSON-RPC 2.0 object")
        method = value.get("method")
        if isinstance(method, str):
            if "id" in value:  # a request from the server: we offer nothing but ping
                reply_id = value["id"] if isinstance(value["id"], int | str) else None
                if method == "ping":
                    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": reply_id, "result": {}}
                else:
                    reply = {
                        "jsonrpc": "2.0",
                        "id": reply_id,
                        "error": {"code": METHOD_NOT_FOUND, "message": "not supported"},
                    }
                return ServerRequest(method[:60], reply)
            if method == "notifications/tools/list_changed":
                return ToolsChanged()
            return Notification(method[:60])
        ident = value.get("id")
        if not isinstance(ident, int) or isinstance(ident, bool) or ident not in self.pending:
            return Garbage("a response to no request of ours")
        self.pending.discard(ident)
        if "error" in value:
            err = value["error"] if isinstance(value["error"], dict) else {}
            code = err.get("code") if isinstance(err.get("code"), int) else -32603
            message = err.get("message") if isinstance(err.get("message"), str) else ""
            return Response(ident, None, code, message[:300] or "error")
        result = value.get("result")
        if not isinstance(result, dict):
            return Response(ident, None, -32603, "result is not an object")
        return Response(ident, result)

    def accept_initialize(self, response: Response) -> None:
        """Check the ``initialize`` answer; raises McpError when we cannot go on."""
        result = _result(response)
        version = result.get("protocolVersion")
        if version not in PROTOCOL_VERSIONS:
            raise McpError(
                "mcp_unsupported",
                f"the server speaks MCP {str(version)[:20]!r}; edge-agent speaks "
                + ", ".join(PROTOCOL_VERSIONS),
            )
        self.protocol_version = str(version)
        caps = result.get("capabilities")
        caps = caps if isinstance(caps, dict) else {}
        tools = caps.get("tools")
        if not isinstance(tools, dict):
            raise McpError("mcp_no_tools", "the server offers no tools")
        self.tools_list_changed = tools.get("listChanged") is True
        info = result.get("serverInfo")
        if isinstance(info, dict) and isinstance(info.get("name"), str):
            self.server_name = info["name"][:60]
        if isinstance(result.get("instructions"), str):
            self.instructions = result["instructions"][:2000]


def _result(response: Response) -> Mapping[str, Any]:
    if response.result is None:
        raise McpError("mcp_error", f"server error {response.error_code}: {response.error_message}")
    return response.result
