"""Hostile messages for the command topics: none of them is a command.

Invalid UTF-8, oversize payloads, control/format characters only, near misses of the real
payloads (``TRUE``, ``PUSH``, ``101``, ``nan``), broken or wrong-shaped JSON, deep nesting —
chosen by kind, not by running our own parser over random bytes.
"""

from __future__ import annotations

import random

from edge_agent.mqtt.topics import Topics

_NEAR_MISSES = {
    "mute": [b"TRUE", b"1", b"yes", b"{}", b"ONN", b"\x00ON", b"O N"],
    "volume": [b"-1", b"101", b"nan", b"inf", b"-inf", b"1e309", b"50%", b"", b"0x10", b"[50]"],
    "press": [b"PUSH", b"1", b"", b"{}", b"PRESSED", b"\x00PRESS"],
    "announce": [
        b"Dinner!", b"[1]", b"null", b'{"text": 5}', b'{"text": ""}', b'{"text": "\\u202e"}',
        b'{"text": "a", "start_conversation": "yes"}', b'{"text": "a", "x": 1}', b"[" * 3000,
        b'{"text": "a"', b'"just a string"',
    ],
}  # fmt: skip
_BLANK_TEXT = [
    "",
    " ",
    "\t\n",
    "\x1b\x1b",
    "\u202e\u200b",
    "\x00\x07\x1b",
    "\u2028\u2029 \u200d",
    "...",
    "?!",
]


def garbage(t: Topics, n: int, seed: int = 18) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    near = {
        t.mute_set: _NEAR_MISSES["mute"],
        t.volume_set: _NEAR_MISSES["volume"],
        t.conversation_press: _NEAR_MISSES["press"],
        t.announce: _NEAR_MISSES["announce"],
    }
    out: list[tuple[str, bytes]] = []
    for i in range(n):
        topic = t.commands[i % len(t.commands)]
        kind = rng.randrange(4)
        if kind == 0:  # invalid UTF-8
            payload = b"\xff" + rng.randbytes(rng.randrange(0, 200))
        elif kind == 1:  # too big
            payload = b"A" * rng.randrange(4097, 9000)
        elif kind == 2 or topic == t.notify:  # nothing printable
            payload = "".join(rng.choice(_BLANK_TEXT) for _ in range(rng.randrange(1, 20))).encode()
        else:
            payload = rng.choice(near[topic])
        out.append((topic, payload))
    return out


async def flood(broker, bridge, n: int = 1000, batch: int = 100) -> None:  # type: ignore[no-untyped-def]
    """Publish `n` garbage messages in batches the bridge's bounded queue can hold, each
    batch read before the next (so every one of them is judged, none dropped unread)."""
    import asyncio
    import time

    messages = garbage(bridge.topics, n)
    start = bridge.rejected
    async with broker.client() as c:
        for i in range(0, n, batch):
            for topic, payload in messages[i : i + batch]:
                await c.publish(topic, payload, qos=1)
            want = start + min(i + batch, n)
            deadline = time.monotonic() + 20
            while bridge.rejected < want and bridge.commands_done == 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{bridge.rejected - start} of {want - start} read")
                await asyncio.sleep(0.01)
