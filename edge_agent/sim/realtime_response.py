"""One emulated Realtime response: a scripted reply and tool calls streamed as GA events.

Owned by `EmulatedSession` (one per response.create or VAD turn). Sends the output items
(``response.output_item.*``, ``conversation.item.*``, ``response.content_part.*``), the audio
and transcript deltas paced like the real service, the function-call argument deltas, and
``response.done`` with the billed usage and ``rate_limits.updated``. Stops at the session's
cancel and applies the `drop_after_deltas` fault and this response's `ResponseFault` (failed,
incomplete, two audio items, an unannounced item, an odd-length delta). Records the audio each
item holds into the session (`items`, history) for truncation and billing. It decides nothing
about what to say: the session plans that.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from edge_agent.realtime.events import Usage
from edge_agent.sim.realtime_faults import ResponseFault
from edge_agent.sim.realtime_history import HistoryItem, UsageRecord, text_tokens, usage_json
from edge_agent.sim.scenario import Call, Reply

if TYPE_CHECKING:
    from edge_agent.sim.realtime_session import EmulatedSession

__all__ = ["EmulatedResponse"]

_BYTES_PER_MS = 48  # 24 kHz int16 mono


class EmulatedResponse:
    """Streams one response's events through its session."""

    def __init__(
        self, session: EmulatedSession, rid: str, billed: Usage, fault: ResponseFault | None
    ) -> None:
        self.session, self.rid, self.billed = session, rid, billed
        self.fault = fault or ResponseFault()
        self.output: list[dict[str, Any]] = []
        self.out_audio_ms = 0
        self.out_text_tokens = 0

    async def play(self, reply: Reply | None, calls: tuple[Call, ...]) -> str:
        """Speak `reply`, then make `calls`, then response.done; returns the final status."""
        s, fault = self.session, self.fault
        if fault.status in ("failed", "incomplete"):
            if reply is not None and fault.after_ms > 0:
                cut = fault.after_ms * _BYTES_PER_MS
                await self._speak_parts(Reply(reply.text, reply.pcm[:cut]), ended=fault.status)
            calls = ()
        elif reply is not None:
            await self._speak_parts(reply)
        if calls:
            s.calls = {}
            for call in calls:
                await self._call(call)
        status = fault.status or ("cancelled" if s.cancel_reason else "completed")
        await self._done(status)
        return status

    def _usage(self, status: str) -> Usage:
        if status == "failed" and not self.output:
            return Usage()  # nothing was processed
        out_audio = -(-self.out_audio_ms // 50)
        out = out_audio + self.out_text_tokens
        return dataclasses.replace(
            self.billed,
            output_tokens=out,
            output_audio_tokens=out_audio,
            output_text_tokens=self.out_text_tokens,
            total_tokens=self.billed.input_tokens + out,
        )

    async def _done(self, status: str) -> None:
        s, fault = self.session, self.fault
        usage = self._usage(status)
        response: dict[str, Any] = {
            "id": self.rid,
            "object": "realtime.response",
            "status": status,
            "output": self.output,
            "usage": usage_json(usage),
        }
        if status == "cancelled":
            response["status_details"] = {"type": "cancelled", "reason": s.cancel_reason}
        elif status == "incomplete":
            response["status_details"] = {"type": "incomplete", "reason": fault.reason}
        elif status == "failed":
            error = {"type": fault.error_type, "code": fault.code, "message": fault.message}
            response["status_details"] = {"type": "failed", "error": error}
        s.emu.usage_log.append(UsageRecord(self.rid, s.index, status, usage))
        s.response_task = None  # a response.create may follow response.done at once
        await s.send("response.done", response=response)
        limits = [
            {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60.0},
            {"name": "tokens", "limit": 100000, "remaining": 99000, "reset_seconds": 60.0},
        ]
        await s.send("rate_limits.updated", rate_limits=limits)

    async def _add_item(self, item: dict[str, Any], announce: bool = True) -> dict[str, Any]:
        """A new output item (announced unless told not to); returns where it stands."""
        s = self.session
        where = {"response_id": self.rid, "item_id": item["id"], "output_index": len(self.output)}
        self.output.append(item)
        if announce:
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

    async def _speak_parts(self, reply: Reply, ended: str | None = None) -> None:
        """The reply as one audio item, or two when the fault says so."""
        if not self.fault.two_audio_items:
            await self._speak(reply, ended)
            return
        split_ms = self.fault.split_ms or reply.duration_ms // 2
        cut = split_ms * _BYTES_PER_MS
        words = reply.text.split(" ") if reply.text else []
        half = len(words) // 2
        await self._speak(Reply(" ".join(words[:half]), reply.pcm[:cut]), None)
        if not self.session.cancel_reason:
            await self._speak(Reply(" ".join(words[half:]), reply.pcm[cut:]), ended)

    async def _speak(self, reply: Reply, ended: str | None) -> None:
        s, fault = self.session, self.fault
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
        history = HistoryItem(iid, "assistant_audio")
        s.history.add(history)
        announce = not fault.unannounced_item
        where = await self._add_item(item, announce)
        part = {"type": "audio", "transcript": ""}
        if announce:
            await s.send("response.content_part.added", **where, content_index=0, part=part)
        words = reply.text.split(" ") if reply.text else []
        step = s.emu.delta_ms * _BYTES_PER_MS
        chunks = [reply.pcm[i : i + step] for i in range(0, len(reply.pcm), step)]
        sent_bytes, said = 0, []
        for n, chunk in enumerate(chunks):
            if s.cancel_reason:
                break
            if s.emu.faults.drop_after_deltas is not None and n >= s.emu.faults.drop_after_deltas:
                s.emu.faults.drop_after_deltas = None
                s.ws.transport.abort()
                raise ConnectionClosed(None, None)
            delta = base64.b64encode(chunk).decode()
            await s.send("response.output_audio.delta", **where, content_index=0, delta=delta)
            if n == 0 and fault.odd_delta:
                odd = base64.b64encode(b"\x01\x02\x03").decode()
                await s.send("response.output_audio.delta", **where, content_index=0, delta=odd)
            sent_bytes += len(chunk)
            s.spoke = True
            s.items[iid] = sent_bytes // _BYTES_PER_MS
            s.history.set_assistant_audio(iid, s.items[iid])
            if n < len(words):
                said.append(words[n])
                text = words[n] if n == 0 else " " + words[n]
                await s.send(
                    "response.output_audio_transcript.delta", **where, content_index=0, delta=text
                )
            await self._pace(len(chunk) // _BYTES_PER_MS)
        if s.cancel_reason:
            heard = ""  # the unheard transcript is dropped (the client truncates)
        elif ended:
            heard = " ".join(said)  # failed/incomplete: what was generated before the end
        else:
            heard = reply.text
        self.out_audio_ms += s.items[iid]
        self.out_text_tokens += text_tokens(" ".join(said) if s.cancel_reason else heard)
        done = {**where, "content_index": 0}
        await s.send("response.output_audio.done", **done)
        await s.send("response.output_audio_transcript.done", **done, transcript=heard)
        part = {"type": "audio", "transcript": heard}
        await s.send("response.content_part.done", **done, part=part)
        item["status"] = "incomplete" if s.cancel_reason or ended else "completed"
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
        s.call_ids.add(call_id)
        where = {**await self._add_item(item), "call_id": call_id}
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            await s.send("response.function_call_arguments.delta", **where, delta=piece)
        await s.send(
            "response.function_call_arguments.done", **where, name=call.name, arguments=args
        )
        item.update(status="completed", arguments=args)
        s.history.add(HistoryItem(iid, "function_call", text_tokens(call.name + args)))
        self.out_text_tokens += text_tokens(args)
        await self._finish_item(item, where["output_index"])
