"""Turn bookkeeping for one Realtime session, sans-I/O (time is an argument, `now_ms`).

Owns the rules of realtime-protocol.md §5(c) and §6, so the connection shell never decides:

- at most one active response: from ``response.created`` to ``response.done``, plus the gap
  between our ``response.create`` and its ``response.created``; a request made meanwhile is
  queued and sent once after ``response.done``;
- function calls: after every ``function_call_output`` of a turn is sent and the response that
  carried the calls is done, exactly one ``response.create``;
- the late-tool-result pitfall: while a call is pending the input is held (the shell does not
  stream mic audio and the server's input buffer is cleared once), so server VAD cannot start a
  response that lacks the tool result; a tool that misses its budget gets a structured
  "still working" output so the call never stays open, and its real result, when it comes, is
  added as a system note without a new response;
- barge-in: ``response.cancel`` if a response is active, ``conversation.item.truncate`` at the
  played milliseconds capped at what was received, ``input_audio_buffer.clear``;
- audio positions per output item: samples received (from deltas) and played (reported by the
  app from its playback counter).

Every method returns the client events to send, in order, as dicts from `protocol`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Final

from edge_agent.realtime import protocol as p

__all__ = ["DEFAULT_TOOL_BUDGET_MS", "Conversation"]

log = logging.getLogger(__name__)

DEFAULT_TOOL_BUDGET_MS: Final = 8_000
_SAMPLES_PER_MS: Final = p.SAMPLE_RATE_HZ // 1000
_KEPT_ITEMS: Final = 8
_HARMLESS_ERRORS: Final = frozenset({"response_cancel_not_active"})


@dataclass(slots=True)
class _AudioItem:
    response_id: str
    received_samples: int = 0
    played_samples: int = 0


@dataclass(slots=True)
class _Call:
    name: str
    response_id: str
    deadline_ms: int
    answered: bool = False


class Conversation:
    """The state of one session's turns; `reset()` on every new session."""

    def __init__(self, *, tool_budget_ms: int = DEFAULT_TOOL_BUDGET_MS) -> None:
        self.tool_budget_ms = tool_budget_ms
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new session has no responses, items or calls."""
        self.active_response_id: str | None = None
        self._create_sent = False
        self._create_wanted = False
        self._cancel_on_create = False
        self._cancelled_id: str | None = None  # response.cancel sent, response.done pending
        self._items: dict[str, _AudioItem] = {}
        self.current_item_id: str | None = None
        self._calls: dict[str, _Call] = {}
        self._expired_calls: dict[str, str] = {}  # call_id -> tool name, answered by the budget

    # -- predicates ------------------------------------------------------------------------------
    @property
    def is_response_active(self) -> bool:
        """A response exists or was requested and not yet done."""
        return self.active_response_id is not None or self._create_sent

    @property
    def is_input_held(self) -> bool:
        """True while a tool call waits for its output: do not stream mic audio now."""
        return any(not c.answered for c in self._calls.values())

    @property
    def is_idle(self) -> bool:
        """Between turns: nothing active, requested or pending (safe to rotate the session)."""
        return not (self.is_response_active or self._calls or self._create_wanted)

    def pending_call_ids(self) -> tuple[str, ...]:
        return tuple(cid for cid, c in self._calls.items() if not c.answered)

    # -- audio positions -------------------------------------------------------------------------
    def received_ms(self, item_id: str) -> int:
        item = self._items.get(item_id)
        return item.received_samples // _SAMPLES_PER_MS if item else 0

    def played_ms(self, item_id: str) -> int:
        item = self._items.get(item_id)
        return item.played_samples // _SAMPLES_PER_MS if item else 0

    def report_played(self, item_id: str, samples: int) -> None:
        """The app's playback counter: `samples` of `item_id` reached the speaker so far."""
        item = self._items.get(item_id)
        if item is not None:
            item.played_samples = max(item.played_samples, min(samples, item.received_samples))

    # -- server events ---------------------------------------------------------------------------
    def receive(self, event: p.ServerEvent, now_ms: int) -> list[p.Json]:
        """Feed one parsed server event; returns client events to send."""
        match event:
            case p.ResponseCreated(response_id=rid):
                self.active_response_id = rid
                self._create_sent = False
                if self._cancel_on_create:
                    self._cancel_on_create = False
                    return [p.response_cancel(rid)]
            case p.OutputItemAdded(response_id=rid, item_id=iid, item_type="message"):
                self._add_item(iid, rid)
            case p.AudioDelta(response_id=rid, item_id=iid, pcm=pcm):
                item = self._items.get(iid) or self._add_item(iid, rid)
                item.received_samples += len(pcm) // 2
            case p.FunctionCallDone(response_id=rid, call_id=cid, name=name):
                return self._add_call(cid, name, rid, now_ms)
            case p.ResponseDone(response_id=rid):
                if rid == self.active_response_id:
                    self.active_response_id = None
                return self._maybe_create()
            case p.ServerError(code="conversation_already_has_active_response"):
                # our create raced one the server made (VAD): send it again after response.done
                self._create_sent = False
                self._create_wanted = True
            case p.ServerError(code=code) if code in _HARMLESS_ERRORS:
                pass
        return []

    # -- requests from the app -------------------------------------------------------------------
    def request_response(self) -> list[p.Json]:
        """Ask for a reply (text turn, manual commit); queued while one is active."""
        self._create_wanted = True
        return self._maybe_create()

    def send_function_output(self, call_id: str, output_json: str) -> list[p.Json]:
        """The tool result for `call_id`; triggers the turn's single response.create when due."""
        call = self._calls.get(call_id)
        if call is not None and not call.answered:
            call.answered = True
            return [p.function_call_output(call_id, output_json), *self._maybe_create()]
        if call_id in self._expired_calls:
            name = self._expired_calls.pop(call_id)
            log.info("late tool result added as a note", extra={"TOOL": name})
            note = f"Late result of the earlier {name} call ({call_id}): {output_json}"
            return [p.system_message(note)]
        log.warning("output for unknown call %r dropped", call_id)
        return []

    def tick(self, now_ms: int) -> list[p.Json]:
        """Answer calls past their budget with a structured "still working" output."""
        out: list[p.Json] = []
        for cid, call in self._calls.items():
            if not call.answered and now_ms >= call.deadline_ms:
                call.answered = True
                self._expired_calls[cid] = call.name
                log.warning("tool over budget", extra={"TOOL": call.name})
                result = {
                    "status": "pending",
                    "error": "tool_timeout",
                    "message": f"{call.name} did not answer within "
                    f"{self.tool_budget_ms / 1000:g} s; tell the user it is taking longer",
                }
                out.append(p.function_call_output(cid, json.dumps(result)))
        if out:
            out += self._maybe_create()
        return out

    def next_deadline_ms(self) -> int | None:
        deadlines = [c.deadline_ms for c in self._calls.values() if not c.answered]
        return min(deadlines) if deadlines else None

    def barge_in(self, played_ms: int | None = None, *, clear_input: bool = True) -> list[p.Json]:
        """The user interrupted: cancel, truncate at what was heard, clear the input.

        Args:
            played_ms: milliseconds of the current item that reached the speaker; None uses
                the counter given to `report_played`.
            clear_input: True for a local barge-in (wake word, button: the new question is
                streamed next); False when server VAD heard the user, whose speech is the
                next question already in the input buffer.
        """
        out: list[p.Json] = []
        was_active = self.active_response_id is not None
        if was_active and self._cancelled_id != self.active_response_id:
            self._cancelled_id = self.active_response_id
            out.append(p.response_cancel(self.active_response_id))
        elif self._create_sent:
            self._cancel_on_create = True
        self._create_wanted = False
        out += self._truncate_current(played_ms, was_active)
        for cid, call in self._calls.items():
            if not call.answered:  # the turn is abandoned: close the call, no response
                self._expired_calls[cid] = call.name
                out.append(
                    p.function_call_output(
                        cid, json.dumps({"status": "cancelled", "reason": "user interrupted"})
                    )
                )
        self._calls.clear()
        if clear_input:
            out.append(p.input_audio_clear())
        return out

    # -- internals -------------------------------------------------------------------------------
    def _add_item(self, item_id: str, response_id: str) -> _AudioItem:
        item = self._items[item_id] = _AudioItem(response_id)
        self.current_item_id = item_id
        while len(self._items) > _KEPT_ITEMS:
            del self._items[next(iter(self._items))]
        return item

    def _add_call(self, call_id: str, name: str, response_id: str, now_ms: int) -> list[p.Json]:
        first = not self.is_input_held
        self._calls[call_id] = _Call(name, response_id, now_ms + self.tool_budget_ms)
        # pitfall guard: speech buffered now must not auto-create a reply without the result
        return [p.input_audio_clear()] if first else []

    def _truncate_current(self, played_ms: int | None, was_active: bool) -> list[p.Json]:
        iid = self.current_item_id
        item = self._items.get(iid) if iid else None
        if iid is None or item is None or item.received_samples == 0:
            return []
        received_ms = item.received_samples // _SAMPLES_PER_MS
        heard_ms = played_ms if played_ms is not None else self.played_ms(iid)
        end_ms = max(0, min(heard_ms, received_ms))
        self.current_item_id = None
        if end_ms >= received_ms and not was_active:
            return []  # everything was heard: nothing to cut
        item.received_samples = end_ms * _SAMPLES_PER_MS
        item.played_samples = min(item.played_samples, item.received_samples)
        return [p.item_truncate(iid, end_ms)]

    def _maybe_create(self) -> list[p.Json]:
        if self.is_response_active:
            return []
        if self._calls and not self.is_input_held:
            self._calls.clear()  # every output of the turn is in: one reply for all of them
            self._create_wanted = True
        if not self._create_wanted:
            return []
        self._create_wanted = False
        self._create_sent = True
        return [p.response_create()]
