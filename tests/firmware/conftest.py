"""Fixtures for the firmware tests: a fresh simavr harness with a step log per test (the build and the serial
link are tests/conftest.py's)."""
from __future__ import annotations

import time

import pytest

from device.motor.link import MotorLink
from device.sim.turntable import SimTurntable


@pytest.fixture
def sim(firmware_built, tmp_path):
    """The real firmware in simavr at real time, with a step log."""
    tt = SimTurntable(tmp_path, firmware_built, step_log=True).start()
    yield tt
    tt.stop()


def _keep_alive(link: MotorLink, seconds: float, until=None, period_s: float = 0.05) -> None:
    """Talk to the MCU (pings) for `seconds`, or until `until()` is true, so host silence never trips."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        link.ping()
        if until is not None and until():
            return
        time.sleep(period_s)


@pytest.fixture
def keep_alive():
    return _keep_alive
