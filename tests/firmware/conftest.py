"""Fixtures for the firmware tests: build once, then a fresh simavr harness and serial link per test."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from device.motor.link import MotorLink
from device.sim.turntable import SimTurntable

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def firmware_built() -> Path:
    """`make -C firmware_mcu all sim` (a no-op when up to date)."""
    r = subprocess.run(["make", "-s", "-C", str(REPO / "firmware_mcu"), "all", "sim"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return REPO / "firmware_mcu" / "build" / "swivel.elf"


@pytest.fixture
def sim(firmware_built, tmp_path):
    """The real firmware in simavr at real time, with a step log."""
    tt = SimTurntable(tmp_path, firmware_built, step_log=True).start()
    yield tt
    tt.stop()


@pytest.fixture
def link(sim):
    ln = MotorLink(str(sim.pty_link)).start()
    assert ln.wait_connected(3.0), "serial link did not open"
    assert ln.wait_telemetry(2.0) is not None, "no telemetry from the firmware"
    yield ln
    ln.close()


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
