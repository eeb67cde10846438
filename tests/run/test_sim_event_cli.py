"""`swivel sim event`: one event to a running world's control inbox; mistakes are one clear line."""
from __future__ import annotations

import subprocess
import sys
import time

from device.sim.control import ControlInbox


def swivel(*args, env):
    return subprocess.run([sys.executable, "-m", "device", "sim", "event", *args], capture_output=True, text=True,
                          env=env, timeout=30)


def test_an_event_reaches_the_world(runtime_dir, subprocess_env):
    inbox = ControlInbox(runtime_dir)                    # what the world process binds
    try:
        out = swivel("obstacle", "--azimuth-deg", "30", "--runtime-dir", str(runtime_dir), env=subprocess_env)
        assert out.returncode == 0, out.stderr
        got = []
        end = time.monotonic() + 5
        while not got and time.monotonic() < end:
            got = inbox.poll()
            time.sleep(0.02)
        assert [(e.kind, e.azimuth_deg) for e in got] == [("obstacle", 30.0)]
    finally:
        inbox.close()


def test_mistakes_are_one_line(runtime_dir, subprocess_env, tmp_path):
    inbox = ControlInbox(runtime_dir)
    try:
        for args, needle in [(["obstacle"], "obstacle needs --azimuth-deg"),
                             (["hand_push"], "hand_push needs --delta-deg"),
                             (["teleport"], "invalid choice: 'teleport'")]:
            out = swivel(*args, "--runtime-dir", str(runtime_dir), env=subprocess_env)
            assert out.returncode == 2 and needle in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert inbox.poll() == []
    finally:
        inbox.close()
    out = swivel("camera_unplug", "--runtime-dir", str(tmp_path), env=subprocess_env)
    assert out.returncode == 2 and out.stderr.strip() == f"swivel: no simulated world is running in {tmp_path} (no sim-control.sock there)"
