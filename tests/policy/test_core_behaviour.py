"""The pure policy core in simulated time: zones, fusion of sound and sight, engagement, groups, ROM, away mode."""
from __future__ import annotations

import pytest

from device.policy.config import ZonesConfig
from device.policy.core import CommandError
from device.policy.zones import DEAD, HOLDING, MOTION, OUTSIDE, classify, edges

from .conftest import Someone


def test_zone_widths_follow_distance():
    cfg = ZonesConfig()
    near, far = edges(cfg, 0.8), edges(cfg, 3.5)
    assert near.dead_deg > far.dead_deg                  # a step sideways close up is a bigger angle
    assert near.motion_deg < far.motion_deg              # and a close person reaches the view's edge sooner
    for e in (near, far, edges(cfg, None)):
        assert cfg.dead_min_deg <= e.dead_deg <= cfg.dead_max_deg
        assert e.dead_deg < e.motion_deg <= e.half_view_deg == 33.0
        assert classify(0.5 * e.dead_deg, e) == DEAD
        assert classify(-(e.dead_deg + e.motion_deg) / 2, e) == HOLDING
        assert classify(e.motion_deg + 0.1, e) == MOTION
        assert classify(40.0, e) == OUTSIDE


def test_dead_zone_never_moves(sim):
    s = sim()
    s.room.people[1] = Someone(6.0)
    s.run(8.0)
    assert s.moves() == []
    assert s.state.zone == "dead" and s.state.mode == "tracking"


def test_holding_zone_waits_for_the_dwell_then_faces_the_person(sim):
    s = sim("[policy.zones]\ndwell_s = 2.0")
    s.room.people[1] = Someone(0.0)
    s.run(1.0)
    s.room.people[1].world_deg = 18.0                    # steps aside and stays there
    s.run(1.5)
    assert s.moves() == [] and s.state.zone == "holding"
    assert s.run_until(lambda s: s.moves(), 1.5)
    assert s.moves()[0].target_deg == pytest.approx(18.0, abs=0.5)


def test_holding_zone_restarts_the_dwell_while_the_person_keeps_moving(sim):
    s = sim("[policy.zones]\ndwell_s = 2.0")
    s.room.people[1] = Someone(12.0)
    for k in range(6):                                   # shifts by 7 deg every second: never settled
        s.run(1.0)
        s.room.people[1].world_deg = 12.0 + 7.0 * ((k + 1) % 2)
    assert s.moves() == []


def test_motion_zone_moves_at_once(sim):
    s = sim()
    s.room.people[1] = Someone(0.0)
    s.run(1.0)
    s.room.people[1].world_deg = 28.0
    assert s.run_until(lambda s: s.moves(), 0.3)
    assert s.moves()[0].target_deg == pytest.approx(28.0, abs=0.5)
    assert s.moves()[0].source == "follow"


def test_sound_behind_turns_there_and_vision_gives_the_precise_bearing(sim):
    s = sim()
    s.room.people[7] = Someone(118.0, engagement=0.2)    # not facing us yet, out of view
    s.run(1.0)
    s.hear(110.0)                                        # sound is 8 deg off
    s.step()
    assert s.moves()[0].target_deg == pytest.approx(110.0, abs=0.5)
    assert s.moves()[0].source == "sound"
    assert s.run_until(lambda s: s.room.heading == pytest.approx(118.0, abs=1.0) and not s.room.moving, 5.0)
    assert s.policy.fusion.target_track == 7


def test_sound_outside_the_range_of_motion_is_ignored_and_reported(sim):
    s = sim("[policy.rom]\nmin_deg = -90.0\nmax_deg = 90.0")
    s.run(1.0)
    s.hear(160.0)
    s.step()
    assert "outside_rom" in s.state.holds
    s.run(2.0)
    assert s.moves() == []


def test_ambiguous_sound_holds_unless_vision_settles_it(sim):
    s = sim()
    s.run(1.0)
    s.hear(100.0, others=(-100.0,))                      # two strong, far-apart directions
    s.step()
    assert "ambiguous_sound" in s.state.holds
    assert "cannot tell" in s.state.hold_reasons[s.state.holds.index("ambiguous_sound")]
    s.run(2.0)
    assert s.moves() == []
    # Same sound when a person stands at one of the two directions (in view): that one it is.
    s2 = sim()
    s2.room.people[3] = Someone(25.0, engagement=0.3)
    s2.run(1.0)
    s2.hear(25.0, others=(-150.0,))
    s2.step()
    assert "ambiguous_sound" not in s2.state.holds
    assert s2.moves() and s2.moves()[0].target_deg == pytest.approx(25.0, abs=0.5)


