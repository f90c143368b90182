"""The smart-home tools the model calls (devices.md §8 "What our daemon does").

``list_devices(area?, kind?)``, ``get_state(device)``, ``set_power(device|area, state)``,
``set_light(device|area, brightness_pct?, color_name?, color_temp_k?)``,
``read_sensor(device|area, quantity)``, ``confirm_action(confirmation_id)``.

Safety by construction: no parameter takes a URL, host, port, path, entity id, RPC method or raw
command (the schemas forbid extra keys); targets are configured names/aliases/areas only
(`DeviceDirectory`); each device allows only its configured ``actions`` (else ``not_allowed``);
sensitive devices (``sensitive = true``, kind lock/garage/alarm or a lock entity) and area
actions over `AREA_CONFIRM_OVER` devices need a spoken confirmation (`Confirmations`); unlocking
a lock or disarming an alarm (power off) is refused unless the device sets ``allow_unlock``
(devices.md §8.4), while opening a garage needs only the confirmation. Drivers come from
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
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import httpx

from edge_agent.config import Config, DeviceConfig, ToolsConfig
from edge_agent.errors import ToolError
from edge_agent.tools.confirm import Confirmations
from edge_agent.tools.directory import DeviceDirectory
from edge_agent.tools.drivers import driver_class
from edge_agent.tools.drivers.base import DeviceError, DeviceState, Driver
from edge_agent.tools.home_schema import COLORS, QUANTITIES, home_tool_specs
from edge_agent.tools.registry import Tool, ToolFailure, ToolRegistry

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
LIST_STATE_TIMEOUT_S: Final = 1.5
REREAD_DELAY_S: Final = 0.3
REREAD_FAMILIES: Final = frozenset({"esphome", "wled", "homeassistant"})
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
        self.confirmations = confirmations or Confirmations(self.cfg.confirm_timeout_s)
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
            drv = self._drivers[dev.name] = cls(dev, self._http, self.cfg.http_timeout_s)
        return drv

    async def _run(self, dev: DeviceConfig, op: Callable[[Driver], Any]) -> DeviceState:
        """One driver call, with the device's lock held; DeviceError → ToolFailure."""
        lock = self._locks.setdefault(dev.name, asyncio.Lock())
        drv = self.driver(dev)
        async with lock:
            try:
                state: DeviceState = await op(drv)
            except DeviceError as exc:
                raise ToolFailure(exc.code, exc.detail, device=dev.name) from None
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
        return dev.sensitive or dev.kind in SENSITIVE_KINDS or _domain(dev) in LOCK_DOMAINS

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
        needs = ["brightness"] if pct is not None else []
        needs += ["color"] if (rgb or kelvin) else []

        async def op(drv: Driver) -> DeviceState:
            state = await drv.set_color(rgb, kelvin) if (rgb or kelvin) else DeviceState()
            if pct is not None:
                state = _merge(state, await drv.set_brightness(int(pct)))
            return state

        return await self._act("set_light", args, needs, op, confirmed)

    async def confirm_action(self, args: dict[str, Any]) -> dict[str, Any]:
        pending = self.confirmations.redeem(args["confirmation_id"], self._clock())
        handler = {"set_power": self.set_power, "set_light": self.set_light}[pending.action]
        return await handler(dict(pending.arguments), confirmed=True)

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
        return read if _agrees(requested, read) else requested

    def _ask_confirmation(
        self, tool: str, args: dict[str, Any], targets: list[DeviceConfig], by_area: bool
    ) -> None:
        label = f"area:{targets[0].area}" if by_area else targets[0].name
        ident = self.confirmations.request(label, tool, args, self._clock())
        what = _spoken(tool, args)
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
        """The six tools, with handlers bound to this instance."""
        handlers = {
            "list_devices": self.list_devices,
            "get_state": self.get_state,
            "set_power": self.set_power,
            "set_light": self.set_light,
            "read_sensor": self.read_sensor,
            "confirm_action": self.confirm_action,
        }
        kinds = sorted({d.kind for d in self.directory.devices})
        return [
            Tool(name, description, params, handlers[name], timeout_s or self.cfg.timeout_s)
            for name, description, params in home_tool_specs(kinds)
        ]


