"""What an MCP server's tool list and tool results become on our side. Pure.

A server's tool list is hostile input offered to the model: names are turned into Realtime
function names (``^[a-zA-Z0-9_-]{1,64}$``) under a namespace, descriptions are cleaned and
capped (they are text the model reads), and input schemas are reduced to a known subset of JSON
Schema before fastjsonschema compiles them: no ``$ref`` (fastjsonschema would fetch a remote
one), no ``pattern``/``format`` (a hostile regular expression can stall the loop), bounded depth
and size. The reduced schema is both what the model sees and what arguments are checked against
before a call; the server checks the rest itself.

A ``tools/call`` result becomes a small JSON-able dict: text content (parsed when it is JSON),
cleaned by `clean_json`; images, audio and resources are left out (counted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import fastjsonschema

from edge_agent.integrations.mcp.framing import decode_json
from edge_agent.tools.sanitize import clean_text, finite_number

__all__ = [
    "MAX_TEXT_CHARS",
    "McpTool",
    "allowed",
    "clean_json",
    "function_name",
    "guard_schema",
    "parse_tools",
    "tool_result",
]

MAX_TOOLS: Final = 256
MAX_DESCRIPTION_CHARS: Final = 400
MAX_TEXT_CHARS: Final = 4000
MAX_SCHEMA_BYTES: Final = 16_000
MAX_SCHEMA_DEPTH: Final = 6
_NAME_OK: Final = re.compile(r"[^a-zA-Z0-9_-]")
_SCALAR_KEYS: Final = frozenset(
    {
        "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "required",
        "multipleOf", "minProperties", "maxProperties",
    }
)  # fmt: skip
_TEXT_KEYS: Final = frozenset({"description", "title"})


@dataclass(frozen=True, slots=True)
class McpTool:
    """One tool as the server lists it, made safe: `name` is the server's own."""

    name: str
    description: str
    parameters: Mapping[str, Any]


def parse_tools(result: Mapping[str, Any]) -> tuple[list[McpTool], str]:
    """The tools in one ``tools/list`` page and its ``nextCursor`` ("" at the end)."""
    raw = result.get("tools")
    tools: list[McpTool] = []
    for item in raw[:MAX_TOOLS] if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        if not name or len(name) > 128:
            continue
        schema = guard_schema(item.get("inputSchema"))
        if schema is None:
            continue
        description = clean_text(item.get("description") or "", MAX_DESCRIPTION_CHARS)
        tools.append(McpTool(name, description, schema))
    cursor = result.get("nextCursor")
    return tools, cursor[:500] if isinstance(cursor, str) else ""


def function_name(prefix: str, tool: str) -> str:
    """`prefix` + the tool's name as a Realtime function name (invalid characters → "_")."""
    return (prefix + _NAME_OK.sub("_", tool))[:64]


def guard_schema(schema: Any) -> dict[str, Any] | None:
    """An object schema limited to safe keywords, or None when it cannot be made one."""
    if schema is None:
        schema = {"type": "object"}
    if not isinstance(schema, dict):
        return None
    try:
        if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
            return None
    except (TypeError, ValueError):
        return None
    out = _reduce(schema, 0)
    if out is None or out.get("type", "object") != "object":
        return None
    out["type"] = "object"
    out.setdefault("properties", {})
    try:
        fastjsonschema.compile(out)
    except Exception:  # fastjsonschema raises several types for a bad definition
        return None
    return out


def _reduce(node: Any, depth: int) -> dict[str, Any] | None:
    if not isinstance(node, dict) or depth > MAX_SCHEMA_DEPTH:
        return None
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCALAR_KEYS and _plain(value):
            out[key] = value
        elif key in _TEXT_KEYS and isinstance(value, str):
            out[key] = clean_text(value, 200)
        elif key == "properties" and isinstance(value, dict):
            props = {}
            for pname, pschema in list(value.items())[:64]:
                reduced = _reduce(pschema, depth + 1)
                if isinstance(pname, str) and len(pname) <= 64 and reduced is not None:
                    props[pname] = reduced
            out[key] = props
        elif key in ("items", "additionalProperties"):
            if isinstance(value, bool):
                out[key] = value
            elif (reduced := _reduce(value, depth + 1)) is not None:
                out[key] = reduced
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            options = [r for v in value[:16] if (r := _reduce(v, depth + 1)) is not None]
            if options:
                out[key] = options
    if "required" in out and not (
        isinstance(out["required"], list) and all(isinstance(r, str) for r in out["required"])
    ):
        del out["required"]
    return out


def _plain(value: Any) -> bool:
    """JSON scalars and short lists of them (enum, type lists, required)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return not isinstance(value, str) or len(value) <= 200
    if isinstance(value, list):
        return len(value) <= 100 and all(
            isinstance(v, str | int | float | bool) and (not isinstance(v, str) or len(v) <= 200)
            for v in value
        )
    return False


def clean_json(value: Any, depth: int = 0, *, text_chars: int = 400) -> Any:
    """`value` with every string cleaned and capped, numbers finite, size and depth bounded."""
    if isinstance(value, str):
        return clean_text(value, text_chars)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return finite_number(value)
    if depth >= 6:
        return "…"
    if isinstance(value, list):
        return [clean_json(v, depth + 1, text_chars=text_chars) for v in value[:50]]
    if isinstance(value, dict):
        return {
            clean_text(k, 60): clean_json(v, depth + 1, text_chars=text_chars)
            for k, v in list(value.items())[:50]
        }
    return clean_text(str(value), 60)


def tool_result(result: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """A ``tools/call`` result as our tool result, and whether the server flagged an error."""
    is_error = result.get("isError") is True
    texts: list[str] = []
    skipped = 0
    content = result.get("content")
    for item in content[:20] if isinstance(content, list) else []:
        if (
            isinstance(item, dict)
            and item.get("type") == "text"
            and isinstance(item.get("text"), str)
        ):
            texts.append(item["text"])
        else:
            skipped += 1
    out: dict[str, Any] = {}
    if len(texts) == 1 and (parsed := _json_or_none(texts[0])) is not None:
        out["result"] = clean_json(parsed)
    elif texts:
        out["text"] = clean_text(" ".join(texts), MAX_TEXT_CHARS)
    elif isinstance(result.get("structuredContent"), dict):
        out["result"] = clean_json(result["structuredContent"])
    if skipped:
        out["omitted_items"] = skipped
    return out, is_error


def _json_or_none(text: str) -> Any:
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return decode_json(text)
    except ValueError:
        return None


def allowed(tools: Iterable[McpTool], allow: Iterable[str]) -> list[McpTool]:
    """The tools `allow` lists (``"*"`` lists all)."""
    wanted = set(allow)
    return [t for t in tools if "*" in wanted or t.name in wanted]
