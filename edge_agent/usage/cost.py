"""The USD cost of one response from its ``response.done`` usage and a model's prices. Pure.

The service bills every token of a response: input text and audio (the whole conversation is
re-read on every response), of which the cached part at the cached rate, and output text
(including reasoning) and audio. `Usage.cached_tokens` is part of `input_tokens`; when the
service details the cached split (`cached_text_tokens`, `cached_audio_tokens`) each kind gets
its own rate. Where the service gives no detail, tokens are taken as audio (the dearer kind, and
what a voice session's history mostly is), so that a budget errs on the safe side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from edge_agent.realtime.events import Usage
from edge_agent.usage.prices import Prices

__all__ = ["Cost", "cost_of"]

_PER_TOKEN: Final = 1e-6  # prices are per 1M tokens


@dataclass(frozen=True, slots=True)
class Cost:
    """One response's cost in USD, split the way the bill is."""

    text_in: float = 0.0
    text_cached: float = 0.0
    text_out: float = 0.0
    audio_in: float = 0.0
    audio_cached: float = 0.0
    audio_out: float = 0.0

    @property
    def total(self) -> float:
        return (
            self.text_in
            + self.text_cached
            + self.text_out
            + self.audio_in
            + self.audio_cached
            + self.audio_out
        )


def _split_cached(u: Usage) -> tuple[int, int]:
    """(cached text, cached audio) tokens, each capped by its kind's input count."""
    if u.cached_text_tokens or u.cached_audio_tokens:
        return (
            min(u.cached_text_tokens, u.input_text_tokens),
            min(u.cached_audio_tokens, u.input_audio_tokens),
        )
    audio = min(u.cached_tokens, u.input_audio_tokens)
    return min(u.cached_tokens - audio, u.input_text_tokens), audio


def cost_of(usage: Usage, prices: Prices) -> Cost:
    """What `usage` costs at `prices`; negative counts (a hostile frame) count as zero."""
    u = Usage(*(max(0, getattr(usage, f)) for f in Usage.__slots__))
    cached_text, cached_audio = _split_cached(u)
    text_in = u.input_text_tokens
    audio_in = u.input_audio_tokens
    if not (text_in or audio_in) and u.input_tokens:  # no detail: bill as audio
        audio_in = u.input_tokens
        cached_text, cached_audio = 0, min(u.cached_tokens, audio_in)
    text_out, audio_out = u.output_text_tokens, u.output_audio_tokens
    if not (text_out or audio_out) and u.output_tokens:  # no detail: bill as audio (typical)
        audio_out = u.output_tokens
    return Cost(
        text_in=(text_in - cached_text) * prices.text_in * _PER_TOKEN,
        text_cached=cached_text * prices.text_cached * _PER_TOKEN,
        text_out=text_out * prices.text_out * _PER_TOKEN,
        audio_in=(audio_in - cached_audio) * prices.audio_in * _PER_TOKEN,
        audio_cached=cached_audio * prices.audio_cached * _PER_TOKEN,
        audio_out=audio_out * prices.audio_out * _PER_TOKEN,
    )
