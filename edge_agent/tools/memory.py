"""Memories the user asked the assistant to keep: ``set_memory``, ``get_memory``, ``forget_memory``.

Stored in SQLite under the state directory (``<state_dir>/memory.sqlite3``): every write is one
transaction in WAL mode with ``synchronous=FULL``, so a power cut or a killed process leaves
either the old or the new value, never a corrupted store. The file is created 0600 (memories
are personal). Blocking SQLite calls run in a worker thread, never on the event loop.
New sessions get `memories_for_instructions()` appended to their instructions.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Final

from edge_agent.errors import ToolError
from edge_agent.tools.registry import Tool

__all__ = ["MAX_ENTRIES", "MAX_KEY_CHARS", "MAX_VALUE_CHARS", "MemoryStore", "memory_tools"]

MAX_ENTRIES: Final = 200
MAX_KEY_CHARS: Final = 64
MAX_VALUE_CHARS: Final = 500
INSTRUCTIONS_MAX_CHARS: Final = 4000

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS memories (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
)
"""


class MemoryStore:
    """A small key → value store; the methods are blocking (call them off the loop)."""

    def __init__(self, path: Path | str, *, max_entries: int = MAX_ENTRIES) -> None:
        """Open (or create) the store. Raises OSError when it cannot be opened."""
        self.path = Path(path)
        self.max_entries = max_entries
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the memory store {str(self.path)!r}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def set(self, key: str, value: str) -> None:
        """Store `value` under `key` (replacing it); ToolError when the store is full."""
        key, value = _key(key), value.strip()[:MAX_VALUE_CHARS]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                exists = self._db.execute("SELECT 1 FROM memories WHERE key=?", (key,)).fetchone()
                (count,) = self._db.execute("SELECT count(*) FROM memories").fetchone()
                if not exists and count >= self.max_entries:
                    raise ToolError("memory_full", "forget something first")
                self._db.execute(
                    "INSERT INTO memories(key, value, updated_at) VALUES(?, ?, ?) ON CONFLICT(key) "
                    "DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                    (key, value, time.time()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM memories WHERE key=?", (_key(key),)
            ).fetchone()
        return row[0] if row else None

    def all(self) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM memories ORDER BY key").fetchall()
        return dict(rows)

    def forget(self, key: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM memories WHERE key=?", (_key(key),))
        return cursor.rowcount > 0

    def memories_for_instructions(self) -> str:
        """A paragraph for a new session's instructions ("" when nothing is stored)."""
        items = self.all()
        if not items:
            return ""
        lines = ["Things the user asked you to remember (key: value):"]
        size = len(lines[0])
        for key, value in items.items():
            line = f"- {key}: {value}"
            size += len(line) + 1
            if size > INSTRUCTIONS_MAX_CHARS:
                break
            lines.append(line)
        return "\n".join(lines)


def _key(key: str) -> str:
    key = " ".join(key.split()).lower()
    if not key:
        raise ToolError("bad_arguments", "key is empty")
    return key[:MAX_KEY_CHARS]


def memory_tools(store: MemoryStore, *, timeout_s: float = 4.0) -> list[Tool]:
    """The three memory tools over `store`."""

    async def set_memory(args: dict[str, Any]) -> dict[str, Any]:
        await asyncio.to_thread(store.set, args["key"], args["value"])
        return {"saved": _key(args["key"])}

    async def get_memory(args: dict[str, Any]) -> dict[str, Any]:
        if args.get("key"):
            value = await asyncio.to_thread(store.get, args["key"])
            if value is None:
                raise ToolError("not_found", f"nothing remembered under {_key(args['key'])!r}")
            return {"key": _key(args["key"]), "value": value}
        return {"memories": await asyncio.to_thread(store.all)}

    async def forget_memory(args: dict[str, Any]) -> dict[str, Any]:
        if not await asyncio.to_thread(store.forget, args["key"]):
            raise ToolError("not_found", f"nothing remembered under {_key(args['key'])!r}")
        return {"forgotten": _key(args["key"])}

    key = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS}
    return [
        Tool(
            "set_memory",
            "Remember a fact the user asked you to keep, under a short key "
            "(e.g. key 'favourite colour', value 'green'). Replaces an existing value.",
            {
                "type": "object",
                "properties": {
                    "key": key,
                    "value": {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_CHARS},
                },
                "required": ["key", "value"],
                "additionalProperties": False,
            },
            set_memory,
            timeout_s,
        ),
        Tool(
            "get_memory",
            "Recall a remembered fact by key, or all remembered facts when no key is given.",
            {"type": "object", "properties": {"key": key}, "additionalProperties": False},
            get_memory,
            timeout_s,
        ),
        Tool(
            "forget_memory",
            "Forget a remembered fact by key, when the user asks you to.",
            {
                "type": "object",
                "properties": {"key": key},
                "required": ["key"],
                "additionalProperties": False,
            },
            forget_memory,
            timeout_s,
        ),
    ]
