"""One emulated Realtime session: client events in, server events out, like the service.

Owned by `RealtimeEmulator` (one per WebSocket connection). Validates every client event as the
service does (`realtime_validate`), merges session.update, runs the VAD the session's
``turn_detection`` asks for over the input buffer (`realtime_input`), records what each commit
held, keeps the conversation history and bills it (`realtime_history`), plans scripted replies
and tool calls (`EmulatedResponse` streams them), enforces one active response, cancel,
truncate and delete rules, idle timeout and session expiry, and applies the emulator's `Faults`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import TYPE_CHECKING, Any, Final

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from edge_agent.realtime.events import Usage
from edge_agent.sim.realtime_history import (
    History,
    HistoryItem,
    context_tokens,
    prefix_text,
    text_tokens,
    user_audio_tokens,
)
from edge_agent.sim.realtime_input import CommittedItem, InputBuffer
from edge_agent.sim.realtime_response import EmulatedResponse
from edge_agent.sim.realtime_session_config import (
    billed_text,
    frozen_fields,
    merge_session,
    session_defaults,
)
from edge_agent.sim.realtime_vad import VadSettings, VadStart, VadStop, vad_settings
from edge_agent.sim.realtime_validate import (
    Rejection,
    check_event_fields,
    check_item,
    check_session_update,
)
from edge_agent.sim.scenario import Call, Reply

if TYPE_CHECKING:
    from edge_agent.sim.realtime_server import RealtimeEmulator

__all__ = ["CLIENT_EVENT_TYPES", "PITFALL_TEXT", "EmulatedSession"]

CLIENT_EVENT_TYPES: Final = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.truncate",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "response.create",
        "response.cancel",
    }
)
PITFALL_TEXT: Final = "Sorry, I can't retrieve that information right now."


class EmulatedSession:
    """One connection: session state, input buffer, VAD, history and the active response."""

    def __init__(
        self, emu: RealtimeEmulator, ws: ServerConnection, model: str, beta: bool, index: int
    ) -> None:
        self.emu, self.ws, self.beta, self.index = emu, ws, beta, index
        self.session = session_defaults(model)
        self.input = InputBuffer(index)
        self.vad_settings: VadSettings | None = vad_settings(self.turn_detection)
        self.speech_item_id = ""
        self.history = History()
        self.items: dict[str, int] = {}  # assistant audio item id -> audio ms it holds
        self.call_ids: set[str] = set()  # every function call made in this session
        self.calls: dict[str, bool] = {}  # call_id of the last response -> output received
        self.then: Reply | None = None  # reply owed once the calls are answered
        self.response_task: asyncio.Task[None] | None = None
        self.cancel_reason: str | None = None
        self.cancelled = asyncio.Event()
        self.idle_task: asyncio.Task[None] | None = None
        self.last_item_id: str | None = None
        self.spoke = False  # assistant audio was sent: the voice is frozen
        self.item_json: dict[str, dict[str, Any]] = {}  # every item as last sent, by id
        self.user_pcm: dict[str, bytes] = {}  # committed audio per user item (for retrieve)

    # -- plumbing ------------------------------------------------------------------------------
    async def send(self, kind: str, **fields: Any) -> None:
        f = self.emu.faults
        if f.delay_ms:
            await asyncio.sleep(f.delay_ms / 1000)
        while f.malformed_next:
            f.malformed_next -= 1
            await self.ws.send('{"type": "response.output_audio.delta", "delta": ')
        while f.unknown_next:
            f.unknown_next -= 1
            await self.ws.send(json.dumps({"type": "future.event", "event_id": "event_x"}))
        while f.oversized_next:
            f.oversized_next -= 1
            await self.ws.send(json.dumps({"type": "future.blob", "blob": "A" * 2 * 2**20}))
        while f.nested_next:
            f.nested_next -= 1
            await self.ws.send("[" * f.nested_depth + "]" * f.nested_depth)
        event = {"type": kind, "event_id": self.emu.next_id("event"), **fields}
        self.emu.server_events.append(event)
        await self.ws.send(json.dumps(event))

    async def error(
        self, code: str, message: str, event_id: str | None = None, param: str | None = None
    ) -> None:
        err = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
        err["event_id"] = event_id
        await self.send("error", error=err)

    async def reject(self, r: Rejection, event_id: str | None) -> None:
        await self.error(r.code, r.message, event_id, r.param)

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        td = self.session["audio"]["input"].get("turn_detection")
        return td if isinstance(td, dict) else None

    # -- main loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        f = self.emu.faults
        expiry = asyncio.create_task(self._expire(), name="emu-expiry")
        try:
            if self.beta:
                await self.error("beta_api_shape_disabled", "The beta interface is disabled.")
                await self.ws.close(4000, "beta api shape")
                return
            if f.fatal_code:
                code, f.fatal_code = f.fatal_code, None
                await self.error(code, f"Emulated fatal error {code}.")
                await self.ws.close(1008, code)
                return
            await self.send("session.created", session=self.session)
            async for raw in self.ws:
                await self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            for task in (expiry, self.response_task, self.idle_task):
                if task is not None:
                    task.cancel()

    async def _expire(self) -> None:
        await asyncio.sleep(self.emu.session_max_s)
        await self.error("session_expired", "Your session hit the maximum duration.")
        await self.ws.close(1001, "Your session hit the maximum duration of 60 minutes.")

    async def _receive(self, raw: str | bytes) -> None:
        try:
            ev = json.loads(raw)
        except (ValueError, RecursionError):
            await self.error("invalid_json", "The event is not valid JSON.")
            return
        if not isinstance(ev, dict) or ev.get("type") not in CLIENT_EVENT_TYPES:
            kind = ev.get("type") if isinstance(ev, dict) else None
            eid = ev.get("event_id") if isinstance(ev, dict) else None
            await self.error(
                "invalid_value", f"Unknown event type {str(kind)[:80]!r}.", eid, "type"
            )
            return
        self.emu.client_events.append(ev)
        handler = getattr(self, "_on_" + ev["type"].replace(".", "_"))
        eid = ev.get("event_id") if isinstance(ev.get("event_id"), str) else None
        rejection = check_event_fields(ev)
        if rejection is not None:
            await self.reject(rejection, eid)
            return
        await handler(ev, eid)

    # -- session and input ---------------------------------------------------------------------
    async def _on_session_update(self, ev: dict[str, Any], eid: str | None) -> None:
        session = ev.get("session")
        rejection = check_session_update(session)
        if rejection is None:
            rejection = frozen_fields(self.session, session, spoke=self.spoke)
        if rejection is not None:
            await self.reject(rejection, eid)  # the whole update is dropped
            return
        was_on = self.vad_settings is not None
        merge_session(self.session, session)
        self.vad_settings = vad_settings(self.turn_detection, self.emu.semantic_wait_ms)
        if self.vad_settings is not None:
            self.input.vad.configure(self.vad_settings)
            if not was_on:
                self.input.vad.reset(self.input.start)
        await self.send("session.updated", session=self.session)

    async def _on_input_audio_buffer_append(self, ev: dict[str, Any], eid: str | None) -> None:
        audio = ev.get("audio")
        try:
            if not isinstance(audio, str):
                raise TypeError
            pcm = base64.b64decode(audio, validate=True)
        except (TypeError, ValueError, binascii.Error):
            await self.error("invalid_value", "audio must be base64 PCM.", eid, "audio")
            return
        self.emu.input_audio += pcm
        for change in self.input.append(pcm, vad=self.vad_settings is not None):
            if isinstance(change, VadStart):
                await self._speech_started(change.audio_start_ms)
            else:
                await self._speech_stopped(change)

    async def _speech_started(self, start_ms: int) -> None:
        if self.idle_task is not None:
            self.idle_task.cancel()
        self.speech_item_id = self.emu.next_id("item")
        await self.send(
            "input_audio_buffer.speech_started",
            audio_start_ms=start_ms,
            item_id=self.speech_item_id,
        )
        vad = self.vad_settings
        if self.response_task is not None and vad is not None and vad.interrupt_response:
            self._cancel("turn_detected")

    async def _speech_stopped(self, stop: VadStop) -> None:
        await self.send(
            "input_audio_buffer.speech_stopped",
            audio_end_ms=stop.audio_end_ms,
            item_id=self.speech_item_id,
        )
        await self._commit(self.input.take(stop, self.speech_item_id))
        vad = self.vad_settings
        # busy (interrupt_response off): no new reply and no error nobody asked for (unverified)
        if vad is not None and vad.create_response and self.response_task is None:
            await self._create_response()

    async def _on_input_audio_buffer_commit(self, ev: dict[str, Any], eid: str | None) -> None:
        item = self.input.commit_all(self.emu.next_id("item"))
        if item is None:
            msg = (
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {self.input.buffered_ms:.2f}ms of audio."
            )
            await self.error("input_audio_buffer_commit_empty", msg, eid)
            return
        await self._commit(item)

    async def _commit(self, committed: CommittedItem) -> None:
        self.emu.committed.append(committed)
        item_id = committed.item_id
        await self.send(
            "input_audio_buffer.committed", item_id=item_id, previous_item_id=self.last_item_id
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        ms = committed.duration_ms
        self.user_pcm[item_id] = committed.pcm
        self.history.add(HistoryItem(item_id, "user_audio", 0, user_audio_tokens(ms), ms))
        await self._item_added(item)
        turn = self.emu.peek_turn()
        if self.session["audio"]["input"].get("transcription") and turn and turn.user_transcript:
            await self.send(
                "conversation.item.input_audio_transcription.completed",
                item_id=item_id,
                content_index=0,
                transcript=turn.user_transcript,
                usage={"type": "duration", "seconds": round(ms / 1000, 2)},
            )

    async def _item_added(self, item: dict[str, Any]) -> None:
        self.item_json[item["id"]] = item
        await self.send("conversation.item.added", item=item, previous_item_id=self.last_item_id)
        await self.send("conversation.item.done", item=item, previous_item_id=self.last_item_id)
        self.last_item_id = item["id"]

    async def _on_input_audio_buffer_clear(self, ev: dict[str, Any], eid: str | None) -> None:
        self.input.clear()
        await self.send("input_audio_buffer.cleared")

    # -- conversation items --------------------------------------------------------------------
    async def _on_conversation_item_create(self, ev: dict[str, Any], eid: str | None) -> None:
        item = ev.get("item")
        rejection = check_item(item)
        if rejection is not None:
            await self.reject(rejection, eid)
            return
        assert isinstance(item, dict)
        kind = item["type"]
        if kind == "function_call_output":
            call_id = item["call_id"]
            if call_id not in self.call_ids:
                msg = f"No tool call found for function call output with call_id {call_id}."
                await self.error("invalid_value", msg, eid, "item.call_id")
                return
            if call_id in self.calls:
                self.calls[call_id] = True
        item = {"id": self.emu.next_id("item"), "object": "realtime.item", **item}
        item.setdefault("status", "completed")
        billed = "text" if kind == "message" else kind
        self.history.add(HistoryItem(item["id"], billed, text_tokens(billed_text(item))))
        await self._item_added(item)

    async def _on_conversation_item_truncate(self, ev: dict[str, Any], eid: str | None) -> None:
        item_id, end_ms = ev.get("item_id"), ev.get("audio_end_ms")
        known = self.history.get(item_id) if isinstance(item_id, str) else None
        if known is None:
            await self.error(
                "item_not_found", f"Item {str(item_id)[:80]!r} not found.", eid, "item_id"
            )
            return
        if known.kind != "assistant_audio" or item_id not in self.items:
            msg = "Only model output audio messages can be truncated."
            await self.error("invalid_value", msg, eid, "item_id")
            return
        if ev.get("content_index", 0) != 0:
            await self.error("invalid_value", "content_index must be 0.", eid, "content_index")
            return
        if not isinstance(end_ms, int) or isinstance(end_ms, bool) or end_ms < 0:
            await self.error("invalid_value", "audio_end_ms must be >= 0.", eid, "audio_end_ms")
            return
        audio_ms = self.items[item_id]
        if end_ms > audio_ms:
            msg = f"Audio content of {audio_ms}ms is already shorter than {end_ms}ms."
            await self.error("invalid_value", msg, eid, "audio_end_ms")
            return
        self.items[item_id] = end_ms
        self.history.set_assistant_audio(item_id, end_ms)
        self.emu.truncations.append((item_id, end_ms, audio_ms))
        await self.send(
            "conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms
        )

    async def _on_conversation_item_delete(self, ev: dict[str, Any], eid: str | None) -> None:
        item_id = ev.get("item_id")
        if not isinstance(item_id, str) or not self.history.remove(item_id):
            msg = f"Error deleting item: the item with id {str(item_id)[:80]!r} does not exist."
            await self.error("item_delete_invalid_item_id", msg, eid, "item_id")
            return
        self.items.pop(item_id, None)
        await self.send("conversation.item.deleted", item_id=item_id)

    async def _on_conversation_item_retrieve(self, ev: dict[str, Any], eid: str | None) -> None:
        item_id = ev.get("item_id")
        item = self.item_json.get(item_id) if isinstance(item_id, str) else None
        if item is None or self.history.get(str(item_id)) is None:  # unknown, deleted, dropped
            msg = f"Item {str(item_id)[:80]!r} not found."
            await self.error("item_not_found", msg, eid, "item_id")
            return
        pcm = self.user_pcm.get(str(item_id))
        if pcm is not None:
            audio = base64.b64encode(pcm).decode()
            item = {
                **item,
                "content": [{"type": "input_audio", "audio": audio, "transcript": None}],
            }
        await self.send("conversation.item.retrieved", item=item)

    # -- responses -----------------------------------------------------------------------------
    async def _on_response_create(self, ev: dict[str, Any], eid: str | None) -> None:
        await self._create_response(eid)

    async def _on_response_cancel(self, ev: dict[str, Any], eid: str | None) -> None:
        if self.response_task is None:
            msg = "Cancellation failed: no active response found"
            await self.error("response_cancel_not_active", msg, eid)
            return
        self._cancel("client_cancelled")

    def _cancel(self, reason: str) -> None:
        self.cancel_reason = reason
        self.cancelled.set()

    async def _create_response(self, eid: str | None = None) -> None:
        if self.response_task is not None:
            await self.error(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress.",
                eid,
            )
            return
        if self.idle_task is not None and self.idle_task is not asyncio.current_task():
            self.idle_task.cancel()  # a turn is under way: the idle countdown stops
        self.cancel_reason, self.cancelled = None, asyncio.Event()
        rid = self.emu.next_id("resp")
        self.response_task = asyncio.create_task(self._respond(rid), name="emu-response")

    def _plan(self) -> tuple[Reply | None, tuple[Call, ...]]:
        """What this response says and which calls it makes."""
        if self.calls:
            if all(self.calls.values()) and self.then is not None:
                reply, self.then, self.calls = self.then, None, {}
                return reply, ()
            self.emu.premature_responses += 1
            return Reply(PITFALL_TEXT, self.emu.scenario.fallback.pcm), ()
        turn = self.emu.next_turn()
        if turn is None:
            return self.emu.scenario.fallback, ()
        if turn.calls:
            self.then = turn.then or self.emu.scenario.fallback
        return turn.reply, turn.calls

    def bill_input(self) -> Usage:
        """Drop what `truncation` drops, then bill the whole conversation as this input."""
        s = self.session
        prefix_tokens = text_tokens(prefix_text(s["instructions"], s["tools"]))
        context = self.emu.context_tokens or context_tokens(s["model"])
        self.history.apply_truncation(s.get("truncation", "auto"), prefix_tokens, context)
        return self.history.bill_input(s["instructions"], s["tools"])

    async def _respond(self, rid: str) -> None:
        response = {"id": rid, "object": "realtime.response", "status": "in_progress"}
        status, audio_ms = "failed", 0
        fault = self.emu.faults.next_response()
        try:
            billed = self.bill_input()
            await self.send("response.created", response={**response, "output": []})
            streamer = EmulatedResponse(self, rid, billed, fault)
            status = await streamer.play(*self._plan())
            audio_ms = streamer.out_audio_ms
        except ConnectionClosed:
            return
        finally:
            if self.response_task is asyncio.current_task():
                self.response_task = None
        if status == "completed":
            self._arm_idle_timeout(audio_ms)

    def _arm_idle_timeout(self, audio_ms: int) -> None:
        """idle_timeout_ms counts from response.done + the reply's audio length (the service's
        estimate of when playback ends, realtime-protocol.md §6)."""
        vad = self.vad_settings
        if vad is not None and vad.idle_timeout_ms:
            idle = self._idle(vad.idle_timeout_ms, audio_ms)
            self.idle_task = asyncio.create_task(idle, name="emu-idle")

    async def _idle(self, idle_ms: int, audio_ms: int) -> None:
        await asyncio.sleep((idle_ms + audio_ms) / 1000)
        item_id = self.emu.next_id("item")
        pos = self.input.vad.position_ms
        await self.send(
            "input_audio_buffer.timeout_triggered",
            audio_start_ms=max(0, pos - idle_ms),
            audio_end_ms=pos,
            item_id=item_id,
        )
        committed = self.input.commit_all(item_id, "timeout")
        if committed is not None:
            await self._commit(committed)
        await self._create_response()
