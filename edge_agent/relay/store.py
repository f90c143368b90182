"""The relay's state directory: satellites.json (written by the CLI) and usage.json (by the service).

Each file has one writer, so they never race: `edge-agent relay add-satellite/revoke` change
satellites.json under an flock; the running service notices the change by its stat (checked on
every request: a revoke takes effect at once) and reads it again. A file that does not parse
leaves the service with no satellites (fail closed: a revocation is never lost to a bad edit).
Writes are atomic (temporary file, fsync, rename), mode 0600; run as root, the files are given
to the owner of the state directory (the service's user).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from edge_agent.relay.ledger import Ledger
from edge_agent.relay.tokens import Registry

__all__ = ["RelayStore", "StoreError"]

SATELLITES: Final = "satellites.json"
USAGE: Final = "usage.json"
MAX_FILE: Final = 4 * 2**20


class StoreError(Exception):
    """The state directory or a file in it is unusable; the message says which and why."""


class RelayStore:
    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(state_dir)
        self.satellites_path = self.dir / SATELLITES
        self.usage_path = self.dir / USAGE
        self._seen: tuple[int, int, int] | None = None

    # -- satellites ---------------------------------------------------------------------------
    def load_registry(self) -> Registry:
        """Raises StoreError."""
        data = self._read(self.satellites_path)
        if data is None:
            return Registry()
        try:
            return Registry.from_json(data)
        except ValueError as exc:
            raise StoreError(f"{self.satellites_path}: {exc}") from None

    def registry_changed(self) -> bool:
        """True once after satellites.json appeared, changed or went away (one stat call)."""
        try:
            st = os.stat(self.satellites_path)
            seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = (0, 0, 0)
        changed, self._seen = seen != self._seen, seen
        return changed

    @contextlib.contextmanager
    def editing(self) -> Iterator[None]:
        """Hold the lock for a read-change-write of satellites.json (the CLI's commands)."""
        self._ensure_dir()
        fd = os.open(self.dir / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def save_registry(self, registry: Registry) -> None:
        self._write(self.satellites_path, registry.to_json())

    # -- usage --------------------------------------------------------------------------------
    def load_ledger(self) -> Ledger:
        data = self._read(self.usage_path)
        if data is None:
            return Ledger()
        try:
            return Ledger.from_json(data)
        except ValueError as exc:
            raise StoreError(f"{self.usage_path}: {exc}") from None

    def save_usage(self, data: dict[str, Any]) -> None:
        self._write(self.usage_path, data)

    # -- files --------------------------------------------------------------------------------
    def _ensure_dir(self) -> None:
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.dir}: cannot create the state directory: {exc.strerror}; run as the "
                "relay's user or root, or set relay.state_dir"
            ) from None

    def _read(self, path: Path) -> Any:
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot read: {exc.strerror}; run as the relay's user"
            ) from None
        if len(raw) > MAX_FILE:
            raise StoreError(f"{path}: larger than {MAX_FILE} bytes")
        try:
            return json.loads(raw)
        except ValueError:
            raise StoreError(f"{path}: not JSON; restore it or remove it") from None

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        self._ensure_dir()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            if os.geteuid() == 0:
                st = os.stat(self.dir)
                os.chown(tmp, st.st_uid, st.st_gid)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(
                f"{path}: cannot write: {exc.strerror}; run as the relay's user"
            ) from None
