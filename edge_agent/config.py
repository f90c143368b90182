"""Configuration: one TOML file parsed into frozen dataclasses, one per section.

This module is the only place that parses configuration. It does no other I/O than reading the
config file and secret files. Every error names the file, the key path (``devices[2].host``), the
value (never a secret) and what is expected; unknown keys are errors with a did-you-mean.

Where the file is: ``--config PATH``, else ``$EDGE_AGENT_CONFIG``, else
``/etc/edge-agent/config.toml``. A missing default file means "all defaults"; a missing file that
was asked for explicitly is an error.

The OpenAI API key is never in the TOML file. It comes from, in this order:
``$CREDENTIALS_DIRECTORY/openai_api_key`` (systemd ``LoadCredential=``), ``realtime.api_key_file``,
or ``$OPENAI_API_KEY``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import tomllib
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from edge_agent.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EX_CONFIG",
    "AudioConfig",
    "BudgetConfig",
    "ButtonsConfig",
    "Config",
    "ConversationConfig",
    "DaemonConfig",
    "DeviceConfig",
    "EarconsConfig",
    "EntityRef",
    "HomeAssistantConfig",
    "HomeConfig",
    "HttpToolConfig",
    "LedConfig",
    "McpConfig",
    "McpServerConfig",
    "MqttConfig",
    "MqttTlsConfig",
    "PriceConfig",
    "RealtimeConfig",
    "Secret",
    "StatusConfig",
    "TimersConfig",
    "ToolsConfig",
    "UsageConfig",
    "VolumeConfig",
    "WakeConfig",
    "WeatherConfig",
    "cert_fingerprint",
    "config_path",
    "dump_toml",
    "load_config",
    "parse_config",
    "parse_entity",
    "secret_values",
]

DEFAULT_CONFIG_PATH: Final = Path("/etc/edge-agent/config.toml")
EX_CONFIG: Final = (
    78  # sysexits.h: configuration error; systemd unit has RestartPreventExitStatus=78
)
CREDENTIAL_NAME: Final = "openai_api_key"
RELAY_CREDENTIAL_NAME: Final = "relay_token"


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value: call it only where the secret is put on the wire."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "'***'" if self._value else "''"

    __str__ = __repr__


def secret_values(headers: Iterable[tuple[str, Secret]]) -> Iterator[str]:
    """What must be scrubbed for these secret headers: each value, and the credential alone
    when the value is ``<scheme> <credential>`` (``Bearer abc`` from a token_file): a server
    that echoes the bare token must not hand it to the model (or a log line) either."""
    for _, value in headers:
        text = value.reveal().strip()
        yield text
        scheme, sep, credential = text.partition(" ")
        if sep and scheme.isalpha() and credential.strip():
            yield credential.strip()


def _f(default: Any, help: str, **checks: Any) -> Any:
    """A dataclass field with its help text and value checks (min, max)."""
    if isinstance(default, list | tuple):
        return field(default=tuple(default), metadata={"help": help, **checks})
    return field(default=default, metadata={"help": help, **checks})


def _req(help: str, **checks: Any) -> Any:
    """A required field (no default)."""
    return field(metadata={"help": help, "required": True, **checks})


# --------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """[daemon]: where the daemon keeps its files and how much it logs."""

    state_dir: str = _f(
        "/var/lib/edge-agent", "directory for memories and wake models (systemd StateDirectory)"
    )
    cache_dir: str = _f("/var/cache/edge-agent", "directory for caches (systemd CacheDirectory)")
    log_level: Literal["debug", "info", "warning", "error"] = _f(
        "info", "log level; --log-level and $EDGE_AGENT_LOG_LEVEL override it"
    )


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """[audio]: microphone and speaker."""

    input_device: str = _f(
        "default", "ALSA capture device: exact name, a unique substring, or 'default'"
    )
    output_device: str = _f(
        "default", "ALSA playback device: exact name, a unique substring, or 'default'"
    )
    frame_ms: int = _f(
        40,
        "capture frame length in milliseconds; each frame wakes the audio thread, so shorter "
        "frames cost idle CPU",
        min=10,
        max=100,
    )
    preroll_ms: int = _f(
        500, "audio streamed from before the wake word's detection, ms", min=0, max=1800
    )
    ring_ms: int = _f(
        2000, "how much recent mic audio is kept for pre-roll, ms", min=500, max=10000
    )
    playback_start_ms: int = _f(
        160,
        "jitter buffer: reply audio buffered before playback starts, ms (160 absorbs 0-80 ms "
        "network jitter with no underrun, bench/audio.py)",
        min=0,
        max=1000,
    )
    period_ms: int = _f(20, "playback period (PyAudio frames per buffer), ms", min=5, max=100)
    volume: float = _f(1.0, "reply and earcon volume, 0.0 (mute) to 2.0 (double)", min=0.0, max=2.0)
    duplex: Literal["half", "full"] = _f(
        "half",
        "'half': the mic is not streamed while a reply plays (barge-in by wake word or button); "
        "'full': stream during playback (needs echo cancellation) and barge in on server VAD",
    )
    reopen_interval_s: float = _f(
        3.0, "seconds between attempts to reopen a lost mic or speaker", min=0.1, max=300.0
    )
    input_channel: int = _f(
        -1,
        "capture: which channel of a multi-channel mic to use (0 = first); -1 averages them. "
        "Only matters when the device offers no mono (see `edge-agent audio list`)",
        min=-1,
        max=31,
    )
    echo_cancel: Literal["off", "speex"] = _f(
        "off",
        "acoustic echo cancellation of the reply in the mic signal: 'speex' (in-process, "
        "libspeexdsp1) or 'off'; needed for duplex = 'full' with a speaker near the mic",
    )
    echo_tail_ms: int = _f(
        200,
        "echo canceller filter length, ms: the longest echo it removes (room reverberation "
        "plus the output->input delay it could not measure)",
        min=40,
        max=500,
    )


@dataclass(frozen=True, slots=True)
class EarconsConfig:
    """[earcons]: short sounds for wake, done, error and mute."""

    enabled: bool = _f(True, "play earcons at all")
    volume: float = _f(0.5, "earcon volume relative to audio.volume, 0.0 to 1.0", min=0.0, max=1.0)
    wake: bool = _f(True, "play a sound when the wake word is heard")
    done: bool = _f(True, "play a sound when a conversation ends")
    error: bool = _f(True, "play a sound when something fails")
    muted: bool = _f(True, "play a sound when the mic is muted or unmuted")
    ringing: bool = _f(True, "play the ringing sound (on a loop) when a timer or alarm is due")
    budget: bool = _f(
        True, "play the 'budget used up' notice when budget.action = 'refuse' refuses a turn"
    )


@dataclass(frozen=True, slots=True)
class WakeConfig:
    """[wake]: the wake-word detector (openWakeWord or microWakeWord)."""

    engine: Literal["openwakeword", "microwakeword"] = _f(
        "openwakeword",
        "wake-word engine: 'openwakeword' (ONNX, CC BY-NC-SA models, best recall) or "
        "'microwakeword' (TFLite, Apache-2.0 models, ~10x less CPU and memory)",
    )
    models: tuple[str, ...] = _f(
        ("hey_jarvis",),
        "wake-word models: built-in names (openwakeword: hey_jarvis, alexa, hey_mycroft, "
        "hey_rhasspy; microwakeword: hey_jarvis, okay_nabu, hey_mycroft, alexa) or paths to "
        "custom models (openwakeword: .onnx; microwakeword: .tflite with its .json manifest)",
    )
    models_dir: str = _f(
        "", "where the built-in models are stored; empty means <daemon.state_dir>/models"
    )
    threshold: float = _f(
        0.5, "openwakeword: score a frame must reach to count, 0.0 to 1.0", min=0.0, max=1.0
    )
    micro_cutoff: float = _f(
        0.0,
        "microwakeword: probability a frame must reach; 0 = each model's own cutoff from its "
        "manifest (hey_jarvis 0.97, okay_nabu 0.85, hey_mycroft 0.95, alexa 0.9)",
        min=0.0,
        max=1.0,
    )
    micro_window: int = _f(
        0,
        "microwakeword: probabilities averaged per decision; 0 = the manifest's (5)",
        min=0,
        max=100,
    )
    vad_model: Literal["auto", "silero", "micro"] = _f(
        "auto",
        "VAD for the gate and the wake word's end estimate: 'silero' (onnxruntime), 'micro' "
        "(pymicro-vad, no onnxruntime); 'auto' = silero with openwakeword, micro with "
        "microwakeword",
    )
    patience_frames: int = _f(
        1, "consecutive 80 ms frames at or above the threshold before a detection", min=1, max=10
    )
    refractory_s: float = _f(
        2.0, "seconds after a detection during which no new one fires", min=0.0, max=30.0
    )
    vad_threshold: float = _f(
        0.5,
        "Silero VAD gate (0 = off): a detection needs speech at or above this score in the "
        "0.3-0.5 s before it; cuts false accepts on non-speech and unclear sounds",
        min=0.0,
        max=1.0,
    )
    verifier_model: str = _f(
        "", "optional verifier (.npz) trained on the wake model's embeddings (path); empty = off"
    )
    verifier_threshold: float = _f(
        0.9,
        "with a verifier: its probability a step must reach as well as the threshold",
        min=0.0,
        max=1.0,
    )


@dataclass(frozen=True, slots=True)
class RealtimeConfig:
    """[realtime]: the OpenAI Realtime API session (GA interface)."""

    url: str = _f(
        "wss://api.openai.com/v1/realtime",
        "WebSocket URL (Azure and the local emulator are other URLs)",
    )
    model: str = _f(
        "gpt-realtime-2.1",
        "model name, sent as ?model= (Azure: the deployment name); 'gpt-realtime-2.1-mini' is "
        "the cheap choice (~1/3 of the price per turn, docs/cost.md)",
    )
    reasoning_effort: Literal["minimal", "low", "medium", "high", "xhigh"] = _f(
        "low",
        "how hard a reasoning model (gpt-realtime-2.x) thinks before it speaks; more effort "
        "costs output tokens and latency; not sent to other models",
    )
    voice: Literal[
        "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"
    ] = _f("marin", "reply voice")
    speed: float = _f(1.0, "reply speaking speed", min=0.25, max=1.5)
    instructions: str = _f(
        "You are a helpful voice assistant on a small speaker at home. Answer briefly, in one or "
        "two spoken sentences. Use the tools to control devices and look things up.",
        "system instructions for every session (memories are appended)",
    )
    auth: Literal["bearer", "api-key"] = _f(
        "bearer",
        "'bearer': Authorization: Bearer <key> (OpenAI); 'api-key': api-key header (Azure)",
    )
    api_key_file: str = _f(
        "",
        "file holding the API key (after $CREDENTIALS_DIRECTORY/openai_api_key, before $OPENAI_API_KEY)",
    )
    token_url: str = _f(
        "",
        'URL of a relay that returns an ephemeral client secret ({"value": "ek_..."}), e.g. '
        "https://relay.lan:8443/v1/realtime/client_secrets (`edge-agent relay`); when set, no "
        "API key is needed on this device",
    )
    token_file: str = _f(
        "",
        "with token_url: file holding this satellite's relay token (`edge-agent relay "
        "add-satellite`), sent as Bearer to the relay; $CREDENTIALS_DIRECTORY/relay_token "
        "comes first. The OpenAI key is never sent to a relay",
    )
    token_ca_file: str = _f(
        "",
        "with token_url: PEM certificate of the CA that signed the relay's certificate (or the "
        "relay's self-signed certificate) to trust; empty = the usual CA bundle",
    )
    noise_reduction: Literal["far_field", "near_field", "off"] = _f(
        "far_field", "server-side input noise reduction"
    )
    turn_detection: Literal["server_vad", "semantic_vad"] = _f(
        "server_vad",
        "'server_vad': a turn ends after silence_duration_ms of silence; 'semantic_vad': the "
        "service judges from the words whether the user has finished (see eagerness)",
    )
    eagerness: Literal["auto", "low", "medium", "high"] = _f(
        "auto",
        "semantic_vad only: how soon to answer; 'low' waits up to 8 s for the user to go on, "
        "'high' answers after 2 s at most",
    )
    vad_threshold: float = _f(0.5, "server VAD threshold", min=0.0, max=1.0)
    prefix_padding_ms: int = _f(300, "server VAD prefix padding, ms", min=0, max=2000)
    silence_duration_ms: int = _f(
        500, "silence that ends a turn (server VAD), ms", min=100, max=5000
    )
    transcription_model: str = _f(
        "", "transcribe the user's speech into the log with this model (empty = off)"
    )
    max_output_tokens: int = _f(1024, "cap on tokens per reply", min=1, max=4096)
    truncation: Literal["retention_ratio", "auto", "disabled"] = _f(
        "retention_ratio",
        "how the service shortens a long conversation: 'retention_ratio' cuts the oldest items "
        "down to retention_ratio of the limit at once, so the rest stays cached for the next "
        "turns; 'auto' cuts just enough at every turn over the limit; 'disabled' never cuts",
    )
    retention_ratio: float = _f(
        0.8, "share of the history limit kept when the history is cut", min=0.1, max=1.0
    )
    history_max_tokens: int = _f(
        0,
        "retention_ratio: the history limit after the instructions, tokens (0 = the model's "
        "context); a cap bounds what an uncached response re-reads, but each cut re-bills the "
        "kept history uncached once, which costs more than it saves while the cache holds "
        "(docs/cost.md)",
        min=0,
        max=120000,
    )
    connect_timeout_s: float = _f(
        10.0, "seconds to wait for the WebSocket to open", min=1.0, max=120.0
    )
    idle_close_s: float = _f(
        300.0,
        "close the session after this long without a turn (history stops being re-billed)",
        min=0.0,
    )
    session_max_s: float = _f(
        3300.0,
        "rotate the session between turns after this long (the service caps it at 60 min)",
        min=60.0,
        max=3600.0,
    )


@dataclass(frozen=True, slots=True)
class ConversationConfig:
    """[conversation]: how a turn starts, continues and ends."""

    follow_up_s: float = _f(
        5.0,
        "after a reply, seconds in which speech continues without the wake word (0 = off)",
        min=0.0,
        max=60.0,
    )
    no_speech_timeout_s: float = _f(
        8.0, "after the wake word, seconds to wait for speech before going idle", min=1.0, max=60.0
    )
    max_turn_s: float = _f(
        60.0, "hard cap on one turn, from wake to the end of the reply", min=5.0, max=600.0
    )
    barge_guard_ms: int = _f(
        300,
        "full duplex: the service hearing speech this soon after a reply starts is taken for "
        "the reply's own echo and ignored, ms (0 = off)",
        min=0,
        max=3000,
    )


def _table(help: str) -> Any:
    """A TOML table kept as a dict (JSON Schema, headers)."""
    return field(default_factory=dict, metadata={"help": help})


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True, slots=True)
class HttpToolConfig:
    """[[tools.http]]: an HTTP API offered to the model as a function (docs/mcp.md)."""

    name: str = _req(
        "function name the model calls: letters, digits, '_' or '-', e.g. 'get_stock_price'"
    )
    description: str = _req("what the tool does and when to use it (the model reads this)")
    url: str = _req(
        "http(s) URL template; {placeholders} name parameters and may fill only path segments "
        "and query values (URL-encoded; never scheme, host or port)"
    )
    parameters: dict[str, Any] = _table(
        "JSON Schema of the arguments (an object schema; each placeholder must be a property)"
    )
    method: HttpMethod = _f("GET", "HTTP method")
    body: Literal["none", "json"] = _f(
        "none", "'json': send the arguments that fill no placeholder as a JSON object body"
    )
    headers: dict[str, str] = _table("fixed request headers (no secrets here: use header_files)")
    header_files: dict[str, str] = _table(
        "headers whose values are read from files, e.g. {Authorization = '/etc/edge-agent/api.auth'}"
    )
    result_pointer: str = _f(
        "", "JSON pointer (RFC 6901) picking the result out of a JSON answer, e.g. '/price'"
    )
    timeout_s: float = _f(5.0, "cap on one call", min=0.1, max=60.0)
    max_bytes: int = _f(100_000, "cap on the answer's size in bytes", min=100, max=10_000_000)
    confirm: bool = _f(False, "ask for a spoken confirmation before each call")
    secret_headers: tuple[tuple[str, Secret], ...] = field(default=(), metadata={"internal": True})


@dataclass(frozen=True, slots=True)
class ToolsConfig:
    """[tools]: which tools the model gets and how long they may take."""

    enabled: tuple[Literal["memory", "weather", "home", "clock", "timers", "volume"], ...] = _f(
        ("memory", "weather", "home", "clock", "timers", "volume"),
        "tool groups offered to the model ('clock': the local time as a note before each user "
        "turn, not a tool)",
    )
    timeout_s: float = _f(4.0, "cap on one tool call", min=0.1, max=60.0)
    http_timeout_s: float = _f(
        2.5, "cap on one HTTP request to a device or weather service", min=0.1, max=30.0
    )
    confirm_timeout_s: float = _f(
        30.0, "how long a confirmation for a sensitive action stays valid", min=5.0, max=300.0
    )
    confirm_words: tuple[str, ...] = _f(
        (
            "yes", "yeah", "yep", "sure", "ok", "okay", "do it", "go ahead", "confirm",
            "ja", "jawohl", "genau", "oui", "sí", "si", "sì", "certo", "jazeker",
        ),
        "what the user's answer to a confirmation must be, transcribed on the device (case and "
        "punctuation ignored, 'please'/'thanks' allowed around it); add your language's yes",
    )  # fmt: skip
    max_answer_bytes: int = _f(
        262144, "cap on one device's answer body; larger is bad_response", min=1024, max=16777216
    )
    http: tuple[HttpToolConfig, ...] = field(default=(), metadata={"help": "HTTP tools"})


@dataclass(frozen=True, slots=True)
class WeatherConfig:
    """[weather]: Open-Meteo (no key needed)."""

    geocoding_url: str = _f("https://geocoding-api.open-meteo.com/v1/search", "geocoding endpoint")
    forecast_url: str = _f("https://api.open-meteo.com/v1/forecast", "forecast endpoint")
    units: Literal["metric", "imperial"] = _f("metric", "units of the spoken weather")
    cache_s: float = _f(600.0, "seconds a weather answer is reused", min=0.0, max=86400.0)
    max_answer_bytes: int = _f(
        1048576, "cap on one weather answer body; larger is bad_response", min=1024,
        max=16777216,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PriceConfig:
    """[[usage.prices]]: one model's prices, USD per 1M tokens (replaces the shipped row)."""

    model: str = _req("model name, exactly as in realtime.model")
    text_in: float = _req("text input, USD per 1M tokens", min=0.0, max=1000.0)
    text_cached: float = _req("cached text input, USD per 1M tokens", min=0.0, max=1000.0)
    text_out: float = _req(
        "text output (reasoning included), USD per 1M tokens", min=0.0, max=1000.0
    )
    audio_in: float = _req("audio input, USD per 1M tokens", min=0.0, max=1000.0)
    audio_cached: float = _req("cached audio input, USD per 1M tokens", min=0.0, max=1000.0)
    audio_out: float = _req("audio output, USD per 1M tokens", min=0.0, max=1000.0)


