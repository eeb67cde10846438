"""Fixtures shared by every test: a private bus directory, the venv's Python, the built firmware and a serial
link to whichever simulated MCU (`sim`) the test's folder provides."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runtime_dir():
    # ipc:// paths must stay under ~107 bytes, so use a short directory in /tmp rather than tmp_path.
    with tempfile.TemporaryDirectory(prefix="swv-", dir="/tmp") as d:
        yield Path(d)


@pytest.fixture
def python_exe() -> str:
    return sys.executable


@pytest.fixture
def subprocess_env(runtime_dir):
    env = dict(os.environ)
    env["SWIVEL_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NOTIFY_SOCKET", None)
    return env


@pytest.fixture(scope="session")
def firmware_built() -> Path:
    """`make -C firmware_mcu all sim` (a no-op when up to date)."""
    r = subprocess.run(["make", "-s", "-C", str(REPO / "firmware_mcu"), "all", "sim"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return REPO / "firmware_mcu" / "build" / "swivel.elf"


@pytest.fixture
def link(sim):
    """A serial link (the motor service's own MotorLink) to the folder's `sim` fixture, connected and talking."""
    from device.motor.link import MotorLink
    ln = MotorLink(str(sim.pty_link)).start()
    assert ln.wait_connected(3.0), "serial link did not open"
    assert ln.wait_telemetry(2.0) is not None, "no telemetry from the firmware"
    yield ln
    ln.close()
