"""The access policy's principals (a paired web session, the kiosk) and the motion API's speed presets and away hours."""
from __future__ import annotations

import os

import pytest

from device.bus.rpc import PeerCredentials
from device.policy.access import OPS, AccessError, AccessPolicy
from device.policy.api import preset_motion
from device.policy.config import MotionConfig

ME = os.getuid()


def creds(uid, gid=None):
    return PeerCredentials(pid=os.getpid(), uid=uid, gid=os.getgid() if gid is None else gid)


def test_a_principal_narrows_what_its_door_may_do_and_never_widens_it():
    pol = AccessPolicy.parse('same_uid = ["*"]\nothers = ["get_state"]\nweb_kiosk = ["get_state", "stop"]\n',
                             "t.toml", ME)
    assert pol.decide(creds(ME), "set_rom", "web_paired:abc").allowed          # default: everything
    kiosk = pol.decide(creds(ME), "turn", "web_kiosk")
    assert not kiosk.allowed and kiosk.ops == {"get_state", "stop"}
    assert kiosk.who.startswith("web_kiosk via uid")
    # A stranger naming a principal still gets only what the stranger may (intersection, not union).
    assert pol.decide(creds(ME + 4242), "set_rom", "web_paired:abc").ops == {"get_state"}
    unknown = pol.decide(creds(ME), "get_state", "root_shell")
    assert not unknown.allowed and "unknown principal 'root_shell'" in unknown.who


def test_principals_are_declared_in_the_same_file_with_the_same_checks():
    pol = AccessPolicy.parse('web_paired = ["get_state", "set_rom", "away", "away_hours", "speed"]\n', "t.toml", ME)
    assert pol.decide(creds(ME), "speed", "web_paired:x").allowed
    assert not pol.decide(creds(ME), "turn", "web_paired:x").allowed
    with pytest.raises(AccessError, match=r"t.toml line 2: web_kiosk: unknown op 'dance'"):
        AccessPolicy.parse('same_uid = ["*"]\nweb_kiosk = ["dance"]\n', "t.toml", ME)
    assert {"speed", "away_hours"} <= set(OPS)


def test_speed_presets_stay_within_the_hardware_and_the_motor():
    normal = MotionConfig()
    calm = preset_motion("calm", normal, (90.0, 180.0))
    fast = preset_motion("fast", normal, (90.0, 180.0))
    assert calm.max_speed_dps < normal.max_speed_dps < fast.max_speed_dps == 90.0     # the motor's own limit
    assert fast.max_accel_dps2 == 180.0 and calm.pan_speed_dps <= calm.max_speed_dps
    assert preset_motion("normal", normal, (90.0, 180.0)) == normal
    assert preset_motion("fast", normal, (500.0, 900.0)).max_speed_dps <= 180.0          # hardware limit


def test_speed_and_away_hours_through_the_running_policy(harness):
    h = harness()
    rep = h.call(op="speed", speed_preset="calm")
    assert rep.ok and rep.state.speed_preset == "calm" and "speed" in rep.ops
    h.run(0.5)                                                          # every peer's heartbeat is in
    rep = h.call(op="turn", angle_deg=40.0)
    assert rep.ok, rep.error
    assert h.run_until(lambda h: h.goal.mode == "move", 1.0)
    assert h.goal.max_speed_dps <= 45.0 and h.goal.max_accel_dps2 <= 90.0   # calm: at most half of normal
    bad = h.call(op="speed", speed_preset="ludicrous")
    assert not bad.ok and "speed_preset must be one of calm, normal, fast" in bad.error
    rep = h.call(op="away_hours", away_hours="22:00-06:30")
    assert rep.ok and rep.state.away_hours == "22:00-06:30"
    bad = h.call(op="away_hours", away_hours="7-9")
    assert not bad.ok and "hours must look like" in bad.error and h.call(op="get_state").state.away_hours == "22:00-06:30"
    assert h.call(op="away_hours", away_hours="").state.away_hours == ""
    kiosk = h.call(op="speed", speed_preset="fast", principal="web_kiosk")
    assert not kiosk.ok and kiosk.error.startswith("denied: web_kiosk via uid")


def test_app_tokens_grant_their_ops_and_are_kept_only_as_hashes(harness, tmp_path):
    access = tmp_path / "access.toml"
    access.write_text('same_uid = ["get_state", "tokens", "turn", "stop"]\nothers = []\n')
    h = harness(f'[policy]\naccess_file = "{access}"\n')
    h.run(0.5)
    assert not h.call(op="follow", enabled=False).ok                    # this uid may not
    too_much = h.call(op="tokens", token_action="create", token_name="kitchen", token_ops=["follow", "set_rom"])
    assert not too_much.ok and "may not carry follow, set_rom" in too_much.error   # only what its creator may
    assert not h.call(op="tokens", token_action="create", token_name="k", token_ops=["tokens"]).ok   # ... never tokens
    made = h.call(op="tokens", token_action="create", token_name="kitchen", token_ops=["stop", "turn"])
    assert made.ok and made.secret.startswith("swv_") and [t.name for t in made.tokens] == ["kitchen"]
    stored = (h.state_file.parent / "tokens.json").read_text()
    assert made.secret not in stored
    listed = h.call(op="tokens")
    assert listed.ok and listed.secret == "" and listed.tokens[0].ops == ["stop", "turn"]
    # Another narrower caller: with the token it may what the token says (a principal still narrows it).
    access.write_text('same_uid = ["get_state"]\nothers = []\n')
    h.run(0.2)
    assert not h.call(op="stop").ok
    assert h.call(op="stop", token=made.secret).ok
    assert not h.call(op="stop", token=made.secret, principal="web_kiosk").ok
    bad = h.call(op="stop", token="swv_forged")
    assert not bad.ok and bad.error == "denied: unknown or revoked token"
    access.write_text('same_uid = ["get_state", "tokens"]\nothers = []\n')
    h.run(0.2)
    assert h.call(op="tokens", token_action="revoke", token_name="kitchen").ok
    assert not h.call(op="stop", token=made.secret).ok


def test_speed_preset_and_away_hours_survive_a_restart(harness):
    h = harness()
    assert h.call(op="speed", speed_preset="fast").ok
    assert h.call(op="away_hours", away_hours="09:00-17:30").ok
    assert h.stop() == 0
    h2 = harness()
    st = h2.call(op="get_state").state
    assert (st.speed_preset, st.away_hours) == ("fast", "09:00-17:30")
