"""GPIO: gpiozero's real pin factory on the Pi, its MockFactory in simulation, and the world's hand on mock switches.

Each service owns its own pins (vision: shutter switch; policy: mute button; ssl: light bar LEDs;
motor: MCU reset line and status LED). In simulation the world publishes switch states on `sim.world`;
`SimSwitches` turns them into voltage changes on this process's mock pins, so the gpiozero devices
under test see real edges.
"""
from __future__ import annotations

from typing import Iterable

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin


def use_pin_factory(backend: str) -> None:
    """Select the process-wide gpiozero pin factory: "mock" or "real" (gpiozero's default: lgpio on a Pi)."""
    if backend == "mock":
        if not isinstance(Device.pin_factory, MockFactory):
            Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    elif backend != "real":
        raise ValueError(f"unknown gpio backend {backend!r}; expected 'mock' or 'real'")


class SimSwitches:
    """Drives mock input pins from boolean fields of the world's ground truth.

    `wiring` maps a field name of SimWorld (e.g. "shutter_closed") to (pin, active_low). A switch with
    a pull-up that closes to ground is active_low: "closed" drives the pin low.
    """

    def __init__(self, wiring: dict[str, tuple[int, bool]]):
        if not isinstance(Device.pin_factory, MockFactory):
            raise RuntimeError("SimSwitches needs the mock pin factory (gpio backend 'mock')")
        self.wiring = wiring
        self._last: dict[str, bool] = {}

    def apply(self, world) -> None:
        for field, (pin_no, active_low) in self.wiring.items():
            active = bool(getattr(world, field))
            if self._last.get(field) == active:
                continue
            self._last[field] = active
            pin = Device.pin_factory.pin(pin_no)
            if active != active_low:
                pin.drive_high()
            else:
                pin.drive_low()


def pin_levels(pins: Iterable[int]) -> list[bool]:
    """Current level of mock pins (tests and the live view read the light bar this way)."""
    return [bool(Device.pin_factory.pin(p).state) for p in pins]
