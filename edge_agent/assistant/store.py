"""Timers, alarms and the volume on disk: ``<state_dir>/assistant.sqlite3``.

Same rules as the memory store: WAL with ``synchronous=FULL``, one transaction per write, so a
power cut or SIGKILL leaves the old or the new state, never a broken file; created 0600. Every
SQLite call runs on this store's own single worker thread (one connection, never shared with
another thread, never on the event loop), with a short busy timeout so a second process (the
`edge-agent tool` CLI) waits briefly instead of failing or blocking for long.

Must not: decide anything (what is due, what a volume step is); it saves and loads.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

from edge_agent.assistant.timers import Entry

__all__ = ["BUSY_TIMEOUT_MS", "AssistantStore"]

BUSY_TIMEOUT_MS: Final = 500
_T = TypeVar("_T")

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS timers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('timer', 'alarm')),
        label TEXT NOT NULL,
        due_at_s REAL NOT NULL,
        created_at_s REAL NOT NULL,
        duration_s REAL NOT NULL DEFAULT 0,
        hour INTEGER NOT NULL DEFAULT 0,
        minute INTEGER NOT NULL DEFAULT 0,
        repeat TEXT NOT NULL DEFAULT '',
        on_date TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_COLUMNS: Final = (
    "id, kind, label, due_at_s, created_at_s, duration_s, hour, minute, repeat, on_date"
)


class AssistantStore:
    """Async store; ``await AssistantStore.open(path)``, then the methods, then `aclose`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assistant-db")
        self._db: sqlite3.Connection | None = None
        self._data_version = -1

    @classmethod
    async def open(cls, path: Path | str) -> AssistantStore:
        """Open (or create) the store. Raises OSError when it cannot."""
        store = cls(Path(path))
        try:
            await store._run(store._open_blocking)
        except BaseException:
            store._executor.shutdown(wait=False)
            raise
        return store

    async def aclose(self) -> None:
        await self._run(self._close_blocking)
        self._executor.shutdown(wait=True)

    # -- timers --------------------------------------------------------------------------------
    async def load(self) -> list[Entry]:
        return await self._run(self._load_blocking)

    async def insert(self, entry: Entry) -> int:
        """Save a new entry; returns its id (never reused, even after a cancel)."""
        return await self._run(self._insert_blocking, entry)

    async def update_due(self, entries: list[Entry]) -> None:
        """Save the new due time of re-armed repeating alarms."""
        if entries:
            await self._run(
                self._write,
                [("UPDATE timers SET due_at_s=? WHERE id=?", (e.due_at_s, e.id)) for e in entries],
            )

    async def delete(self, ids: list[int]) -> None:
        if ids:
            await self._run(self._write, [("DELETE FROM timers WHERE id=?", (i,)) for i in ids])

    async def changed_elsewhere(self) -> bool:
        """Did another process (the `edge-agent tool` CLI) commit since the last call?"""
        return await self._run(self._changed_blocking)

    # -- settings ------------------------------------------------------------------------------
    async def get_setting(self, key: str) -> str | None:
        return await self._run(self._get_setting_blocking, key)

    async def set_setting(self, key: str, value: str) -> None:
        sql = "INSERT INTO settings(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value"
        await self._run(self._write, [(sql, (key, value))])

    # -- worker thread -------------------------------------------------------------------------
    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise OSError(f"the assistant store {str(self.path)!r} is closed")
        return self._db

    def _open_blocking(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                db.execute(statement)
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the assistant store {str(self.path)!r}: {exc}") from None
        self._db = db

    def _close_blocking(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        db = self._conn()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    db.execute(sql, params)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise OSError(f"cannot write the assistant store: {exc}") from None

    def _insert_blocking(self, entry: Entry) -> int:
        db = self._conn()
        try:
            cursor = db.execute(
                f"INSERT INTO timers({_COLUMNS}) VALUES(NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.kind,
                    entry.label,
                    entry.due_at_s,
                    entry.created_at_s,
                    entry.duration_s,
                    entry.hour,
                    entry.minute,
                    ",".join(str(d) for d in entry.repeat),
                    entry.on_date,
                ),
            )
        except sqlite3.Error as exc:
            raise OSError(f"cannot write the assistant store: {exc}") from None
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _load_blocking(self) -> list[Entry]:
        try:
            rows = self._conn().execute(f"SELECT {_COLUMNS} FROM timers ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise OSError(f"cannot read the assistant store: {exc}") from None
        out = []
        for row in rows:
            repeat = tuple(int(d) for d in row[8].split(",") if d.isdigit() and int(d) < 7)
            out.append(Entry(row[0], row[1], row[2], float(row[3]), float(row[4]), float(row[5]),
                             int(row[6]), int(row[7]), repeat, row[9]))  # fmt: skip
        return out

    def _changed_blocking(self) -> bool:
        try:
            (version,) = self._conn().execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as exc:
            raise OSError(f"cannot read the assistant store: {exc}") from None
        changed = self._data_version not in (-1, version)
        self._data_version = version
        return changed

    def _get_setting_blocking(self, key: str) -> str | None:
        try:
            row = self._conn().execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise OSError(f"cannot read the assistant store: {exc}") from None
        return row[0] if row else None
