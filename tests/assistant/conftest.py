"""Rigs for the assistant tests: a fake wall clock, the tools' HTTP client and emulators."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.tools.conftest import http, serve, tls  # noqa: F401  (fixtures)


def utc(*args: int) -> float:
    """Epoch seconds of a UTC date and time, e.g. utc(2026, 3, 29, 0, 30)."""
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[arg-type, misc]


class Wall:
    """An injected wall clock (epoch seconds) that tests move by hand."""

    def __init__(self, now_s: float) -> None:
        self.now = now_s

    def __call__(self) -> float:
        return self.now
