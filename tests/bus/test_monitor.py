"""`swivel bus monitor`: the live bus as JSON lines, heartbeats of every process included; a bad topic is one line."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from device.bus.pubsub import Publisher
from device.bus.schemas import MotorState


def test_monitor_prints_state_and_heartbeats_of_the_services(runtime_dir, subprocess_env):
    motor = Publisher("motor", runtime_dir, heartbeat_s=0.1)
    mon = subprocess.Popen([sys.executable, "-m", "device", "bus", "monitor", "--runtime-dir", str(runtime_dir),
                            "--count", "12", "hb", "motor.state"], env=subprocess_env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 30
        while mon.poll() is None and time.monotonic() < end:
            motor.publish("motor.state", MotorState(t_ns=time.monotonic_ns(), heading_deg=42.0, moving=True))
            motor.tick()
            time.sleep(0.05)
        out, err = mon.communicate(timeout=10)
    finally:
        motor.close()
        if mon.poll() is None:
            mon.kill()
    assert mon.returncode == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 12
    assert {r["topic"] for r in rows} == {"hb", "motor.state"}
    assert all(r["service"] == "motor" and r["pid"] for r in rows if r["topic"] == "hb")
    assert all(r["heading_deg"] == 42.0 and r["moving"] for r in rows if r["topic"] == "motor.state")


def test_monitor_names_an_unknown_topic(runtime_dir, subprocess_env):
    out = subprocess.run([sys.executable, "-m", "device", "bus", "monitor", "--runtime-dir", str(runtime_dir),
                          "motor.sate"], env=subprocess_env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and out.stderr.strip() == "swivel: unknown topic 'motor.sate'"
