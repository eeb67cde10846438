"""The motion API on the whole simulated device: an allowed turn drives the real firmware, a denied op and a
malformed request get clear error replies, and the stack carries on (access policy from a file)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from device.bus.pubsub import Subscriber
from device.bus.rpc import RpcClient
from device.run.launcher import run_stack

REPO = Path(__file__).resolve().parents[2]
SCENE = """# An empty room: only the app's requests move the screen.
name = "motion API"
duration_s = 15
[room]
size_m = [6.0, 5.0, 2.7]
device_m = [3.0, 2.5, 0.9]
"""


def test_api_turn_denied_pan_and_malformed_request_on_the_running_stack(tmp_path):
    rdir = Path(tempfile.mkdtemp(prefix="swapi-", dir="/tmp"))        # ipc:// paths must stay short
    scene = tmp_path / "empty.toml"
    scene.write_text(SCENE)
    access = tmp_path / "access.toml"
    access.write_text('# this user may turn and look, not pan\nsame_uid = ["turn", "get_state"]\nothers = []\n')
    report_path = tmp_path / "report.json"
    runner = threading.Thread(target=run_stack, daemon=True, kwargs=dict(
        scenario=str(scene), config=None, duration=None, report_path=str(report_path), view=False,
        runtime_dir=str(rdir), extra_config={"policy": {"access_file": str(access)}}))
    runner.start()
    env = dict(os.environ, SWIVEL_RUNTIME_DIR=str(rdir))

    def motion(*args):
        return subprocess.run([sys.executable, "-m", "device", "motion", "--json", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=30)

    sub = None
    try:
        end = time.monotonic() + 120
        while not (rdir / "world.pub").exists():
            assert time.monotonic() < end and runner.is_alive(), "the stack did not come up"
            time.sleep(0.2)
        sub = Subscriber(rdir).subscribe("world", "sim.world").subscribe("policy", "policy.state")
        state = {}

        def pump_until(cond, timeout_s):
            end = time.monotonic() + timeout_s
            while time.monotonic() < end:
                for topic, msg in sub.poll(50):
                    state[topic] = msg
                if cond():
                    return True
            return False

        assert pump_until(lambda: "policy.state" in state and "sim.world" in state
                          and not state["policy.state"].holds, 120), state.get("policy.state")
        # Allowed: the real firmware turns the (simulated) table there.
        r = motion("turn", "-45")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["ok"]
        assert pump_until(lambda: abs(state["sim.world"].heading_deg + 45.0) < 1.0, 15), state["sim.world"].heading_deg
        # Denied by the access file: one clear reply, nothing moves.
        r = motion("pan")
        assert r.returncode == 1
        reply = json.loads(r.stdout)
        assert not reply["ok"] and reply["error"].startswith(f"denied: uid {os.getuid()}")
        assert "may not 'pan'" in reply["error"]
        # Malformed bytes on the socket: an error reply, and the service is still there for the next call.
        bad = RpcClient(rdir).call_raw(b"\x92\xa4junk")
        assert not bad.ok and bad.error.startswith("malformed request")
        assert json.loads(motion("state").stdout)["ok"]
        pump_until(lambda: False, 1.0)
        assert abs(state["sim.world"].heading_deg + 45.0) < 1.0, "moved after a denied or malformed request"
    finally:
        if sub is not None:
            sub.close()
        runner.join(90)
    rep = json.loads(report_path.read_text())
    assert all(code == 0 for code in rep["exit_codes"].values()), rep["exit_codes"]
    assert rep["moves"] == 1
    logs = (rdir / "logs" / "policy.log").read_text()
    assert '"msg": "motion API request denied"' in logs and '"msg": "motion API request malformed"' in logs
