"""The camera shutter switch, read through gpiozero: closed means vision is blind and captures nothing."""
from __future__ import annotations

from typing import Optional


class ShutterSwitch:
    """A switch on `pin` (BCM numbering). With `active_low` it closes to ground against a pull-up.

    `pin=None` means the device has no shutter switch: never closed.
    """

    def __init__(self, pin: Optional[int], active_low: bool = True):
        self.pin = pin
        self._button = None
        if pin is not None:
            from gpiozero import Button
            self._button = Button(pin, pull_up=active_low, bounce_time=None)

    @property
    def closed(self) -> bool:
        return bool(self._button is not None and self._button.is_pressed)

    def close(self) -> None:
        if self._button is not None:
            self._button.close()
            self._button = None
