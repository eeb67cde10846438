"""A scenario's [[turntable_fault]] reaches the plant under the real firmware: the world applies it at start_s."""
from __future__ import annotations

import threading
import time

import pytest

from device.errors import UserError
from device.motor.link import MotorLink
from device.sim.scenario import load_scenario
from device.sim.world import World

SCENE = """
name = "magnet shifted"
duration_s = 3
wake_engine = "standin"

[[turntable_fault]]
kind = "sensor_offset"
severity = 1.5
start_s = 1.0
"""


def test_the_world_applies_a_turntable_fault_at_its_time(firmware_built, runtime_dir):
    path = runtime_dir / "scene.toml"
    path.write_text(SCENE)
    world = World(load_scenario(str(path)), runtime_dir)
    stop = [False]
    th = threading.Thread(target=world.run, args=(3.0, stop), kwargs={"wait_services": False}, daemon=True)
    th.start()
    link = None
    try:
        deadline = time.monotonic() + 10.0
        while not (runtime_dir / "mcu.pty").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        link = MotorLink(str(runtime_dir / "mcu.pty")).start()
        assert link.wait_connected(3.0) and link.wait_telemetry(2.0) is not None
        errs = []                                       # (world seconds, measured - commanded)
        while th.is_alive() and time.monotonic() < deadline:
            link.ping()
            t = link.wait_telemetry(0.2)
            if t is not None and getattr(world, "t0_ns", None):
                errs.append(((time.monotonic_ns() - world.t0_ns) / 1e9, t.measured_deg - t.position_deg))
            time.sleep(0.03)
        before = [e for s, e in errs if s < 0.8]
        after = [e for s, e in errs if s > 1.3]
        assert before and after
        assert all(abs(e) < 0.36 for e in before)       # healthy: within a sensor count
        assert all(abs(e - 1.5) < 0.36 for e in after)  # the magnet moved 1.5 degrees at t = 1 s
        assert {"t": 1.0, "kind": "turntable_fault:sensor_offset", "severity": 1.5} in world.events_done
    finally:
        stop[0] = True
        th.join(5.0)
        if link is not None:
            link.close()
        world.close()


@pytest.mark.parametrize("body, says", [
    ('kind = "snag"\nseverity = 0.5', "give angle_deg"),
    ('kind = "friction"\nseverity = -0.1', "severity must be"),
    ('kind = "friction"\nseverity = 0.2\nwidth_deg = 10', "needs angle_deg"),
    ('kind = "sensor_offset"\nseverity = 4', "hand turning"),
    ('kind = "rust"\nseverity = 1', "turntable_fault"),
])
def test_a_bad_turntable_fault_is_one_clear_error(runtime_dir, body, says):
    path = runtime_dir / "bad.toml"
    path.write_text(f'name = "bad"\nwake_engine = "standin"\n[[turntable_fault]]\n{body}\n')
    with pytest.raises(UserError) as exc:
        load_scenario(str(path))
    assert says in str(exc.value) and "\n" not in str(exc.value)