@dataclass(frozen=True, slots=True)
class UsageConfig:
    """[usage]: the cost ledger (<daemon.state_dir>/usage.sqlite3, `edge-agent usage`)."""

    keep_days: int = _f(400, "days of per-turn rows kept in the ledger", min=1, max=3660)
    prices: tuple[PriceConfig, ...] = field(
        default=(),
        metadata={"help": "price overrides, one [[usage.prices]] table per model"},
    )


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    """[budget]: spending limits in USD, local time (the day rolls over at local midnight)."""

    daily_usd: float = _f(0.0, "limit per local day, USD (0 = none)", min=0.0, max=10000.0)
    monthly_usd: float = _f(0.0, "limit per calendar month, USD (0 = none)", min=0.0, max=100000.0)
    action: Literal["warn", "mini", "refuse"] = _f(
        "warn",
        "once a limit is reached: 'warn' (log it, carry on), 'mini' (new sessions use "
        "mini_model), 'refuse' (no session opened; the 'budget used up' earcon says why)",
    )
    mini_model: str = _f("gpt-realtime-2.1-mini", "the cheaper model action 'mini' switches to")
    warn_ratio: float = _f(
        0.8, "log a warning once this share of a limit is spent", min=0.0, max=1.0
    )


@dataclass(frozen=True, slots=True)
class HomeConfig:
    """[home]: where the speaker is, for the clock, "what's the weather" and alarms."""

    location: str = _f(
        "",
        "place name, e.g. 'Toronto' or 'Paris, France', geocoded once (Open-Meteo) and cached in "
        "<daemon.cache_dir>; ignored when latitude/longitude are set; empty = no home location",
    )
    latitude: float = _f(
        0.0, "home latitude in degrees (with longitude: no geocoding)", min=-90.0, max=90.0
    )
    longitude: float = _f(
        0.0, "home longitude in degrees (0 and 0 = not set)", min=-180.0, max=180.0
    )
    timezone: str = _f(
        "", "IANA time zone for the clock and alarms, e.g. 'Europe/Berlin'; empty = the system's"
    )
    language: Literal["en", "de", "fr", "es"] = _f(
        "en", "language of spoken dates (weekday and month names) and of geocoded place names"
    )


