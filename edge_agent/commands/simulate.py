"""`edge-agent simulate`: the real daemon on virtual hardware, against local emulators."""

from __future__ import annotations

import argparse
from typing import Any

from edge_agent.commands.common import add_common

ORDER = 5

DESCRIPTION = """\
Run the very pipeline `edge-agent run` runs — PyAudio, the wake-word detector, the Realtime
client, the tools, the state machine — on this machine with no Pi, microphone, API key or
internet: a private real-time PulseAudio gives it an ALSA mic and speaker (its own temp
asoundrc), the local Realtime emulator plays the model, and device and Open-Meteo emulators
answer the tools, all on 127.0.0.1. The input is played into the virtual mic in real time;
the timeline shows the wake detection, state changes, tool calls, the per-turn summary
(latencies) and what reached the speaker.

By default the input is "hey jarvis, what's the weather in Toronto?" spoken by espeak-ng (made at
run time, cached), and the scenario makes the model call get_weather and then speak.
Devices come from --config ([[devices]]; every family has an emulator), else a demo home
(kitchen light, garage door). Needs pulseaudio, espeak-ng and the wake models
(`edge-agent models fetch`; $EDGE_AGENT_MODELS_DIR is honoured).
Exit codes: 0 done, 1 the daemon failed, 69 something needed is missing, 78 bad config.
"""

DEFAULT_QUESTION = "what's the weather in Toronto?"
DEFAULT_REPLY = "It is minus two and a half degrees and overcast in Toronto."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "simulate",
        help="run the whole pipeline on a recorded question against local emulators",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(parser)
    parser.add_argument(
        "--input",
        metavar="WAV",
        help="mono 16-bit WAV played into the mic (any rate; resampled to 24 kHz); "
        "default: a generated 'hey jarvis, what's the weather in Toronto?'",
    )
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        help="Realtime emulator scenario (TOML, see edge_agent/sim/data/realtime_default.toml); "
        "default: get_weather(Toronto), then a spoken answer",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=60.0,
        help="give up this many seconds after the input was played (default: %(default)s)",
    )
    parser.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    import asyncio
    import json
    import logging
    import sys

    from edge_agent.commands.common import load, setup_logging_from
    from edge_agent.errors import EdgeAgentError

    cfg = _config(args, load)
    level = args.log_level or "warning"
    setup_logging_from(argparse.Namespace(log_level=level), None)
    for handler in logging.getLogger().handlers:  # the timeline shows INFO; stderr only `level`
        handler.setLevel(level.upper())
    try:
        report = asyncio.run(_run(cfg, args))
    except (EdgeAgentError, FileNotFoundError, RuntimeError) as exc:
        print(f"edge-agent simulate: {exc}", file=sys.stderr)
        return 69
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
    else:
        print(_readable(report))
    return 0 if report["exit_code"] == 0 else 1


def _config(args: argparse.Namespace, load: Any) -> Any:
    from edge_agent.config import Config, ConversationConfig, DeviceConfig, parse_config

    if args.config:
        cfg = load(args)
    else:
        cfg = parse_config("", require_api_key=False)
        cfg = Config(
            conversation=ConversationConfig(follow_up_s=2.0),
            devices=(
                DeviceConfig(
                    name="kitchen light",
                    family="tasmota",
                    host="kitchen-light.lan",
                    kind="light",
                    area="kitchen",
                    actions=("power", "brightness", "read"),
                ),
                DeviceConfig(
                    name="garage door",
                    family="shelly_gen1",
                    host="garage.lan",
                    kind="garage",
                    area="garage",
                ),
            ),
        )
    return cfg


