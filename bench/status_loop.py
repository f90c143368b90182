"""Does the status LED cost the event loop anything? Loop lateness and CPU, side by side.

Runs three phases in one process on gpiozero mock PWM pins (an RGB LED):
  baseline  no LED work
  pulse     the LED pulses (gpiozero's source thread writes 20 frames a second)
  switch    StatusLeds.show() switches pattern every 20 ms on the loop (worst case)
and prints, per phase, how late a 5 ms asyncio.sleep wakes up (p50/p99/max), the median and
longest show() call, and process CPU seconds per wall second, with ratios to the baseline.

    PYTHONPATH=. python bench/status_loop.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge_agent.config import LedConfig, StatusConfig
from edge_agent.states import State
from edge_agent.status.leds import StatusLeds

CFG = StatusConfig(
    led=LedConfig(type="rgb", red_pin="GPIO17", green_pin="GPIO27", blue_pin="GPIO22")
)
SWITCH = [State.THINKING, State.SPEAKING, State.ERROR, State.LISTENING, State.MUTED]


async def measure(seconds: float, leds: StatusLeds | None, switch: bool) -> dict[str, float]:
    lateness: list[float] = []
    show_s = [0.0]
    end = time.perf_counter() + seconds
    cpu0 = time.process_time()
    wall0 = time.perf_counter()

    async def switcher() -> None:
        i = 0
        while time.perf_counter() < end:
            assert leds is not None
            t = time.perf_counter()
            leds.show(SWITCH[i % len(SWITCH)])
            show_s.append(time.perf_counter() - t)
            i += 1
            await asyncio.sleep(0.02)

    task = asyncio.create_task(switcher()) if switch else None
    while time.perf_counter() < end:
        t = time.perf_counter()
        await asyncio.sleep(0.005)
        lateness.append(time.perf_counter() - t - 0.005)
    if task:
        await task
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    q = statistics.quantiles(lateness, n=100)
    shows = show_s[1:] or [0.0]
    return {
        "p50": q[49],
        "p99": q[98],
        "max": max(lateness),
        "show50": statistics.median(shows),
        "show": max(shows),
        "cpu": cpu,
    }


async def main(seconds: float) -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    rows = {"baseline": await measure(seconds, None, False)}
    leds = StatusLeds(CFG, pin_factory=factory, strict=True)
    leds.show(State.SPEAKING)
    rows["pulse"] = await measure(seconds, leds, False)
    rows["switch"] = await measure(seconds, leds, True)
    leds.close()
    base = rows["baseline"]
    print(
        f"{'phase':<9} {'late p50':>9} {'p99':>8} {'max':>8} {'show p50':>9} {'max':>8} "
        f"{'cpu':>7}  ratios to baseline"
    )
    for name, r in rows.items():
        print(
            f"{name:<9} {r['p50'] * 1e3:8.3f}ms {r['p99'] * 1e3:6.3f}ms {r['max'] * 1e3:6.2f}ms "
            f"{r['show50'] * 1e3:7.3f}ms {r['show'] * 1e3:6.3f}ms {r['cpu'] * 100:6.2f}%  "
            f"p99 x{r['p99'] / base['p99']:.2f}, cpu x{r['cpu'] / base['cpu']:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per phase (default 3)")
    asyncio.run(main(parser.parse_args().seconds))
