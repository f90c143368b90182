"""The smart-home tools the model calls (devices.md §8 "What our daemon does").

``list_devices(area?, kind?)``, ``get_state(device)``, ``set_power(device|area, state)``,
``set_light(device|area, brightness_pct?, color_name?, color_temp_k?)``,
``read_sensor(device|area, quantity)``; their spoken confirmations go through the registry's
one ``confirm_action`` (`ConfirmDesk`).

Safety by construction: no parameter takes a URL, host, port, path, entity id, RPC method or raw
command (the schemas forbid extra keys); targets are configured names/aliases/areas only
(`DeviceDirectory`); each device allows only its configured ``actions`` (else ``not_allowed``);
sensitive devices (``sensitive = true``, kind lock/garage/alarm, or a lock, alarm, cover or valve
entity) and area actions over `AREA_CONFIRM_OVER` devices need a spoken yes (`Confirmations`);
unlocking a lock or disarming an alarm (power off, or brightness 0, which is off everywhere) is
refused unless the device sets ``allow_unlock`` (devices.md §8.4), while opening a garage needs
only the confirmation. Every check reads the entity as parsed once at config load
(`DeviceConfig.target`), the same form the driver builds its URL from. Drivers come from
`driver_class(family)`, one per device, created on first use; one request per device is in
flight at a time. Units are normalised here: brightness in %, colour temperature in kelvin,
colours by name → RGB, temperatures in °C.

Every action result says ``"state_is": "confirmed"`` (the device reported that state) or
``"requested"`` (what we asked for; the device did not report it). ESPHome, WLED and Home
Assistant can answer a write before applying it, so such a state is re-read once,
`REREAD_DELAY_S` later, within what is left of the tool call's time (devices.md §8.8).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import httpx

from edge_agent.config import SENSITIVE_DOMAINS, Config, DeviceConfig, ToolsConfig
from edge_agent.errors import ToolError
from edge_agent.tools.confirm import Confirmations
from edge_agent.tools.directory import DeviceDirectory
from edge_agent.tools.drivers import driver_class
from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.home_results import agrees, merge, spoken
from edge_agent.tools.home_schema import COLORS, QUANTITIES, home_tool_specs
from edge_agent.tools.registry import Tool, ToolFailure, ToolRegistry

if TYPE_CHECKING:
    from edge_agent.assistant.assembly import Assistant

__all__ = [
    "AREA_CONFIRM_OVER",
    "LOCK_DOMAINS",
    "SENSITIVE_KINDS",
    "UNLOCK_KINDS",
    "HomeTools",
    "build_registry",
    "is_unlock",
]

log = logging.getLogger(__name__)

SENSITIVE_KINDS: Final = frozenset({"lock", "garage", "alarm"})
UNLOCK_KINDS: Final = frozenset({"lock", "alarm"})
"""Kinds whose power off means unlock / disarm (HA Assist: HassTurnOff unlocks a lock)."""
LOCK_DOMAINS: Final = frozenset({"lock", "alarm_control_panel"})
"""Home Assistant / ESPHome entity domains that are locks or alarms whatever their kind."""
AREA_CONFIRM_OVER: Final = 6
ANSWER_WAIT_S: Final = 2.0
"""How long confirm_action (`ConfirmDesk`) waits for the transcript of the user's answer before
it counts as silence (the transcript can arrive after the model's call)."""
LIST_STATE_TIMEOUT_S: Final = 1.5
REREAD_DELAY_S: Final = 0.3
REREAD_FAMILIES: Final = frozenset({"esphome", "wled", "homeassistant"})
_QUEUE_MARGIN_S: Final = 0.1
_DEADLINE_MARGIN_S: Final = 0.2  # leave the registry time to answer before its own timeout

DriverFactory = Callable[[str], type[Driver]]


class HomeTools:
    """The device tools over the configured devices; owns one driver per device."""

    def __init__(
        self,
        devices: Iterable[DeviceConfig],
        http: httpx.AsyncClient,
        *,
        tools_cfg: ToolsConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        driver_factory: DriverFactory = driver_class,
        confirmations: Confirmations | None = None,
    ) -> None:
        self.cfg = tools_cfg or ToolsConfig()
        self.directory = DeviceDirectory(devices)
        self.confirmations = confirmations or Confirmations(
            self.cfg.confirm_timeout_s, yes_phrases=self.cfg.confirm_words
        )
        self._http = http
        self._clock = clock
        self._driver_factory = driver_factory
        self._drivers: dict[str, Driver] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # -- plumbing ------------------------------------------------------------------------------
    def driver(self, dev: DeviceConfig) -> Driver:
        """The device's driver (created once; `not_supported` when its family isn't installed)."""
        drv = self._drivers.get(dev.name)
        if drv is None:
            try:
                cls = self._driver_factory(dev.family)
            except (ImportError, KeyError, AttributeError):
                raise ToolFailure(
                    "not_supported", f"no driver for {dev.family} devices", device=dev.name
                ) from None
            try:
                drv = cls(dev, self._http, self.cfg.http_timeout_s,
                          max_answer_bytes=self.cfg.max_answer_bytes)  # fmt: skip
            except DeviceError as exc:  # e.g. an unreadable ca_file
                raise ToolFailure(exc.code, exc.detail, device=dev.name) from None
            self._drivers[dev.name] = drv
        return drv

    async def _run(self, dev: DeviceConfig, op: Callable[[Driver], Any]) -> DeviceState:
        """One driver call, with the device's lock held; DeviceError → ToolFailure.

        One deadline (``tools.http_timeout_s``) covers the wait for the lock (an earlier call to
        the same device) and the call itself: a call queued behind a hung one fails in time
        instead of waiting for it and then for its own request.
        """
        lock = self._locks.setdefault(dev.name, asyncio.Lock())
        drv = self.driver(dev)
        timeout_s = self.cfg.http_timeout_s
        try:  # the margin lets a lone request's own deadline (Exchange) report it first
            async with asyncio.timeout(timeout_s + _QUEUE_MARGIN_S), lock:
                state: DeviceState = await op(drv)
        except DeviceError as exc:
            raise ToolFailure(exc.code, exc.detail, device=dev.name) from None
        except TimeoutError:
            raise ToolFailure(
                "timeout", f"no answer in {timeout_s:g} s (incl. waiting for an earlier request); "
                "state unknown", device=dev.name,
            ) from None  # fmt: skip
        return state

    @staticmethod
    def _check_allowed(dev: DeviceConfig, action: str) -> None:
        if action not in dev.actions:
            allowed = ", ".join(dev.actions) or "nothing"
            raise ToolFailure(
                "not_allowed", f"{action} is not allowed on this device (allowed: {allowed})",
                device=dev.name,
            )  # fmt: skip

    @staticmethod
    def is_sensitive(dev: DeviceConfig) -> bool:
        return dev.sensitive or dev.kind in SENSITIVE_KINDS or dev.domain in SENSITIVE_DOMAINS

    async def aclose(self) -> None:
        for drv in self._drivers.values():
            await drv.aclose()

    # -- tools ---------------------------------------------------------------------------------
    async def list_devices(self, args: dict[str, Any]) -> dict[str, Any]:
        devices = list(self.directory.in_area(args["area"]) if args.get("area") else
                       self.directory.devices)  # fmt: skip
        if args.get("kind"):
            devices = [d for d in devices if d.kind == args["kind"]]
        states = await asyncio.gather(*(self._quick_state(d) for d in devices))
        return {"devices": [_describe(d, s) for d, s in zip(devices, states, strict=True)]}

    async def _quick_state(self, dev: DeviceConfig) -> dict[str, Any] | str:
        if "read" not in dev.actions:
            return "not readable"
        try:
            async with asyncio.timeout(LIST_STATE_TIMEOUT_S):
                return (await self._run(dev, lambda d: d.get_state())).as_dict()
        except (ToolError, TimeoutError):
            return "unknown"
        except Exception:  # one device's odd answer must not fail the whole house
            log.exception("reading %s failed", dev.name, extra={"DEVICE": dev.name})
            return "unknown"

    async def get_state(self, args: dict[str, Any]) -> dict[str, Any]:
        dev = self.directory.find(args["device"])
        self._check_allowed(dev, "read")
        state = await self._run(dev, lambda d: d.get_state())
        return {"device": dev.name, "state": state.as_dict()}

    async def read_sensor(self, args: dict[str, Any]) -> dict[str, Any]:
        key = QUANTITIES[args["quantity"]]
        targets = self.directory.select(args.get("device"), args.get("area"))
        readings: list[dict[str, Any]] = []
        for dev in targets:
            if "read" not in dev.actions and len(targets) > 1:
                continue
            self._check_allowed(dev, "read")
            try:
                state = await self._run(dev, lambda d: d.get_state())
            except ToolFailure:
                if len(targets) == 1:
                    raise
                continue
            if key in state.sensors:
                readings.append({"device": dev.name, key: state.sensors[key]})
        if not readings:
            raise ToolFailure("not_supported", f"no {args['quantity']} reading available")
        return readings[0] if len(readings) == 1 else {"readings": readings}

    async def set_power(self, args: dict[str, Any], *, confirmed: bool = False) -> dict[str, Any]:
        on = args["state"] == "on"
        if args.get("device"):  # areas leave locks and alarms out (they are sensitive)
            self._check_unlock(self.directory.select(args["device"], args.get("area"))[0], on)
        return await self._act("set_power", args, "power", lambda d: d.set_power(on), confirmed)

    @staticmethod
    def _check_unlock(dev: DeviceConfig, on: bool) -> None:
        if is_unlock(dev, on) and not dev.allow_unlock:
            raise ToolFailure(
                "not_allowed",
                f"unlocking or disarming {dev.name} by voice is off; the owner can set "
                "allow_unlock = true for it in the config",
                device=dev.name,
            )

    async def set_light(self, args: dict[str, Any], *, confirmed: bool = False) -> dict[str, Any]:
        pct, name, kelvin = (args.get(k) for k in ("brightness_pct", "color_name", "color_temp_k"))
        if pct is None and name is None and kelvin is None:
            raise ToolFailure("bad_arguments", "give brightness_pct, color_name or color_temp_k")
        if name is not None and kelvin is not None:
            raise ToolFailure("bad_arguments", "give color_name or color_temp_k, not both")
        rgb, kelvin = COLORS.get(name, (None, kelvin)) if name else (None, kelvin)
        if pct == 0 and args.get("device"):  # brightness 0 is power off: unlock on a lock
            self._check_unlock(self.directory.select(args["device"], args.get("area"))[0], False)
        needs = ["brightness"] if pct is not None else []
        needs += ["color"] if (rgb or kelvin) else []

        async def op(drv: Driver) -> DeviceState:
            state = await drv.set_color(rgb, kelvin) if (rgb or kelvin) else DeviceState()
            if pct is not None:
                state = merge(state, await drv.set_brightness(int(pct)))
            return state

        return await self._act("set_light", args, needs, op, confirmed)

    # -- acting --------------------------------------------------------------------------------
    async def _act(
        self,
        tool: str,
        args: dict[str, Any],
        actions: str | list[str],
        op: Callable[[Driver], Any],
        confirmed: bool,
    ) -> dict[str, Any]:
        needs = [actions] if isinstance(actions, str) else actions
        targets = self.directory.select(args.get("device"), args.get("area"))
        by_area = not args.get("device")
        if by_area:  # an area acts on the devices that allow it; sensitive ones only by name
            targets = [d for d in targets if all(a in d.actions for a in needs)]
            targets = [d for d in targets if not self.is_sensitive(d)]
            if not targets:
                raise ToolFailure("not_found", "no device in that area can do that")
        else:
            for action in needs:
                self._check_allowed(targets[0], action)
        if not confirmed:
            confirm_needed = len(targets) > AREA_CONFIRM_OVER or any(
                self.is_sensitive(d) for d in targets
            )
            if confirm_needed:
                self._ask_confirmation(tool, args, targets, by_area)
        deadline = asyncio.get_running_loop().time() + self.cfg.timeout_s - _DEADLINE_MARGIN_S
        results = await asyncio.gather(*(self._act_one(d, op, deadline) for d in targets))
        if len(results) == 1:
            result = results[0]
            if not result["ok"]:
                raise ToolFailure(
                    result["error"], result.get("detail", ""), device=result["device"]
                )
            return result
        return {
            "ok": all(r["ok"] for r in results),
            "area": targets[0].area,
            "results": results,
        }

    async def _act_one(
        self, dev: DeviceConfig, op: Callable[[Driver], Any], deadline: float
    ) -> dict[str, Any]:
        try:
            state = await self._run(dev, op)
        except ToolError as exc:
            return {"ok": False, "device": dev.name, "error": exc.code, "detail": exc.detail}
        if not state.confirmed and dev.family in REREAD_FAMILIES and "read" in dev.actions:
            state = await self._reread(dev, state, deadline)
        return {
            "ok": True,
            "device": dev.name,
            "state": state.as_dict(),
            "state_is": "confirmed" if state.confirmed else "requested",
        }

    async def _reread(
        self, dev: DeviceConfig, requested: DeviceState, deadline: float
    ) -> DeviceState:
        """Read the state once more, `REREAD_DELAY_S` after a write the device did not report.

        Returns the read state if it shows what was requested, else `requested` unchanged (a
        failed or late read does not fail the action: the write itself was accepted).
        """
        remaining_s = deadline - asyncio.get_running_loop().time()
        if remaining_s < REREAD_DELAY_S + 0.05:
            return requested
        try:
            async with asyncio.timeout(remaining_s):
                await asyncio.sleep(REREAD_DELAY_S)
                read = await self._run(dev, lambda d: d.get_state())
        except (ToolError, TimeoutError):
            return requested
        return read if agrees(requested, read) else requested

    def _ask_confirmation(
        self, tool: str, args: dict[str, Any], targets: list[DeviceConfig], by_area: bool
    ) -> None:
        label = f"area:{targets[0].area}" if by_area else targets[0].name
        ident = self.confirmations.request(label, tool, args, self._clock())
        what = spoken(tool, args)
        whom = (
            f"all {len(targets)} devices in the {targets[0].area}" if by_area else targets[0].name
        )
        raise ToolFailure(
            "confirmation_required",
            f"ask the user; after a spoken yes call confirm_action within "
            f"{self.cfg.confirm_timeout_s:g} s",
            device=label,
            confirmation_id=ident,
            say=f"{what} {whom}?",
        )

    def tools(self, *, timeout_s: float | None = None) -> list[Tool]:
        """The five device tools, with handlers bound to this instance (``confirm_action`` is
        the registry's `ConfirmDesk`)."""
        handlers = {
            "list_devices": self.list_devices,
            "get_state": self.get_state,
            "set_power": self.set_power,
            "set_light": self.set_light,
            "read_sensor": self.read_sensor,
        }
        kinds = sorted({d.kind for d in self.directory.devices})
        return [
            Tool(name, description, params, handlers[name], timeout_s or self.cfg.timeout_s)
            for name, description, params in home_tool_specs(kinds)
        ]


def is_unlock(dev: DeviceConfig, on: bool) -> bool:
    """Whether switching `dev` to `on` would unlock a lock or disarm an alarm."""
    return not on and (dev.kind in UNLOCK_KINDS or dev.domain in LOCK_DOMAINS)


def _describe(dev: DeviceConfig, state: dict[str, Any] | str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": dev.name, "kind": dev.kind, "actions": list(dev.actions)}
    if dev.area:
        out["area"] = dev.area
    if dev.aliases:
        out["aliases"] = list(dev.aliases)
    if HomeTools.is_sensitive(dev):
        out["needs_confirmation"] = True
    out["state"] = state
    return out


def build_registry(
    cfg: Config,
    http: httpx.AsyncClient,
    *,
    clock: Callable[[], float] = time.monotonic,
    driver_factory: DriverFactory = driver_class,
    answer_wait_s: float = ANSWER_WAIT_S,
    assistant: Assistant | None = None,
) -> ToolRegistry:
    """The registry of the tool groups enabled in ``tools.enabled``; close it with `aclose`.

    The app calls ``registry.new_user_turn()`` when the user starts a speech turn,
    ``registry.user_transcript(text)`` with that turn's transcript while
    ``registry.wants_user_transcript()`` (a pending confirmation's answer), and appends
    ``registry.instructions()`` (home and date, memories) to new sessions. `assistant` (clock,
    timers, volume; see `edge_agent.assistant.assembly`) is built here when not given; the
    daemon builds it itself to run it as a component. Outside sources (Home Assistant, MCP
    servers) connect in ``await registry.start()``. One ``confirm_action`` tool (`ConfirmDesk`)
    serves every source's confirmations.
    """
    from edge_agent.assistant.assembly import build_assistant
    from edge_agent.integrations.sources import add_tool_sources
    from edge_agent.tools.confirm_desk import ConfirmDesk
    from edge_agent.tools.memory import MemoryStore, memory_tools
    from edge_agent.tools.weather import WeatherService, weather_tools

    registry = ToolRegistry(clock=clock)
    confirmations = Confirmations(cfg.tools.confirm_timeout_s, yes_phrases=cfg.tools.confirm_words)
    desk = ConfirmDesk(confirmations, clock=clock, answer_wait_s=answer_wait_s)
    registry.on_new_user_turn(confirmations.new_user_turn)
    registry.on_user_transcript(desk.user_transcript, desk.wants_user_transcript)
    timeout_s = cfg.tools.timeout_s
    store: MemoryStore | None = None
    if "memory" in cfg.tools.enabled:
        try:
            store = MemoryStore(cfg.state_dir / "memory.sqlite3")
        except OSError as exc:  # the daemon still works without memories
            log.error("memory tools disabled: %s", exc, extra={"ERROR_CODE": "memory_store"})
    if store is not None:
        for tool in memory_tools(store, timeout_s=timeout_s):
            registry.add(tool)
        registry.add_instructions(store.memories_for_instructions)
        registry.on_close(store.aclose)
    weather = WeatherService(cfg.weather, http, timeout_s=cfg.tools.http_timeout_s, clock=clock)
    if assistant is None:
        assistant = build_assistant(cfg, weather)
    registry.add_instructions(assistant.instructions)
    for tool in assistant.tools(timeout_s):
        registry.add(tool)
    registry.on_close(assistant.aclose)
    if "weather" in cfg.tools.enabled:
        for tool in weather_tools(weather, timeout_s=timeout_s, home=assistant.home_place):
            registry.add(tool)
    if "home" in cfg.tools.enabled and cfg.devices:
        home = HomeTools(
            cfg.devices, http, tools_cfg=cfg.tools, clock=clock, driver_factory=driver_factory,
            confirmations=confirmations,
        )  # fmt: skip
        for tool in home.tools():
            registry.add(tool)
        desk.register("set_power", functools.partial(home.set_power, confirmed=True))
        desk.register("set_light", functools.partial(home.set_light, confirmed=True))
        registry.on_close(home.aclose)
        registry.add_secrets(s.reveal() for d in cfg.devices for s in (d.password, d.token) if s)
    add_tool_sources(cfg, registry, desk, http, clock=clock)
    if desk.needed or cfg.homeassistant.url or any(s.confirm for s in cfg.mcp.servers):
        registry.add(desk.tool(timeout_s))
    return registry
