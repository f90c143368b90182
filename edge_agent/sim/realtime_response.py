"""One emulated Realtime response: a scripted reply and tool calls streamed as GA events.

Owned by `EmulatedSession` (one per response.create or VAD turn). Sends the output items
(``response.output_item.*``, ``conversation.item.*``, ``response.content_part.*``), the audio
and transcript deltas paced like the real service, the function-call argument deltas, and
``response.done`` with usage and ``rate_limits.updated``. Stops at the session's cancel and
applies the `drop_after_deltas` fault. Records audio ms per item into the session (`items`) for
truncation checks. It decides nothing about what to say: the session plans that.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from edge_agent.sim.scenario import Call, Reply

if TYPE_CHECKING:
    from edge_agent.sim.realtime_session import EmulatedSession

__all__ = ["EmulatedResponse"]

_BYTES_PER_MS = 48  # 24 kHz int16 mono


class EmulatedResponse:
    """Streams one response's events through its session."""

    def __init__(self, session: EmulatedSession, rid: str) -> None:
        self.session, self.rid = session, rid
        self.output: list[dict[str, Any]] = []

    async def play(self, reply: Reply | None, calls: tuple[Call, ...]) -> str:
        """Speak `reply`, then make `calls`, then response.done; returns the final status."""
        s = self.session
        if reply is not None:
            await self._speak(reply)
        if calls:
            s.calls = {}
            for call in calls:
                await self._call(call)
        status = "cancelled" if s.cancel_reason else "completed"
        await self._done(status)
        return status

    async def _done(self, status: str) -> None:
        s = self.session
        audio_ms = sum(s.items.get(o["id"], 0) for o in self.output)
        usage = {
            "total_tokens": 120 + audio_ms // 50,
            "input_tokens": 100,
            "output_tokens": 20 + audio_ms // 50,
            "input_token_details": {"text_tokens": 40, "audio_tokens": 60, "cached_tokens": 0},
            "output_token_details": {"text_tokens": 20, "audio_tokens": audio_ms // 50},
        }
        response: dict[str, Any] = {
            "id": self.rid,
            "object": "realtime.response",
            "status": status,
            "output": self.output,
            "usage": usage,
        }
        if status == "cancelled":
            response["status_details"] = {"type": "cancelled", "reason": s.cancel_reason}
        s.response_task = None  # a response.create may follow response.done at once
        await s.send("response.done", response=response)
        limits = [
            {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60.0},
            {"name": "tokens", "limit": 100000, "remaining": 99000, "reset_seconds": 60.0},
        ]
        await s.send("rate_limits.updated", rate_limits=limits)

    async def _add_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """Announce a new output item; returns where it stands (response, item, index)."""
        s = self.session
        where = {"response_id": self.rid, "item_id": item["id"], "output_index": len(self.output)}
        self.output.append(item)
        await s.send(
            "response.output_item.added",
            response_id=self.rid,
            output_index=where["output_index"],
            item=item,
        )
        await s.send("conversation.item.added", item=item, previous_item_id=s.last_item_id)
        s.last_item_id = item["id"]
        return where

    async def _finish_item(self, item: dict[str, Any], output_index: int) -> None:
        s = self.session
        await s.send(
            "response.output_item.done",
            response_id=self.rid,
            output_index=output_index,
            item=item,
        )
        await s.send("conversation.item.done", item=item, previous_item_id=None)

    async def _speak(self, reply: Reply) -> None:
        s = self.session
        iid = s.emu.next_id("item")
        item: dict[str, Any] = {
            "id": iid,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        s.items[iid] = 0
        where = await self._add_item(item)
        part = {"type": "audio", "transcript": ""}
        await s.send("response.content_part.added", **where, content_index=0, part=part)
        words = reply.text.split(" ") if reply.text else []
        step = s.emu.delta_ms * _BYTES_PER_MS
        chunks = [reply.pcm[i : i + step] for i in range(0, len(reply.pcm), step)]
        f = s.emu.faults
        for n, chunk in enumerate(chunks):
            if s.cancel_reason:
                break
            if f.drop_after_deltas is not None and n >= f.drop_after_deltas:
                f.drop_after_deltas = None
                s.ws.transport.abort()
                raise ConnectionClosed(None, None)
            delta = base64.b64encode(chunk).decode()
            await s.send("response.output_audio.delta", **where, content_index=0, delta=delta)
            s.items[iid] += len(chunk) // _BYTES_PER_MS
            if n < len(words):
                text = words[n] if n == 0 else " " + words[n]
                await s.send(
                    "response.output_audio_transcript.delta", **where, content_index=0, delta=text
                )
            await self._pace(len(chunk) // _BYTES_PER_MS)
        heard = reply.text if not s.cancel_reason else ""
        done = {**where, "content_index": 0}
        await s.send("response.output_audio.done", **done)
        await s.send("response.output_audio_transcript.done", **done, transcript=heard)
        part = {"type": "audio", "transcript": heard}
        await s.send("response.content_part.done", **done, part=part)
        item["status"] = "incomplete" if s.cancel_reason else "completed"
        item["content"] = [{"type": "output_audio", "transcript": heard}]
        await self._finish_item(item, where["output_index"])

    async def _pace(self, chunk_ms: int) -> None:
        """Wait as long as the audio lasts (times the emulator's pace), or until a cancel."""
        s = self.session
        if s.emu.pace <= 0:
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(chunk_ms * s.emu.pace / 1000):
                await s.cancelled.wait()
        except TimeoutError:
            pass

    async def _call(self, call: Call) -> None:
        s = self.session
        iid, call_id = s.emu.next_id("item"), s.emu.next_id("call")
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
        s.calls[call_id] = False
        where = {**await self._add_item(item), "call_id": call_id}
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            await s.send("response.function_call_arguments.delta", **where, delta=piece)
        await s.send(
            "response.function_call_arguments.done", **where, name=call.name, arguments=args
        )
        item.update(status="completed", arguments=args)
        await self._finish_item(item, where["output_index"])