def test_ssl_ambiguous_flag_alone_holds(sim):
    s = sim()
    s.run(1.0)
    s.hear(60.0, ambiguous=True)
    s.step()
    assert "ambiguous_sound" in s.state.holds
    s.run(1.0)
    assert s.moves() == []


def test_ambiguous_wake_word_with_no_confidence_still_says_why(sim):
    # ssl gives an ambiguous estimate a confidence near 0: the hold must name the ambiguity, not "too weak".
    s = sim()
    s.run(1.0)
    s.hear(100.0, confidence=0.0, ambiguous=True, others=(-80.0,))
    s.step()
    assert "ambiguous_sound" in s.state.holds
    s.run(1.0)
    assert s.moves() == []


def test_wake_word_that_ssl_found_only_outside_the_range_is_reported(sim):
    # ssl knows the range too and answers "no target" (azimuth None) with its candidates: say why.
    s = sim("[policy.rom]\nmin_deg = -90.0\nmax_deg = 90.0")
    s.run(1.0)
    msg = s.room.doa(s.t, 150.0)
    msg.azimuth_deg, msg.confidence = None, 0.0
    s.policy.on_doa(msg, s.t)
    s.step()
    assert "outside_rom" in s.state.holds
    assert "150 deg is outside the range of motion" in s.state.hold_reasons[s.state.holds.index("outside_rom")]
    plain = s.room.doa(s.t, 150.0, trigger="vad")        # plain speech from there: ignored silently
    plain.azimuth_deg = None
    s.run(4.0)
    s.policy.on_doa(plain, s.t)
    s.step()
    assert "outside_rom" not in s.state.holds and s.moves() == []


def test_sound_with_nobody_behind_it_loses_weight(sim):
    s = sim()
    s.room.people[1] = Someone(0.0)
    s.run(1.0)
    s.hear(100.0)                                        # the TV: out of view, so we look once
    s.run(6.0)
    # Nobody there: a false alarm, so back to the person we were with.
    assert [g.target_deg for g in s.moves()] == [100.0, 0.0]
    assert s.room.heading == pytest.approx(0.0, abs=1.0)
    assert s.policy.fusion.credibility.get(100.0, s.t) < 0.3
    s.hear(101.0)                                        # the TV again: not worth a turn now
    s.run(3.0)
    assert len(s.moves()) == 2
    assert "nobody was seen there" in s.policy.fusion.note


def test_a_talker_sitting_still_is_not_a_false_alarm(sim):
    """The device turns away from one person to a wake word; the talker there sits still, so vision calls
    them static for a few seconds (no micro-motion seen yet). That is no false alarm: the device stays
    with the talker instead of turning back to whoever it left."""
    s = sim()
    s.room.people[1] = Someone(0.0)
    s.run(1.0)
    s.room.people[2] = Someone(100.0, still_until_s=s.t / 1e9 + 4.5)
    s.hear(100.0)
    s.run(8.0)
    assert s.moves() and all(g.target_deg == pytest.approx(100.0, abs=2.0) for g in s.moves()), s.moves()
    assert s.room.heading == pytest.approx(100.0, abs=2.0)
    assert s.policy.fusion.target_track == 2


def test_several_engaged_people_in_view_are_framed_together(sim):
    s = sim()
    s.room.people[1] = Someone(14.0)
    s.room.people[2] = Someone(31.0)
    s.room.people[3] = Someone(-25.0, engagement=0.1)    # not facing the device: not part of the group
    s.run(4.0)
    assert s.moves(), s.state
    assert s.moves()[-1].target_deg == pytest.approx((14.0 + 31.0) / 2, abs=1.0)
    assert s.policy.fusion._last_aim.tracks == (1, 2)


def test_engagement_picks_whoever_spoke_last(sim):
    s = sim()
    s.room.people[1] = Someone(-30.0)
    s.room.people[2] = Someone(30.0)                     # 60 deg apart: they do not fit in view together
    s.run(1.0)
    s.hear(30.0)
    s.run(3.0)
    assert s.policy.fusion.target_track == 2 and s.room.heading == pytest.approx(30.0, abs=1.0)
    s.hear(-30.0)                                        # now person 1 speaks (out of view from here)
    s.run(4.0)
    assert s.policy.fusion.target_track == 1 and s.room.heading == pytest.approx(-30.0, abs=1.0)


