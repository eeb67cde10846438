"""The real policy's motion API: allowed, denied and malformed requests, the CLI, and the stored range of motion."""
from __future__ import annotations

import os
import pwd
import subprocess
import sys

import pytest

from device.bus.rpc import RpcClient
from device.bus.schemas import MotionRequest

from .conftest import REPO, Someone, reply


def test_same_uid_may_turn_by_default_and_the_cli_says_what_happened(harness):
    h = harness()
    r = h.motion("turn", "-35")
    assert r.returncode == 0, r.stderr
    rep = reply(r)
    assert rep["ok"] and rep["state"]["target_source"] == "api"
    assert h.run_until(lambda h: abs(h.room.heading + 35.0) < 0.5, 3.0)
    human = subprocess.run([sys.executable, "-m", "device", "motion", "state"], cwd=REPO, env=h.env,
                           capture_output=True, text=True, timeout=20)
    assert human.returncode == 0 and "range -150..150 deg" in human.stdout and "decision:" in human.stdout


def test_denied_by_the_access_policy_is_a_clear_error_and_logged(harness, tmp_path):
    access = tmp_path / "access.toml"
    access.write_text('same_uid = ["get_state", "follow"]\nothers = []\n')
    h = harness(f'[policy]\naccess_file = "{access}"\n')
    r = h.motion("turn", "20")
    assert r.returncode == 1
    rep = reply(r)
    assert not rep["ok"] and rep["error"].startswith(f"denied: uid {os.getuid()} (")
    assert "may not 'turn' (allowed: follow, get_state" in rep["error"]
    assert reply(h.motion("state"))["ok"]
    assert h.moves() == []
    h.run(0.3)
    assert '"msg": "motion API request denied"' in h.logs()


def test_malformed_and_invalid_requests_get_error_replies(harness):
    h = harness()
    client = RpcClient(h.runtime_dir)
    bad = client.call_raw(b"\x92\xa4junk")
    assert not bad.ok and bad.error.startswith("malformed request")
    wrong_type = client.call_raw(b"\x82\xa2op\xa4turn\xa9angle_deg\xa3far")
    assert not wrong_type.ok and "malformed request" in wrong_type.error
    missing = client.call(MotionRequest(op="turn"))
    assert not missing.ok and missing.error == "invalid request: turn needs angle_deg"
    outside = client.call(MotionRequest(op="turn", angle_deg=170.0))
    assert not outside.ok and "outside the range of motion -150..150" in outside.error
    step = client.call(MotionRequest(op="set_rom", rom_step="sideways"))
    assert not step.ok and "rom_step must be one of" in step.error
    assert client.call(MotionRequest(op="get_state")).ok   # and the service is still fine
    h.run(0.2)
    assert '"msg": "motion API request invalid"' in h.logs()
    assert '"msg": "motion API request malformed", "count": 2' in h.logs()


def _call_as(uid: int, gid: int, runtime_dir, request: MotionRequest):
    """A motion API request from a forked child process running as another user (kernel credentials)."""
    import msgspec
    import zmq
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:                                         # the child: drop to the other user, ask, report
        code = 1
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            rep = RpcClient(runtime_dir, ctx=zmq.Context()).call(request)
            os.write(wfd, msgspec.json.encode(rep))
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and data
    return msgspec.json.decode(data)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a client process of another uid")
def test_another_uid_may_only_get_state(harness, runtime_dir):
    nobody = pwd.getpwnam("nobody")
    h = harness()
    assert (runtime_dir / "motion.sock").stat().st_mode & 0o777 == 0o660   # policy.api_socket_mode
    os.chmod(runtime_dir, 0o755)
    os.chmod(runtime_dir / "motion.sock", 0o777)       # this test's user is not in the service's group
    turn = _call_as(nobody.pw_uid, nobody.pw_gid, runtime_dir, MotionRequest(op="turn", angle_deg=10.0))
    assert not turn["ok"]
    assert turn["error"].startswith(f"denied: uid {nobody.pw_uid} (nobody)") and "allowed: get_state" in turn["error"]
    state = _call_as(nobody.pw_uid, nobody.pw_gid, runtime_dir, MotionRequest(op="get_state"))
    assert state["ok"] and state["state"]["mode"]
    h.run(0.5)
    assert h.moves() == []


def test_rom_set_by_angles_survives_a_restart(harness):
    h = harness()
    r = h.motion("rom", "-60:70")
    assert r.returncode == 0 and reply(r)["state"]["rom_max_deg"] == 70.0, r.stderr
    assert "min_deg = -60.0" in h.state_file.read_text()
    assert h.stop() == 0                                 # SIGTERM: a clean exit
    h2 = harness()
    assert (h2.state.rom_min_deg, h2.state.rom_max_deg, h2.state.rom_source) == (-60.0, 70.0, "state_file")
    assert h2.goal.rom_min_deg == -60.0 and h2.goal.rom_max_deg == 70.0