def is_unlock(dev: DeviceConfig, on: bool) -> bool:
    """Whether switching `dev` to `on` would unlock a lock or disarm an alarm."""
    return not on and (dev.kind in UNLOCK_KINDS or _domain(dev) in LOCK_DOMAINS)


def _domain(dev: DeviceConfig) -> str:
    """The entity's domain: "lock" for HA "lock.front_door" and ESPHome "lock/Front Door"."""
    if dev.family not in ("homeassistant", "esphome"):
        return ""
    return dev.entity.replace("/", ".").partition(".")[0]


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


def _merge(first: DeviceState, second: DeviceState) -> DeviceState:
    """What two successive answers tell together (the later one wins where both know)."""
    known = {
        f.name: getattr(second, f.name)
        for f in dataclasses.fields(second)
        if f.name != "confirmed" and getattr(second, f.name) not in (None, {})
    }
    known["confirmed"] = first.confirmed and second.confirmed
    return dataclasses.replace(first, **known)


def _agrees(requested: DeviceState, read: DeviceState) -> bool:
    """Whether a read shows what was requested (levels round-trip through device scales)."""
    if requested.on is not None and read.on != requested.on:
        return False
    if requested.brightness_pct is not None and (
        read.brightness_pct is None or abs(read.brightness_pct - requested.brightness_pct) > 1
    ):
        return False
    if requested.rgb is not None and read.rgb != requested.rgb:
        return False
    return requested.color_temp_k is None or (
        read.color_temp_k is not None and abs(read.color_temp_k - requested.color_temp_k) <= 50
    )


def _spoken(tool: str, args: dict[str, Any]) -> str:
    if tool == "set_power":
        return "Switch on" if args.get("state") == "on" else "Switch off"
    return "Change the light on"


def build_registry(
    cfg: Config,
    http: httpx.AsyncClient,
    *,
    clock: Callable[[], float] = time.monotonic,
    driver_factory: DriverFactory = driver_class,
) -> ToolRegistry:
    """The registry of the tool groups enabled in ``tools.enabled``; close it with `aclose`.

    The app calls ``registry.new_user_turn()`` when the user starts a speech turn (it unlocks
    pending confirmations) and appends ``registry.instructions()`` (memories) to new sessions.
    Outside sources (Home Assistant, MCP servers) connect in ``await registry.start()``.
    One ``confirm_action`` tool (`ConfirmDesk`) serves every source's confirmations.
    """
    from edge_agent.integrations.sources import add_tool_sources
    from edge_agent.tools.confirm_desk import CONFIRM_TOOL, ConfirmDesk
    from edge_agent.tools.memory import MemoryStore, memory_tools
    from edge_agent.tools.weather import WeatherService, weather_tools

    registry = ToolRegistry(clock=clock)
    confirmations = Confirmations(cfg.tools.confirm_timeout_s)
    desk = ConfirmDesk(confirmations, clock=clock)
    registry.on_new_user_turn(confirmations.new_user_turn)
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
        registry.on_close(functools.partial(asyncio.to_thread, store.close))
    if "weather" in cfg.tools.enabled:
        weather = WeatherService(cfg.weather, http, timeout_s=cfg.tools.http_timeout_s, clock=clock)
        for tool in weather_tools(weather, timeout_s=timeout_s):
            registry.add(tool)
    if "home" in cfg.tools.enabled and cfg.devices:
        home = HomeTools(
            cfg.devices, http, tools_cfg=cfg.tools, clock=clock, driver_factory=driver_factory,
            confirmations=confirmations,
        )  # fmt: skip
        for tool in home.tools():
            if tool.name != CONFIRM_TOOL:
                registry.add(tool)
        desk.register("set_power", functools.partial(home.set_power, confirmed=True))
        desk.register("set_light", functools.partial(home.set_light, confirmed=True))
        registry.on_close(home.aclose)
        registry.add_secrets(s.reveal() for d in cfg.devices for s in (d.password, d.token) if s)
    add_tool_sources(cfg, registry, desk, http, clock=clock)
    if desk.needed or cfg.homeassistant.url or any(s.confirm for s in cfg.mcp.servers):
        registry.add(desk.tool(timeout_s))
    return registry