@dataclass(frozen=True, slots=True)
class TimersConfig:
    """[timers]: timers and alarms (stored in <daemon.state_dir>/assistant.sqlite3)."""

    max_active: int = _f(20, "timers and alarms that can be set at once", min=1, max=100)
    late_grace_s: float = _f(
        300.0,
        "an alarm or timer that came due while the daemon was down still rings when it is at "
        "most this late at start (later ones are only reported in the journal)",
        min=0.0,
        max=86400.0,
    )
    ring_timeout_s: float = _f(
        60.0, "stop ringing after this long when nobody stops it", min=5.0, max=600.0
    )
    speak_label: bool = _f(
        True, "have the model say the timer's label when it rings (offline: the earcon alone)"
    )


@dataclass(frozen=True, slots=True)
class VolumeConfig:
    """[volume]: the speaker volume the user sets by voice (saved across restarts)."""

    default_pct: int = _f(
        100, "volume before the user ever set one, percent (100 = audio.volume)", min=0, max=100
    )
    max_pct: int = _f(100, "the highest volume the user can set, percent", min=1, max=100)
    step_pct: int = _f(10, "how much 'louder' / 'quieter' changes it, percent", min=1, max=50)


DeviceFamily = Literal[
    "shelly_gen1", "shelly_gen2", "tasmota", "wled", "hue", "homeassistant", "esphome"
]
DeviceKind = Literal["switch", "outlet", "light", "sensor", "lock", "cover", "garage", "alarm"]
DeviceAction = Literal["power", "brightness", "color", "read"]


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """[[devices]]: one local smart-home device the model may reach by name."""

    name: str = _req("spoken name, e.g. 'kitchen light'")
    family: DeviceFamily = _req(
        "shelly_gen1, shelly_gen2, tasmota, wled, hue, homeassistant or esphome"
    )
    host: str = _req("host name or IP address (never chosen by the model)")
    port: int = _f(
        0, "TCP port; 0 = the family's default (80, or 8123 for Home Assistant)", min=0, max=65535
    )
    aliases: tuple[str, ...] = _f((), "other names the device answers to")
    area: str = _f("", "room or area, e.g. 'kitchen'")
    kind: DeviceKind = _f("switch", "what it is; lock, garage and alarm imply sensitive")
    actions: tuple[DeviceAction, ...] = _f(
        ("power", "read"), "what the model may do: power, brightness, color, read"
    )
    sensitive: bool = _f(False, "ask for a spoken confirmation before acting")
    allow_unlock: bool = _f(
        False,
        "let the model unlock a lock or disarm an alarm (power off on kind lock/alarm or a lock "
        "entity), still after a spoken confirmation; locking and arming are always allowed",
    )
    channel: int = _f(
        0, "relay/switch/light index (Shelly id, Tasmota Power<n>, Hue light id)", min=0, max=255
    )
    entity: str = _f(
        "",
        "Home Assistant entity_id ('lock.front_door'), ESPHome 'domain/Entity Name', or Hue "
        "'light/<id>' or 'group/<id>' (0 = all lights)",
    )
    username: str = _f("", "user for HTTP auth (Shelly Gen2 always uses 'admin')")
    password: Secret = _f(Secret(""), "password for HTTP auth (prefer password_file)")
    password_file: str = _f("", "file holding the password")
    token: Secret = _f(Secret(""), "bearer token / Hue username (prefer token_file)")
    token_file: str = _f("", "file holding the token")
    scheme: Literal["http", "https"] = _f(
        "http",
        "https (Home Assistant and Hue only) verifies the certificate: against the system CAs, "
        "ca_file, or the pinned cert_sha256",
    )
    ca_file: str = _f("", "https: PEM file of the CA that signed the device's certificate")
    cert_sha256: str = _f(
        "",
        "https: SHA-256 fingerprint of the device's own (self-signed) certificate, hex; "
        "`openssl x509 -noout -fingerprint -sha256 -in cert.pem` prints it",
    )
    auth_scheme: Literal["digest", "basic"] = _f(
        "digest",
        "ESPHome web_server auth as configured on the node (auth: type:); the device cannot "
        "change it: a Basic challenge to a digest device is refused",
    )
    target: EntityRef | None = field(
        default=None, init=False, compare=False, repr=False, metadata={"internal": True}
    )
    """`entity` parsed once (None when empty or malformed; config load reports why)."""

    def __post_init__(self) -> None:
        ref = parse_entity(self.family, self.entity)
        object.__setattr__(self, "target", ref if isinstance(ref, EntityRef) else None)

    @property
    def domain(self) -> str:
        """The entity's domain ("lock", "cover", "light"…; "" for families without entities)."""
        return self.target.domain if self.target is not None else ""


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A parsed `entity`: its domain and the remaining path segments, exactly as configured."""

    domain: str
    path: tuple[str, ...]


HA_DOMAINS: Final = frozenset(
    {
        "light", "switch", "fan", "input_boolean", "automation", "humidifier", "media_player",
        "climate", "water_heater", "siren", "remote", "vacuum", "lock", "cover", "valve",
        "sensor", "binary_sensor", "alarm_control_panel",
    }
)  # fmt: skip
ESPHOME_DOMAINS: Final = frozenset(
    {"switch", "light", "fan", "cover", "lock", "valve", "sensor", "binary_sensor", "text_sensor"}
)
SENSITIVE_DOMAINS: Final = frozenset({"lock", "alarm_control_panel", "cover", "valve"})
"""Entity domains that are sensitive whatever the device's kind (locks, alarms, gates, doors)."""
_HA_ENTITY: Final = re.compile(r"([a-z0-9_]+)\.([a-z0-9_]+)")
_HUE_ENTITY: Final = re.compile(r"(light|group)/([0-9]{1,4})")


