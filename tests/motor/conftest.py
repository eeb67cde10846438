"""Fixtures for the motor tests: the firmware built once, the simavr harness, a serial link."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from device.motor.link import MotorLink
from device.sim.turntable import SimTurntable

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def firmware_built() -> Path:
    r = subprocess.run(["make", "-s", "-C", str(REPO / "firmware_mcu"), "all", "sim"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return REPO / "firmware_mcu" / "build" / "swivel.elf"


@pytest.fixture
def sim(firmware_built, runtime_dir):
    # runtime_dir (tests/conftest.py) is short, as ipc:// socket paths must be; the pty link goes there too.
    tt = SimTurntable(runtime_dir, firmware_built, step_log=False).start()
    yield tt
    tt.stop()


@pytest.fixture
def link(sim):
    ln = MotorLink(str(sim.pty_link)).start()
    assert ln.wait_connected(3.0)
    assert ln.wait_telemetry(2.0) is not None
    yield ln
    ln.close()
