"""Logging to journald with structured fields, or to stderr with `<N>` priority prefixes.

A record's UPPER_CASE `extra=` keys become journal fields (STATE, TURN_ID, WAKE_SCORE,
LATENCY_MS, TOOL, DEVICE, ERROR_CODE …) so people can filter with
``journalctl -u edge-agent STATE=speaking``. Without a journal socket (a terminal, a container)
each record is one stderr line that journald would also parse if it captured it.

Secrets registered with `add_secret` are replaced by ``***`` in every message and field, as a
last line of defence: code must still never log them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import traceback
from typing import Final, TextIO

__all__ = [
    "JOURNAL_SOCKET",
    "JournalHandler",
    "StderrHandler",
    "add_secret",
    "journal_fields",
    "setup_logging",
    "syslog_priority",
]

JOURNAL_SOCKET: Final = "/run/systemd/journal/socket"
IDENTIFIER: Final = "edge-agent"
_FIELD_RE: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")  # journald's rule for field names
_OWN_FIELDS: Final = frozenset(
    {"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "LOGGER", "CODE_FILE", "CODE_LINE", "CODE_FUNC"}
)
_SECRETS: set[str] = set()


def add_secret(value: str) -> None:
    """Never let `value` reach a log line (ignored when shorter than 4 characters)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def _redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def syslog_priority(levelno: int) -> int:
    """Python level → syslog priority (journald PRIORITY)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def journal_fields(record: logging.LogRecord) -> dict[str, str]:
    """The structured fields of a record: its UPPER_CASE extras, as strings."""
    return {
        key: _redact(str(value))
        for key, value in record.__dict__.items()
        if _FIELD_RE.match(key) and key not in _OWN_FIELDS and value is not None
    }


def _message(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and record.exc_info[0] is not None:
        text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
    if record.stack_info:
        text += "\n" + record.stack_info.rstrip()
    return _redact(text)


class JournalHandler(logging.Handler):
    """Sends each record as one journald entry through systemd-python."""

    def __init__(self, identifier: str = IDENTIFIER, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        from systemd import journal  # type: ignore[import-untyped]  # only this handler needs it

        self._sendv = journal.sendv
        self.identifier = identifier
        self._fallback = StderrHandler()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = journal_fields(record)
            args = [
                f"MESSAGE={_message(record)}",
                f"PRIORITY={syslog_priority(record.levelno)}",
                f"SYSLOG_IDENTIFIER={self.identifier}",
                f"LOGGER={record.name}",
                f"CODE_FILE={record.pathname}",
                f"CODE_LINE={record.lineno}",
                f"CODE_FUNC={record.funcName}",
                *(f"{k}={v}" for k, v in fields.items()),
            ]
            self._sendv(*args)
        except OSError:
            self._fallback.emit(record)  # journald restarting or gone: keep the line
        except Exception:
            self.handleError(record)  # e.g. a NUL byte in a field: never raise into the caller


class StderrHandler(logging.StreamHandler[TextIO]):
    """One line per record: `<N>logger: message KEY=value …` (sd-daemon prefix format).

    By default it writes to its own duplicate of fd 2, taken when it is made: PyAudio's start-up
    runs in a worker thread with fd 2 sent to /dev/null (`audio.devices.quiet_stderr`, against
    ALSA's enumeration noise), and a record logged on the loop meanwhile (the start-up model
    warning) must not go there too. Falls back to `sys.stderr` when it has no file descriptor.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._own: TextIO | None = None
        if stream is None:
            self._own = _own_stderr()
        super().__init__(stream or self._own or sys.stderr)

    def close(self) -> None:
        super().close()
        own, self._own = self._own, None
        if own is not None:
            with contextlib.suppress(OSError, ValueError):
                own.close()

    def format(self, record: logging.LogRecord) -> str:
        fields = journal_fields(record)
        extra = "".join(f" {k}={v}" for k, v in fields.items())
        lines = _message(record).split("\n")
        head = f"<{syslog_priority(record.levelno)}>{record.name}: {lines[0]}{extra}"
        return "\n".join(
            [head, *(f"<{syslog_priority(record.levelno)}>  {ln}" for ln in lines[1:])]
        )


def _own_stderr() -> TextIO | None:
    """A line-buffered text stream on a duplicate of the fd under `sys.stderr`, or None."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a non-file (a test's capture)
        return None
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    return open(dup, "w", buffering=1, encoding=encoding, errors="backslashreplace")


def setup_logging(level: str | int = "info", *, use_journal: bool | None = None) -> logging.Handler:
    """Route the root logger to journald when its socket exists, else to stderr.

    Args:
        level: a level name or number.
        use_journal: force the choice (tests); None decides by the socket's existence.
    """
    if use_journal is None:
        use_journal = os.path.exists(JOURNAL_SOCKET) and not os.environ.get("EDGE_AGENT_LOG_STDERR")
    handler: logging.Handler
    try:
        handler = JournalHandler() if use_journal else StderrHandler()
    except ImportError:  # systemd-python missing (not Linux, or a bare venv): keep logging
        handler = StderrHandler()
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, JournalHandler | StderrHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # httpx logs every request URL at INFO; some device APIs (Hue v1) carry credentials in the
    # path, and one line per device call is noise in the journal anyway.
    for noisy in ("httpx", "httpcore", "websockets"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