def parse_entity(family: str, entity: str) -> EntityRef | str | None:
    """`entity` for `family` as an `EntityRef`, None when empty, or the problem as text.

    One parser for every check (the driver's URL, the safety rules): an ESPHome ``" lock/Cellar"``
    is refused here rather than being a lock to the driver and a "lock " to the safety check.
    """
    if not entity:
        return None
    if family == "homeassistant":
        m = _HA_ENTITY.fullmatch(entity)
        if m is None:
            return (
                "expected a Home Assistant entity_id like 'light.kitchen' (lower case, no spaces)"
            )
        if m[1] not in HA_DOMAINS:
            return f"unknown domain {m[1]!r}; known: {', '.join(sorted(HA_DOMAINS))}"
        return EntityRef(m[1], (m[2],))
    if family == "esphome":
        segments = tuple(entity.split("/"))
        if not 2 <= len(segments) <= 3 or any(
            not seg or seg != seg.strip() or seg in (".", "..") or not seg.isprintable()
            for seg in segments
        ):
            return (
                "expected 'domain/Entity Name' or 'domain/Device/Entity Name' with no spaces "
                "around '/' and no empty parts"
            )
        if segments[0] not in ESPHOME_DOMAINS:
            return f"unknown domain {segments[0]!r}; known: {', '.join(sorted(ESPHOME_DOMAINS))}"
        return EntityRef(segments[0], segments[1:])
    if family == "hue":
        m = _HUE_ENTITY.fullmatch(entity)
        if m is None:
            return "expected 'light/<id>' or 'group/<id>' (0 = all lights)"
        return EntityRef(m[1], (m[2],))
    return None


@dataclass(frozen=True, slots=True)
class HomeAssistantConfig:
    """[homeassistant]: Home Assistant's own tools, over its MCP server (docs/homeassistant.md)."""

    url: str = _f(
        "",
        "Home Assistant's base URL, e.g. 'http://homeassistant.local:8123' (empty = off); "
        "edge-agent speaks MCP to <url>/api/mcp",
    )
    token_file: str = _f("", "file holding a long-lived access token (your profile → Security)")
    area: str = _f(
        "",
        "the area this speaker is in, as Home Assistant names it ('turn off the lights' means "
        "this area)",
    )
    allow_unlock: bool = _f(
        False,
        "let the model unlock locks and disarm alarms, still after a spoken confirmation",
    )
    allow_open: bool = _f(
        False,
        "let the model open garage doors, gates and door covers, still after a spoken confirmation",
    )
    timeout_s: float = _f(5.0, "cap on one request to Home Assistant", min=0.5, max=60.0)
    token: Secret = field(default=Secret(""), metadata={"internal": True})


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """[[mcp.servers]]: an MCP server whose tools the model may use (docs/mcp.md)."""

    name: str = _req(
        "short name: lowercase letters, digits and '-'; its tools are offered as mcp_<name>_<tool>"
    )
    url: str = _f("", "Streamable HTTP endpoint, e.g. 'http://127.0.0.1:8000/mcp' (or command)")
    token_file: str = _f("", "file holding a bearer token sent to url")
    header_files: dict[str, str] = _table(
        "headers whose values are read from files, e.g. {X-Api-Key = '/etc/edge-agent/x.key'}"
    )
    command: str = _f("", "program run as a stdio server, without a shell (or url)")
    args: tuple[str, ...] = _f((), "the command's arguments")
    allow: tuple[str, ...] = _f(
        (),
        "tools offered to the model, by the server's names; ['*'] = all. None until listed: "
        "a tool's description is text the model obeys, so vet it first (doctor lists them)",
    )
    confirm: tuple[str, ...] = _f((), "tools that need a spoken confirmation before each call")
    timeout_s: float = _f(10.0, "cap on one request to the server", min=0.5, max=120.0)
    secret_headers: tuple[tuple[str, Secret], ...] = field(default=(), metadata={"internal": True})


