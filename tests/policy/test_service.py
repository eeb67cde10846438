"""The real policy process on real sockets, one test per zone behaviour and no-move rule, several people, away mode."""
# This test process plays motor, vision, ssl and the world; the policy under test is its own process.

from __future__ import annotations

import time

import pytest

from .conftest import Someone


def _reason(state, name):
    return state.hold_reasons[state.holds.index(name)]


def _holds_now(h, name, seconds=3.0):
    return h.run_until(lambda h: h.state is not None and name in h.state.holds, seconds)


def _at_the_edge(h):
    """Someone in view, then at the edge of the view: the motion zone would turn at once."""
    h.room.people[1] = Someone(0.0)
    h.run(0.5)
    h.room.people[1].world_deg = 28.0


# ---- zones --------------------------------------------------------------------------------------

def test_dead_zone_person_shifting_a_little_gets_no_move(harness):
    h = harness()
    h.room.people[1] = Someone(4.0)
    h.run(0.8)
    h.room.people[1].world_deg = -5.0
    h.run(1.5)
    assert h.moves() == []
    assert h.state.zone == "dead" and h.state.mode == "tracking"


def test_holding_zone_moves_only_after_the_dwell(harness):
    h = harness()                                        # dwell_s = 1.5 in the test config
    h.room.people[1] = Someone(0.0)
    h.run(0.5)
    h.room.people[1].world_deg = 18.0
    settled_at = time.monotonic()
    assert h.run_until(lambda h: h.state.zone == "holding", 2.0)
    assert h.run_until(lambda h: h.moves(), 3.0), h.logs()
    waited = time.monotonic() - settled_at
    assert waited >= 1.4, waited
    assert h.moves()[0].target_deg == pytest.approx(18.0, abs=0.5)


def test_motion_zone_moves_now(harness):
    h = harness()
    _at_the_edge(h)
    t0 = time.monotonic()
    assert h.run_until(lambda h: h.moves(), 2.0)
    assert time.monotonic() - t0 < 1.0                  # "now", well before the 1.5 s dwell (slack for busy CI)
    g = h.moves()[0]
    assert g.target_deg == pytest.approx(28.0, abs=0.5) and g.max_speed_dps <= 120.0
    assert h.run_until(lambda h: abs(h.room.heading - 28.0) < 0.5, 2.0)


def test_several_engaged_people_are_framed_together(harness):
    h = harness()
    h.room.people[1] = Someone(14.0)
    h.room.people[2] = Someone(31.0)
    assert h.run_until(lambda h: h.moves(), 3.0)
    assert h.moves()[-1].target_deg == pytest.approx(22.5, abs=1.0)
    assert "between people 1, 2" in h.state.decision or h.run_until(lambda h: "between people 1, 2" in h.state.decision, 1.0)


def test_sound_behind_the_device_is_faced(harness):
    h = harness()
    h.room.people[4] = Someone(-120.0)
    h.run(0.5)
    h.hear(-114.0)
    assert h.run_until(lambda h: h.moves(), 2.0)
    assert h.moves()[0].source == "sound"
    # On arrival vision sees the person and its bearing becomes the target.
    assert h.run_until(lambda h: abs(h.room.heading + 120.0) < 1.0 and not h.room.moving, 4.0), h.moves()


# ---- no-move rules ----------------------------------------------------------------------------------

def test_shutter_closed(harness):
    h = harness()
    h.room.shutter_closed = True
    _at_the_edge(h)
    assert _holds_now(h, "shutter_closed")
    h.run(1.0)
    assert h.moves() == [] and h.state.shutter_closed
    reply = h.call(op="turn", angle_deg=30.0)
    assert not reply.ok and "shutter_closed" in reply.error


def test_ambiguous_sound(harness):
    h = harness()
    h.run(0.3)
    h.hear(100.0, others=(-100.0,))
    assert _holds_now(h, "ambiguous_sound")
    assert "cannot tell which" in _reason(h.state, "ambiguous_sound")
    h.run(1.0)
    assert h.moves() == []


def test_sound_outside_the_range_of_motion(harness):
    h = harness("[policy.rom]\nmin_deg = -60.0\nmax_deg = 60.0\n")
    h.run(0.3)
    h.hear(150.0)
    assert _holds_now(h, "outside_rom")
    assert "outside the range of motion -60..60" in _reason(h.state, "outside_rom")
    h.run(1.0)
    assert h.moves() == []


def test_hand_turn_in_progress_and_recent(harness):
    h = harness()                                        # hand_respect_s = 1.5
    h.room.people[1] = Someone(0.0)
    h.run(0.5)
    h.room.manual = True
    assert _holds_now(h, "hand_turn")
    assert h.goal.mode == "release" and h.state.mode == "manual_hold"
    h.room.heading = 70.0                                # turned by hand
    h.run(0.3)
    h.room.manual = False
    assert _holds_now(h, "hand_turn_recent")
    assert h.goal.mode == "hold"
    h.hear(0.0)                                          # the person calls: respected choice, no move yet
    h.run(0.5)
    assert h.moves() == []
    h.run(1.2)
    h.hear(0.0)                                          # after the respect time it follows again
    assert h.run_until(lambda h: h.moves(), 2.0)
    assert "hand_turn_recent" not in h.state.holds