def test_rom_beyond_the_turntables_outer_range_is_refused_or_clipped(harness):
    # The motor's outer range (cable wrap) is -170..170 by default: the policy never promises more.
    h = harness()
    r = h.motion("rom", "-175:175")
    assert r.returncode == 1
    assert "beyond the turntable's outer range -170..170" in reply(r)["error"]
    h.stop()
    wide = harness("[policy.rom]\nmin_deg = -180.0\nmax_deg = 120.0\n")
    assert (wide.state.rom_min_deg, wide.state.rom_max_deg) == (-170.0, 120.0)
    assert any("outer range" in n for n in wide.state.notes)


def test_rom_set_by_hand_through_the_cli(harness):
    h = harness()
    assert reply(h.motion("rom", "start"))["state"]["mode"] == "rom_setup"
    assert h.run_until(lambda h: h.goal.mode == "release", 1.0)
    h.room.manual = True
    for a in (-20.0, -80.0, -40.0, 30.0, 95.0):
        h.room.heading = a
        h.run(0.1)
    h.room.manual = False
    h.run(0.2)
    rep = reply(h.motion("rom", "done"))
    assert rep["ok"] and (rep["state"]["rom_min_deg"], rep["state"]["rom_max_deg"]) == (-80.0, 95.0)
    assert rep["state"]["rom_source"] == "hand"


def test_unwritable_state_file_degrades_instead_of_crashing(harness, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    h = harness('[policy.rom]\nmin_deg = -90.0\nmax_deg = 90.0\n',
                start=False)
    h.cfg_path.write_text(h.cfg_path.read_text().replace(str(h.state_file), str(blocker / "rom.toml")))
    h.start()
    assert any("cannot be stored" in n for n in h.state.notes), h.state.notes
    rep = h.call(op="set_rom", min_deg=-50.0, max_deg=50.0)
    assert rep.ok and rep.state.rom_max_deg == 50.0                  # applied for this run ...
    assert any("applied but not stored" in n for n in rep.state.notes)  # ... and says it is not stored
    assert h.run_until(lambda h: h.heartbeat is not None and h.heartbeat.state == "degraded", 2.0)
    assert h.heartbeat.detail.startswith(f"range of motion cannot be stored in {blocker}: it is not a directory")
    h.run(0.5)
    assert h.proc.poll() is None


def test_bad_rom_state_file_is_reported_with_its_line_and_key(harness):
    h = harness(start=False)
    h.state_file.parent.mkdir(parents=True)
    h.state_file.write_text("min_deg = -60.0\nmax_deg = \"ninety\"\n")
    h.start()
    note = next(n for n in h.state.notes if "range-of-motion state" in n)
    assert f"{h.state_file} line 2: max_deg: expected `float`, got `str`" in note
    assert h.state.rom_source == "config"


def test_bad_access_file_is_one_clear_line_at_start(tmp_path, runtime_dir, subprocess_env):
    access = tmp_path / "access.toml"
    access.write_text('others = ["get_state"]\n\n[[rule]]\nuid = 4242\nops = ["turn", "spin"]\n')
    cfg = tmp_path / "swivel.toml"
    cfg.write_text(f'[policy]\naccess_file = "{access}"\nstate_file = "{tmp_path}/rom.toml"\n')
    r = subprocess.run([sys.executable, "-m", "device", "--config", str(cfg), "service", "policy"], cwd=REPO,
                       env=subprocess_env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last == (f"swivel: access policy {access} line 5: rule[0].ops: unknown op 'spin'; "
                    "known: turn, follow, pan, stop, set_rom, get_state, away, speed, away_hours, tokens, health_sweep, "
                    "health_ack or \"*\"")
    assert "Traceback" not in r.stderr


def test_follow_off_pan_and_stop_through_the_api(harness):
    h = harness()
    assert not h.call(op="follow", enabled=False).state.follow
    h.room.people[1] = Someone(0.0)
    h.run(0.3)
    h.room.people[1].world_deg = 28.0                   # motion zone, but following is off
    h.run(0.8)
    assert h.moves() == [] and h.state.decision == "follow is off"
    rep = h.call(op="pan")
    assert rep.ok
    assert h.run_until(lambda h: h.state.mode == "panning" and h.room.moving, 2.0)
    assert h.moves()[0].source == "pan" and h.moves()[0].target_deg == -150.0
    h.run(0.3)
    assert h.call(op="stop").ok
    assert h.run_until(lambda h: h.goal.mode == "stop" and not h.room.moving, 1.0)
    stopped = h.room.heading
    h.run(0.5)
    assert h.room.heading == stopped and h.state.mode != "panning"
    assert h.call(op="follow", enabled=True).state.follow