@dataclass(frozen=True, slots=True)
class McpConfig:
    """[mcp]: MCP servers as tool sources."""

    servers: tuple[McpServerConfig, ...] = field(default=(), metadata={"help": "MCP servers"})


@dataclass(frozen=True, slots=True)
class MqttTlsConfig:
    """[mqtt.tls]: TLS to the broker (port 8883 by convention)."""

    enabled: bool = _f(False, "connect with TLS")
    ca_file: str = _f("", "CA certificate (PEM) of a home broker; empty = the system's CAs")
    verify: bool = _f(
        True, "verify the broker's certificate and host name (false only on a trusted LAN)"
    )


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """[mqtt]: the device in Home Assistant over MQTT discovery (docs/mqtt.md)."""

    enabled: bool = _f(False, "announce this speaker to Home Assistant over MQTT")
    host: str = _f("", "the broker's host name or IP address (Home Assistant's Mosquitto add-on)")
    port: int = _f(1883, "the broker's port (8883 with TLS by convention)", min=1, max=65535)
    username: str = _f("", "broker user; empty = anonymous")
    password_file: str = _f("", "file holding the broker user's password (mode 0640)")
    client_id: str = _f(
        "", "MQTT client id, also the device's id in Home Assistant; empty = edge-agent-<hostname>"
    )
    discovery_prefix: str = _f(
        "homeassistant", "Home Assistant's discovery prefix (its MQTT integration's setting)"
    )
    base_topic: str = _f("", "topic under which state and commands live; empty = edge-agent/<id>")
    device_name: str = _f("", "the device's name in Home Assistant; empty = 'Edge agent <id>'")
    keepalive_s: int = _f(
        30, "MQTT keepalive; the broker marks us offline after 1.5 × this", min=5, max=600
    )
    announce_max_chars: int = _f(
        300, "longest announcement spoken; longer ones are cut at a word", min=10, max=2000
    )
    announce_per_minute: int = _f(
        6, "announcements accepted per minute; more are dropped and logged", min=1, max=60
    )
    tls: MqttTlsConfig = field(default_factory=MqttTlsConfig, metadata={"help": "TLS"})
    password: Secret = field(default=Secret(""), metadata={"internal": True})


@dataclass(frozen=True, slots=True)
class LedConfig:
    """[status.led]: a status LED on GPIO."""

    type: Literal["none", "single", "pwm", "rgb"] = _f(
        "none", "none, single (on/off), pwm (dimmable) or rgb"
    )
    pin: str = _f(
        "", "GPIO pin of a single or PWM LED, as gpiozero accepts it (GPIO17, BOARD11, 17)"
    )
    red_pin: str = _f("", "red pin of an RGB LED")
    green_pin: str = _f("", "green pin of an RGB LED")
    blue_pin: str = _f("", "blue pin of an RGB LED")
    active_high: bool = _f(
        True, "true: pin high lights the LED (common cathode); false: common anode"
    )
    brightness: float = _f(1.0, "brightness limit, 0.0 to 1.0", min=0.0, max=1.0)
    idle: str = _f(
        "off",
        "pattern for idle: off, dim, on, blink, fast_blink or pulse, optionally followed by a "
        "colour for an RGB LED (a CSS name or #rrggbb, e.g. 'pulse blue'; no colour = white)",
    )
    listening: str = _f("on blue", "pattern for listening (the mic is streaming)")
    thinking: str = _f("blink cyan", "pattern for thinking (waiting for the reply)")
    speaking: str = _f("pulse green", "pattern for speaking (the reply plays)")
    muted: str = _f("dim red", "pattern for muted (the mic is closed)")
    error: str = _f("fast_blink red", "pattern for error (something failed; see the journal)")
    budget: str = _f(
        "dim yellow",
        "pattern shown instead of idle while a [budget] limit is reached (action 'mini' or "
        "'refuse'), until the day or month rolls over",
    )
    ringing: str = _f("fast_blink orange", "pattern while a timer or alarm rings")


@dataclass(frozen=True, slots=True)
class ButtonsConfig:
    """[status.buttons]: push buttons on GPIO."""

    mute_pin: str = _f("", "pin of the mute button (toggles; the mic stream is closed)")
    talk_pin: str = _f(
        "", "pin of the talk button (starts a turn; interrupts a reply; long press cancels)"
    )
    pull: Literal["up", "down", "none"] = _f(
        "up",
        "internal resistor: 'up' (button connects the pin to ground), 'down' (button connects "
        "it to 3.3 V) or 'none' (external resistor; then set active)",
    )
    active: Literal["auto", "low", "high"] = _f(
        "auto",
        "level of a pressed button: 'auto' (low with pull = 'up', high with 'down'), "
        "'low' or 'high'",
    )
    bounce_ms: int = _f(
        50, "debounce: a level counts once it has been stable this long, ms", min=0, max=1000
    )
    hold_s: float = _f(
        1.0, "hold the talk button this long for a long press (cancel)", min=0.2, max=10.0
    )


