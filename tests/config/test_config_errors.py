"""User mistakes in config and scenario files give one line naming the problem, exit code 2, no traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from device.config import load_config, parse_config
from device.errors import UserError
from device.sim.scenario import load_scenario


def swivel(*args, env=None):
    return subprocess.run([sys.executable, "-m", "device", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("text, needles", [
    ("[bus]\nheartbeat_s = 0.5\nheartbeet_s = 1\n", ["line 3", "bus.heartbeet_s", "unknown key"]),
    ("[bus]\n\nheartbeat_s = \"fast\"\n", ["line 3", "bus.heartbeat_s", "expected `float`"]),
    ("[gpio]\nbackend = \"wires\"\n", ["line 2", "gpio.backend"]),
    ("[bus\n", ["not valid TOML", "line 1"]),
    ("[nonsense]\nx = 1\n", ["line 1", "nonsense", "unknown key"]),
])
def test_bad_config_names_key_and_line(tmp_path, text, needles):
    cfg = tmp_path / "swivel.toml"
    cfg.write_text(text)
    proc = swivel("--config", str(cfg), "service", "motor")
    assert_one_line_error(proc, str(cfg), *needles)


def test_missing_config_file(tmp_path):
    proc = swivel("--config", str(tmp_path / "absent.toml"), "service", "policy")
    assert_one_line_error(proc, "absent.toml", "does not exist")


def test_unreadable_scenario(tmp_path):
    bad = tmp_path / "room.toml"
    bad.write_bytes(b"name = \"x\"\n[room]\nrt60_s = \xff\n")
    proc = swivel("run", "--scenario", str(bad), "--headless")
    assert_one_line_error(proc, "room.toml")


def test_scenario_with_wrong_type_names_key_and_line(tmp_path):
    bad = tmp_path / "room.toml"
    bad.write_text('name = "x"\n[room]\nrt60_s = "long"\n')
    with pytest.raises(UserError, match=r"line 3: room.rt60_s: expected `float`"):
        load_scenario(str(bad))


def test_scenario_person_outside_the_room_is_named(tmp_path):
    bad = tmp_path / "room.toml"
    bad.write_text('name = "x"\n[[person]]\nid = 7\npath = [{t = 0, azimuth_deg = 0, distance_m = 40}]\n')
    with pytest.raises(UserError, match="person 7: .* outside the room"):
        load_scenario(str(bad))


def test_defaults_load_and_every_shipped_scenario_is_valid():
    assert load_config(None).bus.heartbeat_s > 0
    from device.sim.scenario import SCENARIO_DIR
    shipped = sorted(SCENARIO_DIR.glob("*.toml"))
    assert shipped
    for path in shipped:
        load_scenario(str(path))


def test_config_round_trips_with_every_section():
    cfg = parse_config("[bus]\nheartbeat_s = 0.25\n[gpio]\nbackend = \"real\"\n")
    assert cfg.bus.heartbeat_s == 0.25 and cfg.gpio.backend == "real"


@pytest.mark.parametrize("args, needles", [
    (["--runtime-dir", "/dev/null/bus"], ["runtime directory /dev/null/bus", "cannot create it"]),
    (["--report", "/nonexistent-dir/report.json"], ["--report", "directory /nonexistent-dir does not exist"]),
])
def test_unusable_run_paths_are_refused_before_the_run(args, needles):
    # Both are checked before any process starts, so these return at once.
    proc = swivel("run", "--duration", "1", *args)
    assert_one_line_error(proc, *needles)
