"""The policy's files and words: access policy TOML, the stored range of motion, config checks, CLI arguments."""
from __future__ import annotations

import argparse
import grp
import os
from pathlib import Path

import pytest

from device.bus.rpc import PeerCredentials
from device.config import parse_config
from device.errors import UserError
from device.policy import rom_store
from device.policy.access import EXAMPLE, AccessControl, AccessError, AccessPolicy
from device.policy.cli import add_parser, build_request

ME = os.getuid()


def creds(uid, gid=12345, pid=None):
    return PeerCredentials(pid=pid or 999999, uid=uid, gid=gid)


def test_default_access_same_uid_everything_others_only_get_state():
    pol = AccessPolicy.default(ME)
    assert pol.decide(creds(ME), "set_rom").allowed
    stranger = pol.decide(creds(ME + 4242), "turn")
    assert not stranger.allowed and stranger.ops == {"get_state"}
    assert pol.decide(creds(ME + 4242), "get_state").allowed
    assert not pol.decide(None, "turn").allowed


def test_access_rules_by_uid_and_group():
    group = grp.getgrgid(os.getgid()).gr_name
    text = f'same_uid = ["get_state"]\nothers = []\n[[rule]]\nuid = 4242\nops = ["turn", "stop"]\n' \
           f'[[rule]]\ngroup = "{group}"\nops = ["pan"]\n'
    pol = AccessPolicy.parse(text, "t.toml", ME)
    assert pol.decide(creds(4242), "turn").allowed and not pol.decide(creds(4242), "pan").allowed
    assert pol.decide(creds(4243, gid=os.getgid()), "pan").allowed        # primary group matches
    assert not pol.decide(creds(4243), "get_state").allowed              # others = []
    assert not pol.decide(creds(ME, gid=54321), "turn").allowed          # same uid narrowed to get_state
    assert AccessPolicy.parse(EXAMPLE.replace("swivel-apps", group), "example", ME).rules[0].kind == "gid"


@pytest.mark.parametrize("text, message", [
    ('others = ["spin"]', "t.toml line 1: others: unknown op 'spin'"),
    ('[[rule]]\nuser = "no-such-user-here"\nops = ["turn"]', "t.toml line 2: rule[0].user: no such user"),
    ('[[rule]]\nuid = 1\nops = ["turn"]\n[[rule]]\nuid = 2\ncolour = 1\nops = []', "t.toml line 6: rule[1].colour: unknown key"),
    ('[[rule]]\nuid = 1\ngid = 2\nops = []', "t.toml line 1: rule[0]: name exactly one of user, uid, group, gid"),
    ('same_uid = 3', "t.toml line 1: same_uid: expected `array`, got `int`"),
    ('same_uid = [', "t.toml: not valid TOML"),
])
def test_bad_access_files_name_line_and_key(text, message):
    with pytest.raises(AccessError) as exc:
        AccessPolicy.parse(text, "t.toml", ME)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_access_file_reload_keeps_the_old_policy_when_the_new_one_is_bad(tmp_path):
    path = tmp_path / "access.toml"
    path.write_text('others = ["get_state", "turn"]\n')
    ac = AccessControl(path, ME)
    assert ac.decide(creds(4242), "turn").allowed
    path.write_text('others = ["teleport"]\n')
    os.utime(path, ns=(1, 1))
    problem = ac.reload_if_changed()
    assert "unknown op 'teleport'" in problem and "keeping the previous access policy" in problem
    assert ac.decide(creds(4242), "turn").allowed
    path.write_text('others = []\n')
    os.utime(path, ns=(2, 2))
    assert ac.reload_if_changed() is None and not ac.decide(creds(4242), "turn").allowed


def test_rom_state_round_trip_and_errors(tmp_path):
    path = tmp_path / "deep" / "rom.toml"
    assert rom_store.load(path) is None
    rom_store.save(path, rom_store.StoredRom(min_deg=-75.0, max_deg=110.5, source="hand"))
    assert rom_store.load(path) == rom_store.StoredRom(min_deg=-75.0, max_deg=110.5, source="hand")
    assert [p.name for p in path.parent.iterdir()] == ["rom.toml"]          # no temp files left
    for text, message in [("min_deg = 10.0\nmax_deg = 5.0\n", "line 1: min_deg/max_deg: min_deg must be smaller"),
                          ("min_deg = 10.0\nmax_deg = 500.0\n", "line 2: max_deg: expected `float` <= 180"),
                          ("min_deg = 1.0\nmax_deg = 2.0\nheight = 3\n", "line 3: height: unknown key")]:
        path.write_text(text)
        with pytest.raises(rom_store.RomStateError, match=message):
            rom_store.load(path)


def test_state_path_follows_systemd_then_xdg(monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/swivel-a:/var/lib/other")
    assert rom_store.default_state_path() == Path("/var/lib/swivel-a/rom.toml")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", "/home/u/.local/state")
    assert rom_store.default_state_path() == Path("/home/u/.local/state/swivel/rom.toml")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert rom_store.default_state_path() == Path("/var/lib/swivel/rom.toml")
    assert rom_store.resolve_state_path("/etc/x.toml") == Path("/etc/x.toml")


def test_config_refuses_motion_over_the_hardware_limits():
    with pytest.raises(UserError, match=r"line 2: policy.motion.max_speed_dps: expected `float` <= 180.0"):
        parse_config("[policy.motion]\nmax_speed_dps = 200.0\n", "s.toml")
    with pytest.raises(UserError, match=r"policy.motion.max_accel_dps2: expected `float` <= 360.0"):
        parse_config("[policy.motion]\nmax_accel_dps2 = 400.0\n", "s.toml")
    with pytest.raises(UserError, match="line 1: policy.rom: max_deg must exceed min_deg"):
        parse_config("[policy.rom]\nmin_deg = 10.0\nmax_deg = 15.0\n", "s.toml")
    calm = parse_config("", "s.toml").policy.motion
    assert calm.max_speed_dps <= 90.0 and calm.max_accel_dps2 <= 180.0


def _parse(*argv):
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command"))
    return p.parse_args(["motion", *argv])


def test_cli_requests():
    assert build_request(_parse("turn", "-30")).angle_deg == -30.0
    r = build_request(_parse("rom", "-60:60"))
    assert (r.op, r.min_deg, r.max_deg) == ("set_rom", -60.0, 60.0)
    assert build_request(_parse("rom", "start")).rom_step == "start"
    assert build_request(_parse("follow", "off")).enabled is False
    assert build_request(_parse("away", "on")).op == "away"
    assert build_request(_parse("state")).op == "get_state"
    with pytest.raises(UserError, match="rom: expected MIN:MAX"):
        build_request(_parse("rom", "-60"))
    with pytest.raises(SystemExit):
        _parse("turn", "north")