def test_stall_blocks_that_side(harness):
    h = harness()
    h.room.obstacle_at = 40.0
    h.run(0.3)
    assert h.call(op="turn", angle_deg=80.0).ok
    assert h.run_until(lambda h: h.goal.mode == "stop" and "stall" in h.state.holds, 3.0)
    assert h.room.heading == 40.0 and "motor_fault" not in h.state.holds
    h.run(0.3)
    reply = h.call(op="turn", angle_deg=70.0)
    assert not reply.ok and "stall" in reply.error
    assert h.call(op="turn", angle_deg=0.0).ok           # away from the obstacle is fine
    assert h.run_until(lambda h: abs(h.room.heading) < 0.5, 2.0)


def test_motor_fault(harness):
    h = harness()
    h.room.fault = "driver overtemperature"
    _at_the_edge(h)
    assert _holds_now(h, "motor_fault")
    h.run(0.8)
    assert h.moves() == [] and _reason(h.state, "motor_fault") == "motor fault: driver overtemperature"


def test_mute_button_through_gpio(harness):
    h = harness()
    h.room.mute = True                                   # the world presses it; SimSwitches drives the mock pin
    _at_the_edge(h)
    assert _holds_now(h, "mute")
    h.run(0.8)
    assert h.moves() == [] and h.state.muted
    h.room.mute = False
    assert h.run_until(lambda h: h.moves(), 2.0)


def test_vision_silent_holds(harness):
    h = harness()
    h.room.people[1] = Someone(0.0)
    h.run(0.5)
    h.vision_alive = False
    assert _holds_now(h, "vision_unavailable")
    assert "shutter state unknown" in _reason(h.state, "vision_unavailable")
    h.hear(100.0)
    h.run(1.0)
    assert h.moves() == []


def test_ssl_silent_holds_until_its_heartbeat_is_back(harness):
    h = harness()
    h.room.people[1] = Someone(100.0)                    # someone to turn to, once allowed
    h.run(0.5)
    assert not _holds_now(h, "ssl_unavailable")
    h.ssl_alive = False
    h.run(2.5)                                           # heartbeat_timeout_s = 2 s
    assert _holds_now(h, "ssl_unavailable")
    assert "no heartbeat from ssl" in _reason(h.state, "ssl_unavailable")
    h.hear(100.0)
    h.run(1.0)
    assert h.moves() == []
    h.ssl_alive = True
    h.run(1.0)
    assert not _holds_now(h, "ssl_unavailable")
    h.hear(100.0)
    h.run(2.0)
    assert h.moves() and abs(h.moves()[-1].target_deg - 100.0) < 10.0


# ---- away mode --------------------------------------------------------------------------------

def test_away_mode_pans_and_alerts(harness):
    h = harness()
    h.room.people[9] = Someone(-100.0, engagement=0.0)  # someone only a pan will see
    r = h.motion("away", "on")
    assert r.returncode == 0, r.stderr
    assert h.run_until(lambda h: h.alerts, 6.0), h.logs()
    alert = h.alerts[0]
    assert alert.bearing_deg == pytest.approx(-100.0, abs=1.0) and alert.track_id == 9 and alert.kind == "person"
    assert 0 < alert.t_ns <= time.monotonic_ns()
    assert any(g.source == "away" for g in h.moves()) and h.state.away


def test_mute_button_in_toggle_mode(harness):
    h = harness('[policy]\nmute_mode = "toggle"\n')
    h.room.mute = True                                   # press ...
    h.run(0.3)
    h.room.mute = False                                  # ... and release: muted until the next press
    assert _holds_now(h, "mute")
    h.run(0.5)
    assert h.state.muted
    h.room.mute = True
    h.run(0.3)
    h.room.mute = False
    assert h.run_until(lambda h: not h.state.muted and "mute" not in h.state.holds, 2.0)


def test_goal_is_restamped_while_it_stands(harness):
    """motor.goal keeps arriving fresh (same seq, new time) so the motor's dead man's switch stays armed."""
    h = harness()
    seen = []
    h.sub.subscribe("policy", "motor.goal")
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        h.room.advance(0.02)
        h.pubs["motor"].publish("motor.state", h.room.motor_state(time.monotonic_ns()))
        h.pubs["vision"].publish("vision.people", h.room.people_msg(time.monotonic_ns()))
        for topic, msg in h.sub.poll(20):
            if topic == "motor.goal":
                seen.append((msg.seq, msg.t_ns, time.monotonic_ns()))
    assert len(seen) >= 7 and len({seq for seq, _, _ in seen}) == 1
    assert max(now - t for _, t, now in seen) < 300_000_000     # never older than a few periods