@dataclass(frozen=True, slots=True)
class StatusConfig:
    """[status]: LEDs and buttons (gpiozero)."""

    led: LedConfig = field(default_factory=LedConfig, metadata={"help": "status LED"})
    buttons: ButtonsConfig = field(default_factory=ButtonsConfig, metadata={"help": "buttons"})


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration. `api_key` is resolved from credentials, never read from TOML."""

    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    earcons: EarconsConfig = field(default_factory=EarconsConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    realtime: RealtimeConfig = field(default_factory=RealtimeConfig)
    conversation: ConversationConfig = field(default_factory=ConversationConfig)
    tools: ToolsConfig = field(default_factory=ToolsConfig)
    weather: WeatherConfig = field(default_factory=WeatherConfig)
    home: HomeConfig = field(default_factory=HomeConfig)
    timers: TimersConfig = field(default_factory=TimersConfig)
    volume: VolumeConfig = field(default_factory=VolumeConfig)
    devices: tuple[DeviceConfig, ...] = field(default=(), metadata={"help": "devices"})
    homeassistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    mcp: McpConfig = field(default_factory=McpConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
    usage: UsageConfig = field(default_factory=UsageConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    api_key: Secret = field(default=Secret(""), metadata={"internal": True})
    source: str = field(default="<defaults>", metadata={"internal": True})
    warnings: tuple[str, ...] = field(default=(), metadata={"internal": True})

    @property
    def models_dir(self) -> Path:
        """Where built-in wake models live."""
        return Path(self.wake.models_dir or Path(self.daemon.state_dir) / "models")

    @property
    def state_dir(self) -> Path:
        return Path(self.daemon.state_dir)

    def secrets(self) -> list[str]:
        """Every secret this config holds (non-empty), for the redaction of logs, doctor
        results and tool results: the API key, device passwords and tokens, the Home
        Assistant token, MCP servers' and HTTP tools' secret headers, the MQTT password."""
        found = [self.api_key.reveal(), self.homeassistant.token.reveal()]
        for dev in self.devices:
            found += [dev.password.reveal(), dev.token.reveal()]
        found += secret_values(h for srv in self.mcp.servers for h in srv.secret_headers)
        found += secret_values(h for tool in self.tools.http for h in tool.secret_headers)
        found.append(self.mqtt.password.reveal())
        return [s for s in found if s]


# --------------------------------------------------------------------------------------------
# Parsing


def config_path(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> tuple[Path, bool]:
    """The config file to read and whether it was asked for explicitly."""
    if explicit:
        return Path(explicit), True
    if env.get("EDGE_AGENT_CONFIG"):
        return Path(env["EDGE_AGENT_CONFIG"]), True
    return DEFAULT_CONFIG_PATH, False


def load_config(
    explicit: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    require_api_key: bool = True,
) -> Config:
    """Read, parse and check the configuration, resolving secrets.

    Raises:
        ConfigError: with one message per problem; the CLI exits 78 with them.
    """
    env = os.environ if env is None else env
    path, is_explicit = config_path(explicit, env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if is_explicit:
            raise ConfigError(
                f"{path}: file not found; create it from the example "
                "(`edge-agent config example > FILE`) or fix --config/$EDGE_AGENT_CONFIG"
            ) from None
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read: {exc.__class__.__name__}: {exc}; make it a UTF-8 text file "
            "readable by the user edge-agent runs as"
        ) from None
    return parse_config(text, source=str(path), env=env, require_api_key=require_api_key)


def parse_config(
    text: str,
    *,
    source: str = "<string>",
    env: Mapping[str, str] | None = None,
    require_api_key: bool = True,
) -> Config:
    """Parse TOML text into a `Config`; see `load_config`."""
    env = {} if env is None else env
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}; fix the syntax there") from None
    errors: list[str] = []
    parser = _Parser(source, errors)
    raw = {k: v for k, v in data.items()}
    cfg = parser.dataclass(Config, raw, "")
    if errors:
        raise ConfigError(errors)
    assert isinstance(cfg, Config)
    devices = tuple(
        _resolve_device_secrets(d, i, source, errors) for i, d in enumerate(cfg.devices)
    )
    _check_devices(devices, source, errors)
    _check_status(cfg.status, source, errors)
    _check_usage(cfg, source, errors)
    _check_assistant(cfg, source, errors)
    cfg = _resolve_integrations(cfg, source, errors)
    cfg = _resolve_mqtt(cfg, source, errors)
    warnings: list[str] = []
    api_key = _resolve_api_key(cfg.realtime, env, source, errors, warnings)
    if require_api_key and not api_key and not cfg.realtime.token_url:
        errors.append(
            f"{source}: no OpenAI API key: put it in $CREDENTIALS_DIRECTORY/{CREDENTIAL_NAME} "
            "(systemd LoadCredential), set realtime.api_key_file, or export OPENAI_API_KEY; "
            "or set realtime.token_url to use a relay"
        )
    if errors:
        raise ConfigError(errors)
    return dataclasses.replace(
        cfg, devices=devices, api_key=api_key, source=source, warnings=tuple(warnings)
    )


class _Parser:
    """Turns TOML values into dataclass instances by their type hints, collecting errors."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors

    def error(self, path: str, value: Any, expected: str, secret: bool = False) -> None:
        shown = "'***'" if secret else _short(value)
        self.errors.append(f"{self.source}: {path} = {shown}: {expected}")

    def dataclass(self, cls: type, data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            self.error(path.rstrip("."), data, "expected a table")
            return None
        hints = typing.get_type_hints(cls)
        fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
        names = [f.name for f in fields]
        for key in data:
            if key not in names:
                import difflib  # only for a bad key: a daemon's good config never needs it

                near = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
                hint = (
                    f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(names)}"
                )
                where = f"[{path.rstrip('.')}]" if path else "top level"
                self.errors.append(f"{self.source}: {path}{key}: unknown key in {where}{hint}")
        kwargs: dict[str, Any] = {}
        missing = False
        for f in fields:
            key_path = f"{path}{f.name}"
            if f.name not in data:
                if f.metadata.get("required"):
                    self.errors.append(
                        f"{self.source}: {key_path}: missing; expected {f.metadata['help']}"
                    )
                    missing = True
                continue
            value = self.value(hints[f.name], data[f.name], key_path, f)
            if value is not _INVALID:
                kwargs[f.name] = value
        if missing:
            return None
        try:
            return cls(**kwargs)
        except TypeError:  # a required field failed to convert; already reported
            return None

    def value(self, hint: Any, value: Any, path: str, f: dataclasses.Field[Any]) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        default = f.default if f.default is not dataclasses.MISSING else None
        dflt = (
            "" if default is None or f.metadata.get("required") else f" (default {_short(default)})"
        )
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return (
                self.dataclass(hint, value, path + ".")
                if isinstance(value, dict)
                else self._bad(path, value, "expected a table")
            )
        if origin is tuple:
            if not isinstance(value, list):
                return self._bad(path, value, f"expected a list{dflt}")
            item_hint = args[0]
            out = []
            for i, item in enumerate(value):
                if isinstance(item_hint, type) and dataclasses.is_dataclass(item_hint):
                    converted = self.dataclass(item_hint, item, f"{path}[{i}].")
                else:
                    converted = self.value(item_hint, item, f"{path}[{i}]", f)
                if converted is _INVALID or converted is None:
                    continue
                out.append(converted)
            return tuple(out)
        if origin is dict:
            if not isinstance(value, dict):
                return self._bad(path, value, "expected a table, e.g. {key = 'value'}")
            if args[1] is str and not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                return self._bad(path, value, "expected a table of strings")
            return value
        if origin is Literal:
            if value not in args:
                choices = ", ".join(repr(a) for a in args)
                return self._bad(path, value, f"expected one of {choices}{dflt}")
            return value
        if hint is Secret:
            if not isinstance(value, str):
                return self._bad(path, value, "expected a string", secret=True)
            return Secret(value)
        if hint is bool:
            if not isinstance(value, bool):
                return self._bad(path, value, f"expected true or false{dflt}")
            return value
        if hint in (int, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if hint is int and not isinstance(value, int):
                ok = False
            lo, hi = f.metadata.get("min"), f.metadata.get("max")
            kind = "an integer" if hint is int else "a number"
            rng = _range_text(lo, hi)
            if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
                return self._bad(path, value, f"expected {kind}{rng}{dflt}")
            return hint(value)
        if hint is str:
            if not isinstance(value, str):
                return self._bad(path, value, f"expected a string{dflt}")
            return value
        raise TypeError(f"unsupported config type {hint!r} at {path}")  # a bug in this module

    def _bad(self, path: str, value: Any, expected: str, secret: bool = False) -> Any:
        self.error(path, value, expected, secret)
        return _INVALID


_INVALID: Final = object()


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" between {lo} and {hi}"
    if lo is not None:
        return f" of at least {lo}"
    if hi is not None:
        return f" of at most {hi}"
    return ""


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, tuple) else repr(list(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _read_secret_file(path: Path, what: str, source: str, errors: list[str]) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        errors.append(
            f"{source}: {what}: cannot read {str(path)!r}: {cause}; make it a UTF-8 text file "
            "readable by the user edge-agent runs as"
        )
        return ""


def _resolve_device_secrets(
    dev: DeviceConfig, i: int, source: str, errors: list[str]
) -> DeviceConfig:
    password, token = dev.password, dev.token
    if dev.password_file:
        password = Secret(
            _read_secret_file(
                Path(dev.password_file), f"devices[{i}].password_file", source, errors
            )
        )
    if dev.token_file:
        token = Secret(
            _read_secret_file(Path(dev.token_file), f"devices[{i}].token_file", source, errors)
        )
    if password is dev.password and token is dev.token:
        return dev
    return dataclasses.replace(dev, password=password, token=token)


def _check_devices(devices: tuple[DeviceConfig, ...], source: str, errors: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, dev in enumerate(devices):
        for name in (dev.name, *dev.aliases):
            key = name.strip().lower()
            if not key:
                errors.append(f"{source}: devices[{i}]: empty name or alias")
            elif key in seen and seen[key] != i:
                errors.append(
                    f"{source}: devices[{i}].name = {name!r}: already used by devices[{seen[key]}]; "
                    "names and aliases must be unique"
                )
            else:
                seen[key] = i
        if any(c in dev.host for c in "/?#@ ") or not dev.host.strip():
            errors.append(
                f"{source}: devices[{i}].host = {dev.host!r}: expected a bare host name or IP "
                "address (no scheme, path or credentials); put the port in devices[].port"
            )
        if dev.family in ("homeassistant", "esphome") and not dev.entity:
            errors.append(
                f"{source}: devices[{i}].entity: missing; {dev.family} devices need an entity "
                "(e.g. 'light.kitchen' or 'light/Kitchen Light')"
            )
        problem = parse_entity(dev.family, dev.entity)
        if isinstance(problem, str):
            errors.append(f"{source}: devices[{i}].entity = {dev.entity!r}: {problem}")
        _check_device_safety(dev, f"{source}: devices[{i}]", errors)


_UNLOCKING_KINDS: Final = frozenset({"lock", "alarm", "garage"})


def _check_device_safety(dev: DeviceConfig, where: str, errors: list[str]) -> None:
    """Light actions on locks/alarms/garages (brightness 0 = power off = unlock), TLS keys."""
    light_actions = [a for a in dev.actions if a in ("brightness", "color")]
    if light_actions and (dev.kind in _UNLOCKING_KINDS or dev.domain in SENSITIVE_DOMAINS):
        what = f"kind {dev.kind!r}" if dev.kind in _UNLOCKING_KINDS else f"a {dev.domain} entity"
        errors.append(
            f"{where}.actions = {list(dev.actions)!r}: {', '.join(light_actions)} is not allowed "
            f"on {what} (brightness 0 switches it off: unlock, disarm or open); use "
            "actions = ['power', 'read']"
        )
    if dev.scheme == "https" and dev.family not in ("homeassistant", "hue"):
        errors.append(
            f"{where}.scheme = 'https': only Home Assistant and Hue devices speak https here; "
            "remove it"
        )
    if dev.scheme != "https" and (dev.ca_file or dev.cert_sha256):
        errors.append(f"{where}: ca_file/cert_sha256 need scheme = 'https'; add it")
    if dev.ca_file and dev.cert_sha256:
        errors.append(f"{where}: set ca_file or cert_sha256, not both")
    if dev.cert_sha256 and not re.fullmatch(r"[0-9a-f]{64}", cert_fingerprint(dev.cert_sha256)):
        errors.append(
            f"{where}.cert_sha256 = {dev.cert_sha256[:20]!r}…: expected 64 hex digits (colons "
            "allowed), e.g. from `openssl x509 -noout -fingerprint -sha256 -in cert.pem`"
        )
    if dev.ca_file and not Path(dev.ca_file).is_file():
        errors.append(f"{where}.ca_file = {dev.ca_file!r}: file not found; give the CA's PEM file")


def cert_fingerprint(text: str) -> str:
    """A configured SHA-256 fingerprint normalised: lower-case hex, no colons or spaces."""
    return re.sub(r"[\s:]", "", text).lower()


def _check_usage(cfg: Config, source: str, errors: list[str]) -> None:
    """[[usage.prices]] rows name a model once each; the budget's cheaper model is named."""
    seen: dict[str, int] = {}
    for i, row in enumerate(cfg.usage.prices):
        name = row.model.strip()
        if not name:
            errors.append(f"{source}: usage.prices[{i}].model: empty; name the model it prices")
        elif name in seen:
            errors.append(
                f"{source}: usage.prices[{i}].model = {name!r}: already priced by "
                f"usage.prices[{seen[name]}]; keep one row per model"
            )
        else:
            seen[name] = i
    if not cfg.budget.mini_model.strip():
        errors.append(
            f"{source}: budget.mini_model: empty; name a cheaper model "
            "(e.g. 'gpt-realtime-2.1-mini')"
        )


def _check_status(status: StatusConfig, source: str, errors: list[str]) -> None:
    """LED patterns, pins and button levels ([status] is checked by its own, pure module)."""
    from edge_agent.status.patterns import check_status

    errors.extend(f"{source}: {problem}" for problem in check_status(status))


def _check_assistant(cfg: Config, source: str, errors: list[str]) -> None:
    """[home].timezone names a known zone; the ringing LED pattern parses."""
    from edge_agent.assistant.clock import zone_problem
    from edge_agent.status.patterns import PatternError, parse_pattern

    problem = zone_problem(cfg.home.timezone)
    if problem:
        errors.append(f"{source}: home.timezone = {cfg.home.timezone!r}: {problem}")
    try:
        parse_pattern(cfg.status.led.ringing)
    except PatternError as exc:
        errors.append(f"{source}: status.led.ringing = {cfg.status.led.ringing!r}: {exc}")


_TOOL_NAME: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_SERVER_NAME: Final = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_HEADER_NAME: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")


def _resolve_integrations(cfg: Config, source: str, errors: list[str]) -> Config:
    """Read [homeassistant], [[mcp.servers]] and [[tools.http]] secrets; check what TOML can't."""
    ha = cfg.homeassistant
    if ha.url:
        _check_base_url(ha.url, "homeassistant.url", source, errors)
        if not ha.token_file:
            errors.append(
                f"{source}: homeassistant.token_file: missing; create a long-lived access token "
                "in Home Assistant (your profile → Security) and put it in a file (mode 0600)"
            )
        else:
            token = _read_secret_file(
                Path(ha.token_file), "homeassistant.token_file", source, errors
            )
            ha = dataclasses.replace(ha, token=Secret(token))
    servers = []
    seen: set[str] = set()
    for i, srv in enumerate(cfg.mcp.servers):
        key = f"mcp.servers[{i}]"
        if not _SERVER_NAME.match(srv.name) or len(srv.name) > 20:
            errors.append(
                f"{source}: {key}.name = {srv.name!r}: expected lowercase letters, digits and "
                "'-', at most 20 characters (e.g. 'calendar')"
            )
        elif srv.name in seen:
            errors.append(
                f"{source}: {key}.name = {srv.name!r}: already used; names must be unique"
            )
        seen.add(srv.name)
        if bool(srv.url) == bool(srv.command):
            errors.append(
                f"{source}: {key}: give either url (Streamable HTTP) or command (stdio), not "
                + ("both" if srv.url else "neither")
            )
        if srv.url:
            _check_base_url(srv.url, f"{key}.url", source, errors)
        headers = _secret_headers(srv.header_files, f"{key}.header_files", source, errors)
        if srv.token_file:
            token = _read_secret_file(Path(srv.token_file), f"{key}.token_file", source, errors)
            headers.append(("Authorization", Secret(f"Bearer {token}")))
        servers.append(dataclasses.replace(srv, secret_headers=tuple(headers)))
    http_tools = []
    names: set[str] = set()
    for i, tool in enumerate(cfg.tools.http):
        key = f"tools.http[{i}]"
        if not _TOOL_NAME.match(tool.name) or tool.name.startswith(("ha_", "mcp_")):
            errors.append(
                f"{source}: {key}.name = {tool.name!r}: expected 1-64 letters, digits, '_' or '-', "
                "not starting with 'ha_' or 'mcp_' (those name Home Assistant's and MCP tools)"
            )
        elif tool.name in names:
            errors.append(
                f"{source}: {key}.name = {tool.name!r}: already used; names must be unique"
            )
        names.add(tool.name)
        from edge_agent.tools.http_template import template_problems

        errors.extend(f"{source}: {key}.{p}" for p in template_problems(tool.url, tool.parameters))
        headers = _secret_headers(tool.header_files, f"{key}.header_files", source, errors)
        http_tools.append(dataclasses.replace(tool, secret_headers=tuple(headers)))
    return dataclasses.replace(
        cfg,
        homeassistant=ha,
        mcp=dataclasses.replace(cfg.mcp, servers=tuple(servers)),
        tools=dataclasses.replace(cfg.tools, http=tuple(http_tools)),
    )


_MQTT_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MQTT_TOPIC: Final = re.compile(r"^[^#+\x00-\x1f]{1,200}$")


def _is_host(host: str) -> bool:
    """A host name or an IP address (IPv6 without brackets), nothing else."""
    import ipaddress

    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return bool(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})", host)) and ".." not in host


def _resolve_mqtt(cfg: Config, source: str, errors: list[str]) -> Config:
    """[mqtt]: a host when enabled, ids and topics MQTT accepts, the password file read."""
    m = cfg.mqtt
    if not m.enabled:
        return cfg
    if not _is_host(m.host):
        errors.append(
            f"{source}: mqtt.host = {m.host!r}: expected the broker's host name or IP address "
            "(no scheme, port or path), e.g. 'homeassistant.local'"
        )
    if m.client_id and not _MQTT_ID.match(m.client_id):
        errors.append(
            f"{source}: mqtt.client_id = {m.client_id!r}: expected 1-64 letters, digits, '_' or '-'"
        )
    for key in ("discovery_prefix", "base_topic"):
        value = getattr(m, key)
        if key == "base_topic" and not value:
            continue
        if not _MQTT_TOPIC.match(value) or value.startswith("/") or value.endswith("/"):
            errors.append(
                f"{source}: mqtt.{key} = {value!r}: expected a topic without '+', '#', control "
                "characters or a leading/trailing '/', e.g. 'homeassistant'"
            )
    if m.tls.ca_file and not Path(m.tls.ca_file).is_file():
        errors.append(
            f"{source}: mqtt.tls.ca_file = {m.tls.ca_file!r}: no such file; give the broker's "
            "CA certificate (PEM)"
        )
    if m.password_file and not m.username:
        errors.append(
            f"{source}: mqtt.password_file: set without mqtt.username; give the broker user too"
        )
    password = ""
    if m.password_file:
        password = _read_secret_file(Path(m.password_file), "mqtt.password_file", source, errors)
    return dataclasses.replace(cfg, mqtt=dataclasses.replace(m, password=Secret(password)))


def _check_base_url(url: str, key: str, source: str, errors: list[str]) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(f"{source}: {key} = {url!r}: expected an http:// or https:// URL")
    elif parts.username or parts.password:
        errors.append(
            f"{source}: {key}: credentials in the URL; put the token in a file (token_file)"
        )


def _secret_headers(
    files: Mapping[str, str], key: str, source: str, errors: list[str]
) -> list[tuple[str, Secret]]:
    out = []
    for name, path in files.items():
        if not _HEADER_NAME.match(name):
            errors.append(f"{source}: {key}.{name}: not a valid HTTP header name")
            continue
        out.append((name, Secret(_read_secret_file(Path(path), f"{key}.{name}", source, errors))))
    return out


def _resolve_api_key(
    rt: RealtimeConfig, env: Mapping[str, str], source: str, errors: list[str], warnings: list[str]
) -> Secret:
    """The credential this device presents: the OpenAI key, or with a relay its relay token."""
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if rt.token_url:
        if rt.token_ca_file and not os.access(rt.token_ca_file, os.R_OK):
            errors.append(
                f"{source}: realtime.token_ca_file = {rt.token_ca_file!r}: cannot read it; "
                "expected a PEM certificate readable by the user edge-agent runs as"
            )
        cred = Path(cred_dir) / RELAY_CREDENTIAL_NAME if cred_dir else None
        if cred is not None and cred.is_file():
            return Secret(_read_secret_file(cred, "credential", source, errors))
        if rt.token_file:
            if rt.token_url.startswith("http://") and not _is_loopback_url(rt.token_url):
                warnings.append(
                    f"{source}: realtime.token_url = {rt.token_url!r}: plain http: this "
                    "satellite's relay token and its secrets cross the network in clear; give "
                    "the relay a certificate and use https:// (docs/relay.md: TLS)"
                )
            return Secret(
                _read_secret_file(Path(rt.token_file), "realtime.token_file", source, errors)
            )
        return Secret("")
    if cred_dir:
        cred = Path(cred_dir) / CREDENTIAL_NAME
        if cred.is_file():
            return Secret(_read_secret_file(cred, "credential", source, errors))
    if rt.api_key_file:
        path = Path(rt.api_key_file)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            errors.append(
                f"{source}: realtime.api_key_file = {rt.api_key_file!r}: cannot read: "
                f"{exc.strerror or exc}; create it with mode 0600"
            )
            return Secret("")
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(
                f"{source}: realtime.api_key_file = {rt.api_key_file!r}: readable by group or "
                f"others (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {rt.api_key_file}"
            )
        return Secret(_read_secret_file(path, "realtime.api_key_file", source, errors))
    return Secret(env.get("OPENAI_API_KEY", "").strip())


def _is_loopback_url(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# Showing


def dump_toml(cfg: Config) -> str:
    """The effective configuration as TOML, secrets shown as '***'."""
    lines: list[str] = [f"# effective configuration from {cfg.source}"]
    lines.append(f"# api key: {'set' if cfg.api_key else 'not set'}")
    top = [f for f in dataclasses.fields(cfg) if not f.metadata.get("internal")]
    for f in top:
        value = getattr(cfg, f.name)
        if f.name == "devices":
            for dev in value:
                lines += ["", "[[devices]]", *_dump_fields(dev)]
        elif dataclasses.is_dataclass(value):
            _dump_table(f.name, value, lines)
    return "\n".join(lines) + "\n"


def _dump_table(name: str, obj: Any, lines: list[str]) -> None:
    lines += ["", f"[{name}]", *_dump_fields(obj)]
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            _dump_table(f"{name}.{f.name}", value, lines)
        elif _is_table_list(value):
            for row in value:
                lines += ["", f"[[{name}.{f.name}]]", *_dump_fields(row)]


def _is_table_list(value: Any) -> bool:
    return isinstance(value, tuple) and bool(value) and dataclasses.is_dataclass(value[0])


def _dump_fields(obj: Any) -> list[str]:
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        internal = f.metadata.get("internal")
        if not dataclasses.is_dataclass(value) and not _is_table_list(value) and not internal:
            out.append(f"{f.name} = {_toml_value(value)}")
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, Secret):
        return '"***"' if value else '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _dataclass_item(hint: Any) -> type | None:
    """The dataclass in ``tuple[SomeDataclass, ...]``, or None for any other hint."""
    if typing.get_origin(hint) is not tuple:
        return None
    item = typing.get_args(hint)[0]
    return item if isinstance(item, type) and dataclasses.is_dataclass(item) else None


def field_help() -> dict[str, str]:
    """Key path → help text for every key; used for docs and the example file test."""
    out: dict[str, str] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            hint = hints[f.name]
            item = _dataclass_item(hint)
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                walk(hint, f"{prefix}{f.name}.")
            elif item is not None:
                walk(item, f"{prefix}{f.name}[].")
            else:
                out[f"{prefix}{f.name}"] = f.metadata.get("help", "")

    walk(Config, "")
    return out


def config_reference() -> str:
    """The configuration reference as Markdown tables, one per section (the README embeds it)."""
    sections: dict[str, list[str]] = {}

    def walk(cls: type, section: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            hint = hints[f.name]
            item = _dataclass_item(hint)
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                walk(hint, f"{section}.{f.name}" if section else f.name)
                continue
            if item is not None:
                walk(item, f"[{section}.{f.name}]" if section else f"[{f.name}]")
                continue
            if f.metadata.get("required"):
                default = "*required*"
            elif f.default is not dataclasses.MISSING:
                default = f"`{_toml_value(f.default)}`"
            elif f.default_factory is not dataclasses.MISSING:
                default = f"`{_toml_value(f.default_factory())}`"
            else:  # a field with no default is required even without the metadata flag
                default = "*required*"
            help_text = f.metadata.get("help", "").replace("|", "\\|")
            sections.setdefault(section, []).append(f"| `{f.name}` | {default} | {help_text} |")

    walk(Config, "")
    out: list[str] = []
    for section, rows in sections.items():
        title = section if section.startswith("[") else f"[{section}]"
        out += [
            f"#### `{title}`",
            "",
            "| key | default | meaning |",
            "| --- | --- | --- |",
            *rows,
            "",
        ]
    return "\n".join(out)