def test_api_turn_pan_and_rom(sim):
    s = sim("[policy.rom]\nmin_deg = -90.0\nmax_deg = 90.0")
    s.run(1.0)
    with pytest.raises(CommandError, match="outside the range of motion"):
        s.policy.cmd_turn(120.0, s.t)
    s.policy.cmd_turn(-45.0, s.t)
    s.run(3.0)
    assert s.room.heading == pytest.approx(-45.0, abs=1.0) and s.moves()[-1].source == "api"
    s.policy.cmd_pan(s.t)
    s.run(16.0)
    targets = [g.target_deg for g in s.moves() if g.source == "pan"]
    assert targets[:3] == [-90.0, 90.0, -45.0]
    n = len(s.goals)
    s.policy.cmd_set_rom(-30.0, 30.0)
    s.run(2.0)                                           # outside the new range: back to its nearest end
    assert s.room.heading == pytest.approx(-30.0, abs=1.0)
    assert len(s.goals) > n and all(-30.0 <= g.target_deg <= 30.0 and g.rom_min_deg == -30.0 for g in s.goals[n:])


def test_rom_set_by_hand(sim):
    s = sim()
    s.run(1.0)
    s.policy.cmd_rom_step("start", s.t)
    s.step()
    assert s.goals[-1].mode == "release"                # the motor lets go so a hand can turn it
    assert s.state.mode == "rom_setup"
    s.room.manual = True
    for h in list(range(0, -71, -5)) + list(range(-70, 86, 5)):
        s.room.heading = float(h)
        s.step()
    s.room.manual = False
    s.step()
    s.policy.cmd_rom_step("done", s.t)
    s.step()
    assert (s.state.rom_min_deg, s.state.rom_max_deg, s.state.rom_source) == (-70.0, 85.0, "hand")
    assert s.goals[-1].mode == "hold"


def test_away_mode_pans_and_alerts_with_time_and_bearing_only(sim):
    s = sim("[policy.away]\nfirst_pan_s = 1.0\nend_dwell_s = 0.5\n[policy.motion]\npan_speed_dps = 90.0")
    s.run(0.5)
    s.policy.cmd_away(True, s.t)
    s.run(2.0)
    assert s.moves() and s.moves()[0].source == "away"
    s.room.people[9] = Someone(-140.0, engagement=0.0)   # an intruder, only seen when the pan gets there
    assert s.run_until(lambda s: s.alerts, 8.0)
    alert = s.alerts[0]
    assert alert.bearing_deg == pytest.approx(-140.0, abs=0.5) and alert.track_id == 9
    assert set(type(alert).__struct_fields__) == {"v", "t_ns", "bearing_deg", "track_id", "kind"}
    s.run(3.0)
    assert len(s.alerts) == 1                            # the same person does not alert again at once


def test_away_pans_keep_to_the_configured_hours(sim):
    s = sim('[policy.away]\nfirst_pan_s = 1.0\nend_dwell_s = 0.5\nhours = "22:00-06:30"')
    clock = {"minute": 21 * 60 + 50}                     # 21:50, before the window opens
    s.policy.away.local_minute = lambda: clock["minute"]
    s.policy.cmd_away(True, s.t)
    s.run(3.0)
    assert s.moves() == []                               # due, but outside the hours
    clock["minute"] = 2 * 60                             # 02:00: inside a window that spans midnight
    s.run(1.0)
    assert s.moves() and s.moves()[0].source == "away"


def test_speech_without_wake_word_marks_the_speaker_but_does_not_turn_away(sim):
    s = sim()
    s.room.people[1] = Someone(-25.0)
    s.room.people[2] = Someone(25.0)                     # 50 deg apart: too far apart to frame together
    s.room.people[3] = Someone(150.0)                    # someone chatting behind the device
    s.run(1.0)
    s.hear(150.0, trigger="vad")
    s.run(2.0)
    assert all(g.target_deg != 150.0 for g in s.moves())
    assert "no wake word" in s.policy.fusion.note
    s.hear(25.0, trigger="vad")                          # person 2 talks: now they spoke last
    s.run(4.0)
    assert s.policy.fusion.target_track == 2


def test_api_stop_then_autonomy_resumes_after_the_respect_time(sim):
    s = sim("[policy.rules]\napi_respect_s = 2.0")
    s.run(0.5)
    s.hear(120.0)
    s.run(0.4)
    assert s.room.moving
    s.policy.cmd_stop(s.t)
    s.run(0.2)
    assert s.goals[-1].mode == "stop" and not s.room.moving
    stopped_at = s.room.heading
    s.room.people[1] = Someone(stopped_at + 28.0)        # someone at the edge: ignored while the app's stop holds
    s.run(1.0)
    assert s.room.heading == stopped_at and s.state.decision == "keeping the direction an app chose"
    assert s.run_until(lambda s: s.goals[-1].mode == "move", 2.0)
    assert s.goals[-1].source == "follow"


