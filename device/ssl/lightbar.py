"""The direction light bar: a ring of gpiozero LEDs on the device shows the listening state and the talker's sector."""
from __future__ import annotations

import time

from .stream import sector_of

WOKEN_MAX_S = 1.5            # all LEDs lit for at most this long if no estimate follows the wake word


class LightBar:
    """LEDs evenly spaced around the device, LED 0 on the screen normal, the others counter-clockwise.

    Listening states (`state`): "idle" (dark); "woken" (the wake word was heard: every LED lit until
    ssl knows where it came from); "streaming" (the woken talker's sector lit while they go on
    speaking, then `hold_s` more). A sound estimate outside a woken utterance lights its sector for
    `hold_s` ("direction"). The LEDs are fixed to the device, so device-frame azimuths are right.
    """

    def __init__(self, pins: list[int], hold_s: float = 2.0):
        from gpiozero import LED
        self.leds = [LED(p) for p in pins]
        self.hold_s = hold_s
        self.lit: int | None = None
        self.state = "idle"
        self._until = 0.0

    def woken(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for led in self.leds:
            led.on()
        self.state, self.lit, self._until = "woken", None, now + WOKEN_MAX_S

    def show(self, azimuth_deg: float | None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if azimuth_deg is None or not self.leds:
            return
        k = sector_of(azimuth_deg, len(self.leds))
        for i, led in enumerate(self.leds):
            led.value = i == k
        self.state = "streaming" if self.state in ("woken", "streaming") else "direction"
        self.lit, self._until = k, now + self.hold_s

    def tick(self, now: float | None = None, speaking: bool = False) -> None:
        now = time.monotonic() if now is None else now
        if self.state == "streaming" and speaking:
            self._until = max(self._until, now + self.hold_s)
        if self.state != "idle" and now >= self._until:
            self.off()

    def off(self) -> None:
        for led in self.leds:
            led.off()
        self.lit = None
        self.state = "idle"

    def close(self) -> None:
        self.off()
        for led in self.leds:
            led.close()
