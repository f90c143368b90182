"""The replies of one session, sans-I/O: responses, audio items, tool calls. Time is `now_ms`.

Owns the rules of realtime-protocol.md §5(c) and §6 in backend-neutral terms:

- at most one active response: from `ResponseStarted` to `ResponseFinished`, plus the gap
  between our `RequestReply` and its start; a request meanwhile is queued and sent once after;
- function calls: after every output of a turn is sent and the response that carried the calls
  is finished, exactly one `RequestReply`; a call over its budget gets a structured "still
  working" output so it never stays open, and its real result, when it comes, becomes a note;
  a failed response's calls are abandoned (never continue tools off a failed response);
- while a call waits for its output the input is held (the core stops streaming and clears the
  server's input once), so the service's VAD cannot start a reply that lacks the result;
- audio per item: samples received and heard (the speaker's counter); an interruption cancels
  the active response (or the requested one, once it starts), truncates every item at what was
  heard (capped at what was received) and drops the cancelled response's late audio.

Must not: know wire event names, sockets or clocks (`edge_agent.turn.core` feeds it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from edge_agent.states import Action
from edge_agent.turn.actions import (
    AddNote,
    CancelReply,
    CancelTools,
    Log,
    RequestReply,
    RunTool,
    SendToolOutput,
    Truncate,
)

__all__ = ["DEFAULT_TOOL_BUDGET_MS", "SAMPLES_PER_MS", "Replies"]

DEFAULT_TOOL_BUDGET_MS: Final = 8_000
SAMPLES_PER_MS: Final = 24
_KEPT_ITEMS: Final = 16
_KEPT_DROPPED: Final = 32


@dataclass(slots=True)
class _Item:
    response_id: str
    received: int = 0  # samples
    heard: int = 0  # samples that left the speaker


@dataclass(slots=True)
class _Call:
    name: str
    response_id: str
    deadline_ms: int
    answered: bool = False


class Replies:
    """Responses, items and calls of one session; `reset()` on every new session."""

    def __init__(self, *, tool_budget_ms: int = DEFAULT_TOOL_BUDGET_MS) -> None:
        self.tool_budget_ms = tool_budget_ms
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new session has no responses, items or calls."""
        self.active_id: str | None = None
        self._create_sent = False
        self._create_wanted = False
        self._say = ""
        self._cancel_on_start = False
        self._dropped: list[str] = []  # responses whose audio must not play, whose end is moot
        self._audio_started: set[str] = set()
        self.items: dict[str, _Item] = {}
        self._calls: dict[str, _Call] = {}
        self._expired: dict[str, str] = {}  # call_id -> tool name, answered by the budget
        self._closed: set[str] = set()  # calls abandoned: a stray result is ignored

    # -- predicates ------------------------------------------------------------------------------
    @property
    def is_response_active(self) -> bool:
        """A response exists or was requested and has not finished."""
        return self.active_id is not None or self._create_sent

    @property
    def is_input_held(self) -> bool:
        """A tool call waits for its output: mic audio must not reach the service now."""
        return any(not c.answered for c in self._calls.values())

    @property
    def is_idle(self) -> bool:
        """Nothing active, requested or pending: the reply is over (once played out)."""
        return not (self.is_response_active or self._calls or self._create_wanted)

    def is_dropped(self, response_id: str) -> bool:
        return response_id in self._dropped

    # -- events ----------------------------------------------------------------------------------
    def started(self, response_id: str) -> list[Action]:
        self.active_id = response_id
        self._create_sent = False
        if self._cancel_on_start:
            self._cancel_on_start = False
            self._drop(response_id)
            return [CancelReply(response_id)]
        return []

    def rejected(self) -> None:
        """Our request raced one the service made (its VAD): ask again once that one ends."""
        self._create_sent = False
        self._create_wanted = True

    def audio(self, response_id: str, item_id: str, samples: int) -> tuple[bool, bool]:
        """Count reply audio; returns (play it, first audio of its response)."""
        if response_id in self._dropped:
            return False, False
        item = self.items.get(item_id)
        if item is None:  # also a delta for an item nobody announced
            item = self.items[item_id] = _Item(response_id)
            while len(self.items) > _KEPT_ITEMS:
                del self.items[next(iter(self.items))]
        item.received += samples
        first = response_id not in self._audio_started
        self._audio_started.add(response_id)
        return True, first

    def heard(self, items: tuple[tuple[str, int], ...]) -> None:
        """The speaker's counter (samples of each item that left the speaker)."""
        for item_id, samples in items:
            item = self.items.get(item_id)
            if item is not None:
                item.heard = max(item.heard, min(samples, item.received))

    def played_out(self) -> None:
        """Everything queued was played: every item was heard in full."""
        for item in self.items.values():
            item.heard = item.received

    def heard_samples(self) -> int:
        return sum(item.heard for item in self.items.values())

    def forget_items(self) -> None:
        """The turn is over: its items are no longer anyone's to truncate."""
        self.items.clear()

    def call_requested(
        self,
        response_id: str,
        call_id: str,
        name: str,
        arguments_json: str,
        now_ms: int,
        turn_id: str,
    ) -> list[Action]:
        if response_id in self._dropped or call_id in self._calls:
            return []
        self._calls[call_id] = _Call(name, response_id, now_ms + self.tool_budget_ms)
        return [RunTool(call_id, name, arguments_json, turn_id)]

    def tool_result(self, call_id: str, name: str, output_json: str) -> list[Action]:
        """The tool's output: sent, then the turn's single RequestReply when due."""
        call = self._calls.get(call_id)
        if call is not None and not call.answered:
            call.answered = True
            return [SendToolOutput(call_id, output_json), *self._maybe_request()]
        if call_id in self._expired:
            tool = self._expired.pop(call_id)
            note = f"Late result of the earlier {tool} call ({call_id}): {output_json}"
            return [AddNote(note), Log("info", "late tool result added as a note", {"TOOL": tool})]
        if call_id in self._closed:
            return []
        return [Log("warning", f"output for unknown call {call_id[:40]!r} dropped", {"TOOL": name})]

    def finished(self, response_id: str, status: str) -> list[Action]:
        """A response ended; a failed one takes its calls with it."""
        if response_id == self.active_id:
            self.active_id = None
        if response_id in self._dropped:
            return self._maybe_request()
        out: list[Action] = []
        if status == "failed":
            abandoned = [c for c, call in self._calls.items() if call.response_id == response_id]
            for call_id in abandoned:
                del self._calls[call_id]
                self._closed.add(call_id)
            if abandoned:
                out.append(CancelTools())
            self._create_wanted = False
            return out
        return self._maybe_request()

    def request(self, say: str = "") -> list[Action]:
        """Ask for a reply (text turn, manual commit, an announcement's `say`); queued while
        one is active."""
        self._create_wanted = True
        self._say = say
        return self._maybe_request()

    def tick(self, now_ms: int) -> list[Action]:
        """Answer calls past their budget with a structured "still working" output."""
        out: list[Action] = []
        for call_id, call in self._calls.items():
            if not call.answered and now_ms >= call.deadline_ms:
                call.answered = True
                self._expired[call_id] = call.name
                result = {
                    "status": "pending",
                    "error": "tool_timeout",
                    "message": f"{call.name} did not answer within "
                    f"{self.tool_budget_ms / 1000:g} s; tell the user it is taking longer",
                }
                out += [
                    SendToolOutput(call_id, json.dumps(result)),
                    Log("warning", "tool over budget", {"TOOL": call.name}),
                ]
        if out:
            out += self._maybe_request()
        return out

    def next_deadline_ms(self) -> int | None:
        deadlines = [c.deadline_ms for c in self._calls.values() if not c.answered]
        return min(deadlines) if deadlines else None

    # -- interruptions ---------------------------------------------------------------------------
    def cancel(self) -> list[Action]:
        """Cancel what is active or requested; close open calls without asking for a reply."""
        out: list[Action] = []
        if self.active_id is not None and self.active_id not in self._dropped:
            self._drop(self.active_id)
            out.append(CancelReply(self.active_id))
        elif self._create_sent:
            self._cancel_on_start = True
        self._create_wanted = False
        pending = [cid for cid, call in self._calls.items() if not call.answered]
        if pending:
            out.append(CancelTools())
        for call_id in pending:
            self._closed.add(call_id)
            cancelled = {"status": "cancelled", "reason": "user interrupted"}
            out.append(SendToolOutput(call_id, json.dumps(cancelled)))
        self._calls.clear()
        return out

    def truncate(self) -> list[Action]:
        """Tell the model what was heard of each item that was not heard in full."""
        out: list[Action] = []
        for item_id, item in self.items.items():
            if item.received == 0:
                continue
            end = min(item.heard, item.received)
            still_coming = item.response_id == self.active_id
            if end >= item.received and not still_coming:
                continue  # heard in full and nothing more will come: nothing to cut
            end_ms = end // SAMPLES_PER_MS
            item.received = item.heard = end_ms * SAMPLES_PER_MS
            out.append(Truncate(item_id, end_ms))
        return out

    # -- internals -------------------------------------------------------------------------------
    def _drop(self, response_id: str) -> None:
        self._dropped.append(response_id)
        del self._dropped[:-_KEPT_DROPPED]

    def _maybe_request(self) -> list[Action]:
        if self.is_response_active:
            return []
        if self._calls and not self.is_input_held:
            self._calls.clear()  # every output of the turn is in: one reply for all of them
            self._create_wanted = True
        if not self._create_wanted:
            return []
        self._create_wanted = False
        self._create_sent = True
        say, self._say = self._say, ""
        return [RequestReply(say)]
