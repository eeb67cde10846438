"""Fixtures for the motor tests: the simavr harness on the short bus directory (the build and the serial link
are tests/conftest.py's)."""
from __future__ import annotations


import pytest

from device.sim.turntable import SimTurntable


@pytest.fixture
def sim(firmware_built, runtime_dir):
    # runtime_dir (tests/conftest.py) is short, as ipc:// socket paths must be; the pty link goes there too.
    tt = SimTurntable(runtime_dir, firmware_built, step_log=False).start()
    yield tt
    tt.stop()