def test_pan_gives_up_a_waypoint_the_motor_cannot_reach(sim):
    s = sim("[policy.rom]\nmin_deg = -60.0\nmax_deg = 60.0\n[policy.motion]\npan_speed_dps = 60.0")
    s.room.limit_at, s.room.report_seq = 30.0, False     # stops short of the far end and never says so
    s.run(0.5)
    s.policy.cmd_pan(s.t)
    s.run(4.0)
    assert s.policy.task is not None and s.room.heading == 30.0
    s.run(10.0)
    assert s.policy.task is None                         # the pan finished instead of waiting forever
    assert [g.target_deg for g in s.moves()] == [-60.0, 60.0, 0.0]
    assert s.room.heading == 0.0


def test_heading_history_interpolates_and_survives_a_restarted_clock():
    from device.policy.angles import HeadingHistory
    hh = HeadingHistory(keep_s=1.0)
    assert hh.at(5) is None
    for i in range(30):
        hh.add(i * 100_000_000, i * 4.0)                 # 40 deg/s
    assert hh.at(2_250_000_000) == pytest.approx(90.0)
    assert hh.at(0) == pytest.approx(4 * 19)             # older than kept: the oldest sample
    hh.add(5, 3.0)                                       # time went backwards: a restarted motor
    assert hh.latest == 3.0 and hh.at(10**12) == 3.0


def test_sound_heard_while_turning_uses_the_heading_at_capture(sim):
    s = sim("[policy.rules]\napi_respect_s = 0.0")
    s.run(0.5)
    s.policy.cmd_turn(90.0, s.t)
    s.run_until(lambda s: s.room.heading >= 40.0, 2.0)
    captured_t, captured_heading = s.t, s.room.heading
    s.run_until(lambda s: s.room.heading >= 85.0, 2.0)  # the estimate arrives late, the device turned on
    from device.bus.schemas import DoaEstimate
    s.policy.on_doa(DoaEstimate(t_ns=s.t, start_ns=captured_t - 10_000_000, end_ns=captured_t + 10_000_000,
                                azimuth_deg=-50.0 - captured_heading, confidence=0.9, ambiguous=False),
                    s.t)
    # The talker is at world -50: converted with today's heading (~88) it would look like -50 + 45.
    s.run(3.0)
    assert s.moves()[-1].source == "sound"
    assert s.moves()[-1].target_deg == pytest.approx(-50.0, abs=1.0)


def test_an_unconfirmed_sound_fades_with_time(sim):
    s = sim()
    s.room.shutter_closed = True                         # cannot turn now ...
    s.run(0.5)
    s.hear(120.0, confidence=0.6)
    s.run(2.0)
    assert s.policy.fusion.cue is not None
    s.run(3.0)                                           # 0.6 x exp(-5/5) = 0.22 < 0.25: it no longer counts
    assert s.policy.fusion.cue is None and "faded" in s.policy.fusion.note
    s.room.shutter_closed = False                        # ... and once it could, the old sound is not chased
    s.run(2.0)
    assert s.moves() == []


def test_speech_estimate_after_a_wake_word_does_not_cancel_the_turn(sim):
    """ssl reports a wake-word estimate and then a plain-speech one for the same utterance."""
    s = sim()
    s.room.people[1] = Someone(-60.0)
    s.room.people[2] = Someone(110.0)
    s.room.heading = -60.0
    s.run(1.0)
    s.hear(109.0)
    s.run(0.3)
    s.hear(108.0, trigger="vad")
    s.run(4.0)
    assert s.room.heading == pytest.approx(110.0, abs=1.0)
    assert [g.target_deg for g in s.moves()][0] == 109.0 and len(s.moves()) <= 2


def test_ambiguous_chatter_without_a_wake_word_holds_nothing(sim):
    s = sim()
    s.room.people[1] = Someone(0.0)
    s.run(0.5)
    s.hear(-73.0, others=(100.0,), trigger="vad")        # the TV, smeared over two directions
    s.step()
    assert "ambiguous_sound" not in s.state.holds
    s.hear(-73.0, others=(100.0,))                       # the same with a wake word does hold
    s.step()
    assert s.state.hold_reasons[s.state.holds.index("ambiguous_sound")] == \
        "sound from -73 or 100 deg: cannot tell which"


def test_a_rival_outside_the_range_does_not_make_a_sound_ambiguous(sim):
    s = sim("[policy.rom]\nmin_deg = -90.0\nmax_deg = 90.0")
    s.run(0.5)
    s.hear(60.0, others=(170.0,), ambiguous=True)        # the rival is the wall behind: outside the range
    s.step()
    assert "ambiguous_sound" not in s.state.holds
    assert s.moves() and s.moves()[-1].target_deg == 60.0
