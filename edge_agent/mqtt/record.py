"""What the daemon announced, and to which broker: ``<state_dir>/mqtt-announced.json``.

Without an [mqtt] section the daemon cannot know which broker holds its retained discovery
configs; this record can. It is written after each successful announcement and removed once the
topics are cleared (`edge_agent.mqtt.forget`). It holds the broker's address, the user name and
the *path* of the password file, never a password.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

from edge_agent.config import MqttConfig

__all__ = ["RECORD_NAME", "Announced", "delete", "load", "save"]

RECORD_NAME: Final = "mqtt-announced.json"


@dataclass(frozen=True, slots=True)
class Announced:
    """The broker and the retained topics of one announcement."""

    host: str
    port: int
    username: str = ""
    password_file: str = ""
    client_id: str = ""
    tls: bool = False
    ca_file: str = ""
    verify: bool = True
    topics: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, cfg: MqttConfig, client_id: str, topics: tuple[str, ...]) -> Announced:
        return cls(
            cfg.host,
            cfg.port,
            cfg.username,
            cfg.password_file,
            client_id,
            cfg.tls.enabled,
            cfg.tls.ca_file,
            cfg.tls.verify,
            tuple(topics),
        )


def save(state_dir: Path, record: Announced) -> None:
    """Write the record atomically (mode 0600). Raises OSError."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / RECORD_NAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({**asdict(record), "topics": list(record.topics)}, f, indent=1)
    os.replace(tmp, path)


def load(state_dir: Path) -> Announced | None:
    """The record, or None when there is none or it is unreadable (then it is ignored)."""
    try:
        doc = json.loads((state_dir / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    try:
        topics = tuple(t for t in doc.get("topics", ()) if isinstance(t, str))
        record = Announced(**{**doc, "topics": topics})
    except TypeError:
        return None
    if not isinstance(record.host, str) or not isinstance(record.port, int):
        return None
    return record


def delete(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / RECORD_NAME).unlink()
