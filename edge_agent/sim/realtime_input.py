"""The emulated input audio buffer, sans-I/O: appended audio, the VAD, and what each commit held.

Samples are 24 kHz int16 mono, counted from the first sample appended in the session (the same
origin as the service's ``audio_start_ms``/``audio_end_ms``). A VAD commit takes exactly
``[speech start − prefix padding, speech end + silence_duration)`` and leaves what follows in
the buffer; a manual commit (or an idle-timeout commit) takes the whole buffer; a clear drops
it. Audio before an item's start is discarded, as the service does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from edge_agent.sim.realtime_vad import SAMPLES_PER_MS, EnergyVad, VadStart, VadStop

__all__ = ["MIN_COMMIT_MS", "CommittedItem", "InputBuffer"]

MIN_COMMIT_MS: Final = 100  # below this a manual commit is input_audio_buffer_commit_empty


@dataclass(frozen=True, slots=True)
class CommittedItem:
    """One committed user audio item: which samples of the session's input it holds.

    ``start_sample``/``end_sample`` are offsets into all audio appended in *that* session
    (``session`` = its index in `RealtimeEmulator.committed` order of connections, from 0);
    ``pcm`` is exactly ``session_audio[start_sample:end_sample]`` (int16 LE bytes).
    ``trigger`` is ``"vad"``, ``"manual"`` (input_audio_buffer.commit) or ``"timeout"``.
    """

    item_id: str
    start_sample: int
    end_sample: int
    pcm: bytes
    session: int = 0
    trigger: str = "vad"

    @property
    def start_ms(self) -> int:
        return self.start_sample // SAMPLES_PER_MS

    @property
    def end_ms(self) -> int:
        return self.end_sample // SAMPLES_PER_MS

    @property
    def duration_ms(self) -> int:
        return (self.end_sample - self.start_sample) // SAMPLES_PER_MS


class InputBuffer:
    """All audio appended in one session, the uncommitted part, and the VAD over it."""

    def __init__(self, session: int = 0) -> None:
        self.session = session
        self.audio = bytearray()  # everything appended this session
        self.start = 0  # first sample of the uncommitted buffer
        self.vad = EnergyVad()

    @property
    def samples(self) -> int:
        return len(self.audio) // 2

    @property
    def buffered_ms(self) -> int:
        return (self.samples - self.start) // SAMPLES_PER_MS

    def append(self, pcm: bytes, *, vad: bool) -> list[VadStart | VadStop]:
        self.audio += pcm
        changes = self.vad.feed(pcm)  # always, so its clock stays on the session's samples
        return changes if vad else []

    def take(self, stop: VadStop, item_id: str) -> CommittedItem:
        """The item a VAD stop commits; the buffer then starts where it ended."""
        start = max(stop.start_sample, self.start)
        item = self._item(item_id, start, stop.end_sample, "vad")
        self.start = stop.end_sample
        return item

    def commit_all(self, item_id: str, trigger: str = "manual") -> CommittedItem | None:
        """The whole buffer as one item, or None when it holds less than 100 ms."""
        if self.buffered_ms < MIN_COMMIT_MS:
            return None
        item = self._item(item_id, self.start, self.samples, trigger)
        self.clear()
        return item

    def clear(self) -> None:
        self.start = self.samples
        self.vad.reset(self.start)

    def _item(self, item_id: str, start: int, end: int, trigger: str) -> CommittedItem:
        pcm = bytes(self.audio[start * 2 : end * 2])
        return CommittedItem(item_id, start, end, pcm, self.session, trigger)
