"""One emulated Realtime session: client events in, scripted server events out.

Owned by `RealtimeEmulator` (one per WebSocket connection). Handles every GA client event,
merges session.update, runs the energy VAD on appended audio, plays scripted replies and tool
calls, enforces one active response, cancel and truncate rules, idle timeout and session
expiry, and applies the emulator's `Faults`. Records into the emulator (`client_events`,
`input_audio`, `server_events`, `truncations`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from typing import TYPE_CHECKING, Any, Final

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from edge_agent.sim.realtime_vad import EnergyVad, VadStart
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


def _session_defaults(model: str) -> dict[str, Any]:
    fmt = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": f"sess_{secrets.token_hex(8)}",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "audio": {
            "input": {
                "format": fmt,
                "noise_reduction": None,
                "transcription": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": fmt, "voice": "alloy", "speed": 1.0},
        },
    }


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


class EmulatedSession:
    """One connection: session state, input buffer, VAD and the active response."""

    def __init__(self, emu: RealtimeEmulator, ws: ServerConnection, model: str, beta: bool) -> None:
        self.emu, self.ws, self.beta = emu, ws, beta
        self.session = _session_defaults(model)
        self.vad = EnergyVad()
        self.buffer = bytearray()  # uncommitted input audio
        self.speech_item_id = ""
        self.items: dict[str, int] = {}  # assistant item id -> audio ms sent
        self.calls: dict[str, bool] = {}  # call_id of the last response -> output received
        self.then: Reply | None = None  # reply owed once the calls are answered
        self.response_task: asyncio.Task[None] | None = None
        self.cancel_reason: str | None = None
        self.cancelled = asyncio.Event()
        self.idle_task: asyncio.Task[None] | None = None
        self.last_item_id: str | None = None

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
        event = {"type": kind, "event_id": self.emu.next_id("event"), **fields}
        self.emu.server_events.append(event)
        await self.ws.send(json.dumps(event))

    async def error(self, code: str, message: str, event_id: str | None = None) -> None:
        err = {"type": "invalid_request_error", "code": code, "message": message, "param": None}
        err["event_id"] = event_id
        await self.send("error", error=err)

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
                await self.ws.close(1008, "beta api shape")
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
        await self.ws.close(1001, "session expired")

    async def _receive(self, raw: str | bytes) -> None:
        try:
            ev = json.loads(raw)
        except ValueError:
            await self.error("invalid_json", "The event is not valid JSON.")
            return
        if not isinstance(ev, dict) or ev.get("type") not in CLIENT_EVENT_TYPES:
            kind = ev.get("type") if isinstance(ev, dict) else None
            eid = ev.get("event_id") if isinstance(ev, dict) else None
            await self.error("invalid_value", f"Unknown event type {kind!r}.", eid)
            return
        self.emu.client_events.append(ev)
        handler = getattr(self, "_on_" + ev["type"].replace(".", "_"))
        await handler(ev, ev.get("event_id"))

    # -- client events -------------------------------------------------------------------------
    async def _on_session_update(self, ev: dict[str, Any], eid: str | None) -> None:
        session = ev.get("session")
        if not isinstance(session, dict) or session.get("type") != "realtime":
            await self.error("missing_required_parameter", "session.type must be 'realtime'.", eid)
            return
        _merge(self.session, session)
        td = self.turn_detection
        if td:
            self.vad.configure(
                float(td.get("threshold", 0.5)),
                int(td.get("prefix_padding_ms", 300)),
                int(td.get("silence_duration_ms", 500)),
            )
        await self.send("session.updated", session=self.session)

    async def _on_input_audio_buffer_append(self, ev: dict[str, Any], eid: str | None) -> None:
        try:
            pcm = base64.b64decode(ev["audio"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            await self.error("invalid_value", "audio must be base64 PCM.", eid)
            return
        self.emu.input_audio += pcm
        self.buffer += pcm
        if self.turn_detection is None:
            return
        for change in self.vad.feed(pcm):
            if isinstance(change, VadStart):
                await self._speech_started(change.audio_start_ms)
            else:
                await self.send(
                    "input_audio_buffer.speech_stopped",
                    audio_end_ms=change.audio_end_ms,
                    item_id=self.speech_item_id,
                )
                await self._commit(self.speech_item_id)
                if self.turn_detection and self.turn_detection.get("create_response", True):
                    await self._create_response()

    async def _speech_started(self, start_ms: int) -> None:
        if self.idle_task is not None:
            self.idle_task.cancel()
        self.speech_item_id = self.emu.next_id("item")
        await self.send(
            "input_audio_buffer.speech_started",
            audio_start_ms=start_ms,
            item_id=self.speech_item_id,
        )
        td = self.turn_detection or {}
        if self.response_task is not None and td.get("interrupt_response", True):
            self._cancel("turn_detected")

    async def _on_input_audio_buffer_commit(self, ev: dict[str, Any], eid: str | None) -> None:
        if len(self.buffer) < 100 * 48:
            await self.error("input_audio_buffer_commit_empty", "Buffer too small.", eid)
            return
        await self._commit(self.emu.next_id("item"))

    async def _commit(self, item_id: str) -> None:
        self.buffer.clear()
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
        await self._item_added(item)
        turn = self.emu.peek_turn()
        if self.session["audio"]["input"].get("transcription") and turn and turn.user_transcript:
            await self.send(
                "conversation.item.input_audio_transcription.completed",
                item_id=item_id,
                content_index=0,
                transcript=turn.user_transcript,
                usage={"type": "duration", "seconds": round(self.vad.position_ms / 1000, 2)},
            )

    async def _item_added(self, item: dict[str, Any]) -> None:
        await self.send("conversation.item.added", item=item, previous_item_id=self.last_item_id)
        await self.send("conversation.item.done", item=item, previous_item_id=self.last_item_id)
        self.last_item_id = item["id"]

    async def _on_input_audio_buffer_clear(self, ev: dict[str, Any], eid: str | None) -> None:
        self.buffer.clear()
        self.vad.reset()
        await self.send("input_audio_buffer.cleared")

    async def _on_conversation_item_create(self, ev: dict[str, Any], eid: str | None) -> None:
        item = ev.get("item")
        if not isinstance(item, dict) or "type" not in item:
            await self.error("missing_required_parameter", "item.type is required.", eid)
            return
        if item["type"] == "function_call_output":
            call_id = item.get("call_id")
            if call_id not in self.calls or not isinstance(item.get("output"), str):
                await self.error("invalid_value", f"No function call {call_id!r}.", eid)
                return
            self.calls[call_id] = True
        item = {"id": self.emu.next_id("item"), "object": "realtime.item", **item}
        item.setdefault("status", "completed")
        await self._item_added(item)

    async def _on_conversation_item_truncate(self, ev: dict[str, Any], eid: str | None) -> None:
        item_id, end_ms = ev.get("item_id"), ev.get("audio_end_ms")
        if item_id not in self.items or not isinstance(end_ms, int) or end_ms < 0:
            await self.error("invalid_value", f"Cannot truncate item {item_id!r}.", eid)
            return
        audio_ms = self.items[item_id]
        if end_ms > audio_ms:
            msg = f"audio_end_ms {end_ms} is beyond the item's {audio_ms} ms of audio."
            await self.error("invalid_value", msg, eid)
            return
        self.items[item_id] = end_ms
        self.emu.truncations.append((item_id, end_ms, audio_ms))
        await self.send(
            "conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms
        )

    async def _on_conversation_item_delete(self, ev: dict[str, Any], eid: str | None) -> None:
        await self.send("conversation.item.deleted", item_id=ev.get("item_id", ""))

    async def _on_conversation_item_retrieve(self, ev: dict[str, Any], eid: str | None) -> None:
        await self.error("item_not_found", "Retrieve is not emulated.", eid)

    async def _on_response_create(self, ev: dict[str, Any], eid: str | None) -> None:
        await self._create_response(eid)

    async def _on_response_cancel(self, ev: dict[str, Any], eid: str | None) -> None:
        if self.response_task is None:
            await self.error("response_cancel_not_active", "No active response.", eid)
            return
        self._cancel("client_cancelled")

    # -- responses -----------------------------------------------------------------------------
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
        self.cancel_reason, self.cancelled = None, asyncio.Event()
        rid = self.emu.next_id("resp")
        self.response_task = asyncio.create_task(self._respond(rid), name="emu-response")

    def _plan(self) -> tuple[Reply | None, tuple[Any, ...]]:
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

    async def _respond(self, rid: str) -> None:
        output: list[dict[str, Any]] = []
        response = {"id": rid, "object": "realtime.response", "status": "in_progress"}
        status = "failed"
        try:
            await self.send("response.created", response={**response, "output": []})
            reply, calls = self._plan()
            if reply is not None:
                await self._speak(rid, reply, output)
            if calls:
                self.calls = {}
                for call in calls:
                    await self._call(rid, call, output)
            status = "completed"
            if self.cancel_reason:
                status = "cancelled"
            await self._done(rid, status, output)
        except ConnectionClosed:
            return
        finally:
            if self.response_task is asyncio.current_task():
                self.response_task = None
        if status == "completed":
            self._arm_idle_timeout()

    async def _done(self, rid: str, status: str, output: list[dict[str, Any]]) -> None:
        audio_ms = sum(self.items.get(o["id"], 0) for o in output)
        usage = {
            "total_tokens": 120 + audio_ms // 50,
            "input_tokens": 100,
            "output_tokens": 20 + audio_ms // 50,
            "input_token_details": {"text_tokens": 40, "audio_tokens": 60, "cached_tokens": 0},
            "output_token_details": {"text_tokens": 20, "audio_tokens": audio_ms // 50},
        }
        response: dict[str, Any] = {
            "id": rid,
            "object": "realtime.response",
            "status": status,
            "output": output,
            "usage": usage,
        }
        if status == "cancelled":
            response["status_details"] = {"type": "cancelled", "reason": self.cancel_reason}
        self.response_task = None  # a response.create may follow response.done at once
        await self.send("response.done", response=response)
        limits = [
            {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60.0},
            {"name": "tokens", "limit": 100000, "remaining": 99000, "reset_seconds": 60.0},
        ]
        await self.send("rate_limits.updated", rate_limits=limits)

    async def _speak(self, rid: str, reply: Reply, output: list[dict[str, Any]]) -> None:
        iid = self.emu.next_id("item")
        item: dict[str, Any] = {
            "id": iid,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        where = {"response_id": rid, "item_id": iid, "output_index": len(output)}
        output.append(item)
        self.items[iid] = 0
        await self.send(
            "response.output_item.added",
            response_id=rid,
            output_index=where["output_index"],
            item=item,
        )
        await self.send("conversation.item.added", item=item, previous_item_id=self.last_item_id)
        self.last_item_id = iid
        part = {"type": "audio", "transcript": ""}
        await self.send("response.content_part.added", **where, content_index=0, part=part)
        words = reply.text.split(" ") if reply.text else []
        step = self.emu.delta_ms * 48
        chunks = [reply.pcm[i : i + step] for i in range(0, len(reply.pcm), step)]
        f = self.emu.faults
        for n, chunk in enumerate(chunks):
            if self.cancel_reason:
                break
            if f.drop_after_deltas is not None and n >= f.drop_after_deltas:
                f.drop_after_deltas = None
                self.ws.transport.abort()
                raise ConnectionClosed(None, None)
            delta = base64.b64encode(chunk).decode()
            await self.send("response.output_audio.delta", **where, content_index=0, delta=delta)
            self.items[iid] += len(chunk) // 48
            if n < len(words):
                text = words[n] if n == 0 else " " + words[n]
                await self.send(
                    "response.output_audio_transcript.delta", **where, content_index=0, delta=text
                )
            await self._pace(len(chunk) // 48)
        heard = reply.text if not self.cancel_reason else ""
        done = {**where, "content_index": 0}
        await self.send("response.output_audio.done", **done)
        await self.send("response.output_audio_transcript.done", **done, transcript=heard)
        part = {"type": "audio", "transcript": heard}
        await self.send("response.content_part.done", **done, part=part)
        item["status"] = "incomplete" if self.cancel_reason else "completed"
        item["content"] = [{"type": "output_audio", "transcript": heard}]
        await self.send(
            "response.output_item.done",
            response_id=rid,
            output_index=where["output_index"],
            item=item,
        )
        await self.send("conversation.item.done", item=item, previous_item_id=None)

    async def _pace(self, chunk_ms: int) -> None:
        if self.emu.pace <= 0:
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(chunk_ms * self.emu.pace / 1000):
                await self.cancelled.wait()
        except TimeoutError:
            pass

    async def _call(self, rid: str, call: Call, output: list[dict[str, Any]]) -> None:
        iid, call_id = self.emu.next_id("item"), self.emu.next_id("call")
        args = json.dumps(call.arguments)
        item = {
            "id": iid,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": call.name,
            "arguments": "",
        }
        where = {
            "response_id": rid,
            "item_id": iid,
            "output_index": len(output),
            "call_id": call_id,
        }
        output.append(item)
        self.calls[call_id] = False
        await self.send(
            "response.output_item.added",
            response_id=rid,
            output_index=where["output_index"],
            item=item,
        )
        await self.send("conversation.item.added", item=item, previous_item_id=self.last_item_id)
        self.last_item_id = iid
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            await self.send("response.function_call_arguments.delta", **where, delta=piece)
        await self.send(
            "response.function_call_arguments.done", **where, name=call.name, arguments=args
        )
        item.update(status="completed", arguments=args)
        await self.send(
            "response.output_item.done",
            response_id=rid,
            output_index=where["output_index"],
            item=item,
        )
        await self.send("conversation.item.done", item=item, previous_item_id=None)

    def _arm_idle_timeout(self) -> None:
        td = self.turn_detection or {}
        idle_ms = td.get("idle_timeout_ms")
        if isinstance(idle_ms, int) and idle_ms > 0:
            self.idle_task = asyncio.create_task(self._idle(idle_ms), name="emu-idle")

    async def _idle(self, idle_ms: int) -> None:
        await asyncio.sleep(idle_ms / 1000)
        item_id = self.emu.next_id("item")
        pos = self.vad.position_ms
        await self.send(
            "input_audio_buffer.timeout_triggered",
            audio_start_ms=max(0, pos - idle_ms),
            audio_end_ms=pos,
            item_id=item_id,
        )
        await self._create_response()
