"""The exception tree of edge-agent.

Every class also subclasses the builtin it behaves like, so callers can catch either::

    EdgeAgentError
    ├── ConfigError(ValueError)          bad or missing configuration: exit 78 (EX_CONFIG)
    ├── AudioDeviceError(OSError)        a sound device is missing or failed
    │   └── DeviceNotFound(LookupError)  no device matches the configured name
    ├── WakeModelError(RuntimeError)     a wake-word model is missing, corrupt or unloadable
    ├── RealtimeError(RuntimeError)      the Realtime session failed
    │   └── FatalRealtimeError           retrying cannot help (bad key, unknown model, quota)
    ├── GpioError(OSError)               a GPIO pin is busy or invalid, or there is no GPIO here
    └── ToolError(RuntimeError)          a tool failed; turned into a structured result, never raised
                                         into the conversation

Messages are lowercase, state the fact first, quote values with !r and never contain a secret.
"""

from __future__ import annotations

__all__ = [
    "AudioDeviceError",
    "AudioFormatError",
    "ConfigError",
    "DeviceNotFound",
    "EdgeAgentError",
    "FatalRealtimeError",
    "GpioError",
    "RealtimeError",
    "ToolError",
    "WakeModelError",
]


class EdgeAgentError(Exception):
    """Base class of every error edge-agent raises on purpose."""


class ConfigError(EdgeAgentError, ValueError):
    """The configuration is invalid; `messages` holds one line per problem."""

    def __init__(self, messages: list[str] | str) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


class AudioDeviceError(EdgeAgentError, OSError):
    """A microphone or speaker could not be opened or stopped working."""


class DeviceNotFound(AudioDeviceError, LookupError):
    """No sound device matches the configured name."""


class AudioFormatError(AudioDeviceError, ValueError):
    """The device exists but offers no sample rate / channel count we can convert from."""


class WakeModelError(EdgeAgentError, RuntimeError):
    """A wake-word model file is missing, fails its checksum or does not load."""


class RealtimeError(EdgeAgentError, RuntimeError):
    """The Realtime session failed in a way that a reconnect may fix."""


class FatalRealtimeError(RealtimeError):
    """The Realtime service refused us for a reason a retry cannot fix."""


class GpioError(EdgeAgentError, OSError):
    """A GPIO pin could not be used; `pin` and `key` name it ('' when there is no GPIO at all)."""

    def __init__(self, message: str, *, pin: str = "", key: str = "") -> None:
        self.pin = pin
        self.key = key
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class ToolError(EdgeAgentError, RuntimeError):
    """A tool could not do its job; `code` is the structured error code."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)