def _input(path: str | None) -> tuple[Any, str]:
    """24 kHz int16 samples to play into the mic, and where they came from."""
    import wave

    import numpy as np

    from edge_agent.sim.pipeline_rig import spoken_request
    from edge_agent.sim.speech import resample

    if path is None:
        samples, _ = spoken_request(DEFAULT_QUESTION, tail_s=1.0)
        return samples, f'generated "hey jarvis, {DEFAULT_QUESTION}"'
    with wave.open(path, "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise FileNotFoundError(f"{path}: expected a mono 16-bit WAV")
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
        rate = wav.getframerate()
    pad = np.zeros(24000, np.int16)
    return np.concatenate([pad // 2, resample(pcm, rate, 24000), pad]), path


def _scenario(path: str | None) -> Any:
    from edge_agent.sim.scenario import Call, Reply, Scenario, Turn, load_scenario, tone
    from edge_agent.sim.speech import speak

    if path is not None:
        return load_scenario(path)
    try:
        pcm = speak(DEFAULT_REPLY, "en-us+f3", 165, 24000).tobytes()
    except FileNotFoundError:
        pcm = tone(523, 1500)
    return Scenario(
        (
            Turn(
                calls=(Call("get_weather", {"location": "Toronto"}),),
                then=Reply(DEFAULT_REPLY, pcm),
            ),
        )
    )


async def _run(cfg: Any, args: argparse.Namespace) -> dict[str, Any]:
    import asyncio

    import numpy as np

    from edge_agent.sim.pipeline_rig import PipelineRig, played_prefix
    from edge_agent.states import State

    samples, source = await asyncio.to_thread(_input, args.input)
    scenario = await asyncio.to_thread(_scenario, args.scenario)
    async with PipelineRig(cfg, scenario=scenario) as rig:
        assert rig.pipeline is not None and rig.emulator is not None and rig.config is not None
        pipeline, emulator = rig.pipeline, rig.emulator
        await rig.say(samples)
        await asyncio.sleep(0.5)  # a detection at the very end still gets to start its turn
        await rig.wait_for(
            lambda: (
                pipeline.turns.current is None
                and pipeline.app.state in (State.IDLE, State.ERROR, State.MUTED)
            ),
            args.timeout_s,
            "end of the conversation",
        )
        await asyncio.sleep(0.3)  # let the speaker recording catch the last samples
        exit_code = await rig.stop_app()
        heard = rig.heard()
        devices = {
            name: f"{dev.family} at 127.0.0.1:{dev.port}"
            for name, dev in ((d.name, d) for d in rig.config.devices)
        }
        url = rig.config.realtime.url
    replies = []
    for turn in scenario.turns:
        for reply in (turn.reply, turn.then):
            if reply is None:
                continue
            start, n = played_prefix(heard, np.frombuffer(reply.pcm, np.int16))
            replies.append(
                {
                    "text": reply.text,
                    "samples": len(reply.pcm) // 2,
                    "played_exact_samples": n,
                    "at_speaker_sample": start,
                }
            )
    return {
        "input": {"source": source, "samples": len(samples), "seconds": len(samples) / 24000},
        "realtime_url": url,
        "devices": devices,
        "exit_code": exit_code,
        "timeline": [e.as_dict() for e in rig.timeline.entries],
        "states": rig.states,
        "turns": [t.fields() for t in pipeline.turns.finished],
        "streamed_samples": len(emulator.input_audio) // 2,
        "client_events": _counts(emulator.client_events),
        "server_events": _counts(emulator.server_events),
        "tool_calls": _tool_calls(emulator),
        "replies": replies,
        "speaker_samples": len(heard),
    }


def _counts(events: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ev in events:
        out[ev.get("type", "?")] = out.get(ev.get("type", "?"), 0) + 1
    return out


def _tool_calls(emulator: Any) -> list[dict[str, Any]]:
    import json

    outputs = {
        e["item"]["call_id"]: e["item"]["output"]
        for e in emulator.events_of("conversation.item.create")
        if e["item"].get("type") == "function_call_output"
    }
    calls = [
        e for e in emulator.server_events if e["type"] == "response.function_call_arguments.done"
    ]
    return [
        {
            "name": c["name"],
            "arguments": json.loads(c["arguments"]),
            "result": json.loads(outputs[c["call_id"]]) if c["call_id"] in outputs else None,
        }
        for c in calls
    ]


def _readable(r: dict[str, Any]) -> str:
    import json

    lines = [
        "edge-agent simulate: the real pipeline on virtual hardware (no Pi, mic, key or internet)",
        "  mic/speaker : ALSA vmic/vspk (private real-time PulseAudio)",
        f"  realtime    : emulator at {r['realtime_url']}",
        f"  devices     : {', '.join(f'{k} ({v})' for k, v in r['devices'].items()) or 'none'}",
        f"  input       : {r['input']['source']} ({r['input']['seconds']:.2f} s)",
        "",
        "  time (s)  event",
    ]
    for e in r["timeline"]:
        extra = {k: v for k, v in e.items() if k not in ("at_s", "kind", "text", "STATE")}
        shown = "  ".join(f"{k}={v}" for k, v in extra.items() if k not in ("TURN_ID",))
        lines.append(f"  {e['at_s']:8.3f}  {e['text']}" + (f"   [{shown}]" if shown else ""))
    lines += ["", "summary"]
    lines.append(f"  states        : {' -> '.join(r['states'])}")
    streamed = r["streamed_samples"]
    lines.append(f"  mic streamed  : {streamed} samples ({streamed / 24000:.2f} s) to the model")
    for call in r["tool_calls"]:
        result = json.dumps(call["result"])
        result = result if len(result) <= 120 else result[:117] + "..."
        lines.append(
            f"  tool call     : {call['name']}({json.dumps(call['arguments'])}) -> {result}"
        )
    for rep in r["replies"]:
        exact = rep["played_exact_samples"] == rep["samples"]
        lines.append(
            f"  reply         : {rep['text']!r}: {rep['samples']} samples, "
            f"{rep['played_exact_samples']} played{' bit-exact' if exact else ''}"
        )
    for t in r["turns"]:
        keys = ("OUTCOME", "TRIGGER", "WAKE_SCORE", "WAKE_TO_STREAM_MS", "LATENCY_MS", "REPLY_MS")
        lines.append("  turn          : " + ", ".join(f"{k}={t[k]}" for k in keys if k in t))
    sent = ", ".join(f"{k} x{v}" for k, v in r["client_events"].items())
    lines.append(f"  client events : {sent or 'none'}")
    lines.append(f"  exit code     : {r['exit_code']}")
    return "\n".join(lines)
