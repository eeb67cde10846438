"""The direction light bar: a ring of gpiozero LEDs on the device lights the sector the talker spoke from."""
from __future__ import annotations

import time

from .stream import sector_of


class LightBar:
    """LEDs evenly spaced around the device, LED 0 on the screen normal, the others counter-clockwise.

    `show(azimuth)` lights the LED of that device-frame direction (and only it); `tick()` turns it off
    once `hold_s` has passed. The LEDs are fixed to the device, so device-frame azimuths are right.
    """

    def __init__(self, pins: list[int], hold_s: float = 2.0):
        from gpiozero import LED
        self.leds = [LED(p) for p in pins]
        self.hold_s = hold_s
        self.lit: int | None = None
        self._until = 0.0

    def show(self, azimuth_deg: float | None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if azimuth_deg is None or not self.leds:
            return
        k = sector_of(azimuth_deg, len(self.leds))
        for i, led in enumerate(self.leds):
            led.value = i == k
        self.lit, self._until = k, now + self.hold_s

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.lit is not None and now >= self._until:
            self.off()

    def off(self) -> None:
        for led in self.leds:
            led.off()
        self.lit = None

    def close(self) -> None:
        self.off()
        for led in self.leds:
            led.close()
