"""The interface every device-family driver implements.

A driver turns typed requests (power on/off, brightness in percent, colour, read) into the
family's fixed HTTP requests to the configured host, and the answers into a `DeviceState`. It
never takes a URL, path, host or raw command from the model. Failures are raised as
`DeviceError` with a code from `ERROR_CODES`; the tool layer turns them into structured results.
Drivers take a shared ``httpx.AsyncClient`` (injected) and send every request through their
`exchange` (`edge_agent.tools.http.Exchange`): one deadline, one request in flight, safe retries.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field, replace
from typing import ClassVar, Final, Literal

import httpx

from edge_agent.config import DeviceConfig
from edge_agent.errors import ToolError
from edge_agent.tools.sanitize import finite_number, state_word

__all__ = ["ERROR_CODES", "DeviceError", "DeviceState", "Driver", "ErrorCode", "basic_auth"]

ErrorCode = Literal[
    "unauthorized", "timeout", "device_error", "unreachable", "not_supported", "bad_response"
]
ERROR_CODES: Final = (
    "unauthorized",
    "timeout",
    "device_error",
    "unreachable",
    "not_supported",
    "bad_response",
)


class DeviceError(ToolError):
    """A device request failed; `code` is one of ERROR_CODES, `detail` is safe to show the model."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(code, detail)


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What a device reports, normalised: brightness in percent, colour as RGB, temperatures in °C."""

    on: bool | None = None
    brightness_pct: int | None = None
    rgb: tuple[int, int, int] | None = None
    color_temp_k: int | None = None
    sensors: dict[str, float] = field(
        default_factory=dict
    )  # temperature_c, humidity_pct, power_w, energy_kwh
    raw_state: str | None = None  # e.g. Home Assistant "locked", "open"
    confirmed: bool = field(default=True, compare=False)
    """False when this is what we asked for, not what the device reported (ESPHome POSTs,
    WLED's ``{"success":true}``, HA's ``[]``): the home tools re-read such states once."""

    def __post_init__(self) -> None:
        """Whatever a driver parsed, only typed, finite, in-range values survive (else None).

        The one gate between a device's answer and a tool result: a NaN brightness, a colour
        of strings, an infinite power reading or a state of free text cannot pass it.
        """
        set_ = object.__setattr__
        if self.on is not None and not isinstance(self.on, bool):
            set_(self, "on", None)
        set_(self, "brightness_pct", _int_in(self.brightness_pct, 0, 100))
        if self.rgb is not None:
            channels = tuple(_int_in(c, 0, 255) for c in self.rgb)
            ok = len(channels) == 3 and None not in channels
            set_(self, "rgb", channels if ok else None)
        set_(self, "color_temp_k", _int_in(self.color_temp_k, 1000, 40000))
        if any(finite_number(v) is None for v in self.sensors.values()):
            set_(self, "sensors", {k: v for k, v in self.sensors.items()
                                   if finite_number(v) is not None})  # fmt: skip
        if self.raw_state is not None:
            set_(self, "raw_state", state_word(self.raw_state))

    def requested(self) -> DeviceState:
        """The same values, marked as asked for rather than reported by the device."""
        return replace(self, confirmed=False)

    def as_dict(self) -> dict[str, object]:
        """A compact dict for tool results: only what is known."""
        out: dict[str, object] = {}
        if self.on is not None:
            out["on"] = self.on
        if self.brightness_pct is not None:
            out["brightness_pct"] = self.brightness_pct
        if self.rgb is not None:
            out["rgb"] = list(self.rgb)
        if self.color_temp_k is not None:
            out["color_temp_k"] = self.color_temp_k
        if self.raw_state is not None:
            out["state"] = self.raw_state
        out.update(self.sensors)
        return out


class Driver(abc.ABC):
    """One configured device of one family."""

    family: ClassVar[str]
    default_port: ClassVar[int] = 80
    default_tls_port: ClassVar[int] = 443

    def __init__(
        self,
        device: DeviceConfig,
        http: httpx.AsyncClient,
        timeout_s: float = 2.5,
        *,
        max_answer_bytes: int = 262144,
    ) -> None:
        """`http` is the shared client; an https device gets a small client of its own instead,
        with its own verification (`edge_agent.tools.tls`)."""
        from edge_agent.tools.http import Exchange, make_http_client  # http.py imports us

        self.device = device
        self.timeout_s = timeout_s
        self.max_answer_bytes = max_answer_bytes
        self._own_http: httpx.AsyncClient | None = None
        if device.scheme == "https":
            from edge_agent.tools.tls import tls_context

            self._own_http = make_http_client(
                verify=tls_context(device),
                limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
            )
        self.http = self._own_http or http
        tls = device.scheme == "https"
        port = device.port or (self.default_tls_port if tls else self.default_port)
        self.base_url = f"{device.scheme}://{device.host}:{port}"
        self.exchange = Exchange(self, auth=self.make_auth())  # all of its requests go here

    def check_status(self, resp: httpx.Response) -> None:
        """DeviceError("device_error") for any status but 2xx the driver did not handle."""
        if not 200 <= resp.status_code < 300:
            raise DeviceError(
                "device_error", f"the device refused (http {resp.status_code}); nothing confirmed"
            )

    def make_auth(self) -> httpx.Auth | None:
        """The device's HTTP auth, built once (a digest auth keeps its nonce); none by default."""
        return None

    @property
    def name(self) -> str:
        """The device's configured name (logged as DEVICE)."""
        return self.device.name

    @abc.abstractmethod
    async def get_state(self) -> DeviceState:
        """Read the current state (an idempotent read: may be retried once)."""

    @abc.abstractmethod
    async def set_power(self, on: bool) -> DeviceState:
        """Switch on or off (never a toggle: a timed-out toggle has an unknown outcome)."""

    async def set_brightness(self, pct: int) -> DeviceState:
        """Set brightness 0–100 % (turning the light on)."""
        raise DeviceError("not_supported", f"{self.family} devices have no brightness")

    async def set_color(
        self, rgb: tuple[int, int, int] | None = None, kelvin: int | None = None
    ) -> DeviceState:
        """Set an RGB colour or a white colour temperature in kelvin."""
        raise DeviceError("not_supported", f"{self.family} devices have no colour")

    async def aclose(self) -> None:
        """Release per-device resources (the shared HTTP client is closed by its owner)."""
        if self._own_http is not None:
            await self._own_http.aclose()


def _int_in(value: object, lo: int, hi: int) -> int | None:
    """`value` as an int within lo..hi when it is a finite number there, else None."""
    number = finite_number(value)
    if number is None or not lo <= number <= hi:
        return None
    return round(number)


def basic_auth(device: DeviceConfig) -> httpx.BasicAuth | None:
    """HTTP Basic credentials for the device (user ``admin`` unless configured), if it has any."""
    if not device.password:
        return None
    return httpx.BasicAuth(device.username or "admin", device.password.reveal())
