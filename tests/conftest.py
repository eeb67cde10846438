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


# Modules with no real-time part (pure computation, files, command lines that run to completion): `make test`
# runs them at idle priority beside the real-time ones (simulated rooms, the firmware in simavr, services
# talking on the bus), which leave about a third of the two cores unused and must not be slowed.
BATCH_MODULES = {
    "config/test_config_errors.py", "deploy/test_example_config.py", "deploy/test_install.py", "deploy/test_units.py",
    "diagnose/test_compare.py", "diagnose/test_journal.py",
    "firmware/test_host_units.py",
    "health/test_gentle_policy.py", "health/test_rules.py",
    "motor/test_protocol.py",
    "policy/test_core_behaviour.py", "policy/test_core_rules.py", "policy/test_core_scenes.py",
    "policy/test_files.py", "policy/test_properties.py", "policy/test_walking.py",
    "proofs/test_access_analyze.py", "proofs/test_envelope.py", "proofs/test_firmware_proofs.py",
    "run/test_liveview_and_report.py",
    "satellite/test_access_principal.py",
    "speaker/test_cli.py", "speaker/test_dsp.py",
    "ssl/test_ambiguity.py", "ssl/test_cli.py", "ssl/test_estimator.py", "ssl/test_geometry.py",
    "ssl/test_lightbar.py", "ssl/test_scenes.py", "ssl/test_stream.py", "ssl/test_track.py",
    "test_lint.py",
    "vision/test_bench_smoke.py", "vision/test_camera_model.py", "vision/test_cli.py", "vision/test_detect.py",
    "vision/test_privacy_frames.py", "vision/test_unfamiliar_faces.py",
    "wake/test_cli_and_config.py", "wake/test_engine.py", "wake/test_listening_light.py",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "batch: no real-time part; `make test` runs it at idle priority alongside")


def pytest_collection_modifyitems(config, items):
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        try:
            rel = Path(item.fspath).resolve().relative_to(tests_dir).as_posix()
        except ValueError:
            continue
        if rel in BATCH_MODULES:
            item.add_marker(pytest.mark.batch)
