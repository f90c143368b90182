"""One summary record per turn: what the user waited for, in numbers. Pure (time is an argument).

The App opens a `TurnRecord` on `BeginTurn` and closes it on `EndTurn`; the components stamp
what they see into `TurnLog.current` (stream start, end of speech, first reply audio, reply
samples, tool calls). `TurnRecord.fields()` gives the journald fields of the summary line:

    TURN_ID, TRIGGER, WAKE_SCORE, WAKE_TO_STREAM_MS, LATENCY_MS (end of speech -> first reply
    audio), REPLY_MS (heard), TOOL_CALLS, TOOLS, OUTCOME, TURN_MS, COST_USD

Must not: log, read a clock or touch a device. The App logs the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = ["ToolCall", "TurnLog", "TurnRecord"]

_RATE_HZ: Final = 24000


@dataclass(slots=True)
class ToolCall:
    name: str
    ok: bool
    duration_ms: int


@dataclass(slots=True)
class TurnRecord:
    """Timestamps (seconds on the loop's clock) and counts of one turn; None = did not happen."""

    turn_id: str
    trigger: str
    began_s: float
    wake_model: str = ""
    wake_score: float | None = None
    stream_started_s: float | None = None
    speech_stopped_s: float | None = None
    first_audio_s: float | None = None
    reply_samples: int = 0
    streamed_samples: int = 0
    tools: list[ToolCall] = field(default_factory=list)
    outcome: str = ""
    ended_s: float | None = None
    cost_usd: float | None = None  # None: not priced (no price table)

    def mark_stream_started(self, now_s: float) -> None:
        if self.stream_started_s is None:
            self.stream_started_s = now_s

    def mark_speech_stopped(self, now_s: float) -> None:
        """The server's VAD ended the user's speech; the latency clock starts (again) here."""
        self.speech_stopped_s = now_s
        self.first_audio_s = None

    def mark_reply_audio(self, samples: int, now_s: float) -> None:
        if self.first_audio_s is None:
            self.first_audio_s = now_s
        self.reply_samples += samples

    @property
    def wake_to_stream_ms(self) -> int | None:
        if self.stream_started_s is None or self.wake_score is None:
            return None
        return round((self.stream_started_s - self.began_s) * 1000)

    @property
    def latency_ms(self) -> int | None:
        """End of the user's speech (server VAD) -> first reply audio handed to the speaker."""
        if self.speech_stopped_s is None or self.first_audio_s is None:
            return None
        return round((self.first_audio_s - self.speech_stopped_s) * 1000)

    @property
    def reply_ms(self) -> int:
        return self.reply_samples * 1000 // _RATE_HZ

    def fields(self) -> dict[str, object]:
        """The journald fields of the summary (absent values left out)."""
        out: dict[str, object] = {
            "TURN_ID": self.turn_id,
            "TRIGGER": self.trigger,
            "OUTCOME": self.outcome,
            "REPLY_MS": self.reply_ms,
            "TOOL_CALLS": len(self.tools),
            "STREAMED_MS": self.streamed_samples * 1000 // _RATE_HZ,
        }
        if self.wake_score is not None:
            out["WAKE_SCORE"] = f"{self.wake_score:.3f}"
        if self.wake_to_stream_ms is not None:
            out["WAKE_TO_STREAM_MS"] = self.wake_to_stream_ms
        if self.latency_ms is not None:
            out["LATENCY_MS"] = self.latency_ms
        if self.tools:
            out["TOOLS"] = ",".join(f"{t.name}:{'ok' if t.ok else 'error'}" for t in self.tools)
        if self.ended_s is not None:
            out["TURN_MS"] = round((self.ended_s - self.began_s) * 1000)
        if self.cost_usd is not None:
            out["COST_USD"] = f"{self.cost_usd:.4f}"
        return out

    def summary(self) -> str:
        """One readable line: 'turn completed (wake): wake 0.981, ... '."""
        parts = [f"turn {self.outcome} ({self.trigger})"]
        if self.wake_score is not None:
            parts.append(f"wake {self.wake_score:.3f}")
        if self.wake_to_stream_ms is not None:
            parts.append(f"wake->stream {self.wake_to_stream_ms} ms")
        if self.latency_ms is not None:
            parts.append(f"latency {self.latency_ms} ms")
        if self.reply_samples:
            parts.append(f"reply {self.reply_ms / 1000:.2f} s")
        if self.tools:
            calls = ", ".join(f"{t.name}({'ok' if t.ok else 'error'})" for t in self.tools)
            parts.append(f"tools {calls}")
        if self.cost_usd is not None:
            parts.append(f"${self.cost_usd:.4f}")
        return ", ".join(parts)


class TurnLog:
    """The current turn's record and the finished ones (the last `keep`)."""

    def __init__(self, keep: int = 50) -> None:
        self.current: TurnRecord | None = None
        self.finished: list[TurnRecord] = []
        self._keep = keep

    def begin(
        self,
        turn_id: str,
        trigger: str,
        now_s: float,
        *,
        model: str = "",
        score: float | None = None,
    ) -> TurnRecord:
        self.current = TurnRecord(turn_id, trigger, now_s, wake_model=model, wake_score=score)
        return self.current

    def end(self, outcome: str, now_s: float) -> TurnRecord | None:
        """Close the current record; None when no turn was open."""
        record, self.current = self.current, None
        if record is None:
            return None
        record.outcome = outcome
        record.ended_s = now_s
        self.finished.append(record)
        del self.finished[: -self._keep]
        return record
