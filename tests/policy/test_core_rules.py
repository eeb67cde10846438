"""No-move rules in the pure core: each one holds motion, is reported by name and reason, and ends when it should."""
from __future__ import annotations

import pytest

from device.policy.core import CommandError

from .conftest import Someone


def _reason(state, name):
    return state.hold_reasons[state.holds.index(name)]


def _person_at_the_edge(s):
    s.room.people[1] = Someone(0.0)
    s.run(1.0)
    s.room.people[1].world_deg = 29.0                    # motion zone: would move at once


def test_shutter_closed_holds_everything(sim):
    s = sim()
    s.room.shutter_closed = True
    _person_at_the_edge(s)
    s.hear(29.0)
    s.run(3.0)
    assert s.moves() == []
    assert s.state.holds[0] == "shutter_closed" and s.state.shutter_closed
    assert _reason(s.state, "shutter_closed") == "camera shutter closed"
    with pytest.raises(CommandError, match="shutter_closed"):
        s.policy.cmd_turn(10.0, s.t)
    with pytest.raises(CommandError, match="shutter_closed"):
        s.policy.cmd_pan(s.t)
    s.room.shutter_closed = False                        # opened: the person at the edge is followed
    assert s.run_until(lambda s: s.moves(), 1.0)
    assert "shutter_closed" not in s.state.holds


def test_shutter_closing_mid_move_stops_the_turn(sim):
    s = sim()
    s.room.people[1] = Someone(0.0)
    s.run(1.0)
    s.hear(150.0)                                        # a long turn begins
    s.run(0.5)
    assert s.room.moving
    s.room.shutter_closed = True
    s.run(0.3)
    assert s.goals[-1].mode == "stop" and not s.room.moving


def test_mute_holds(sim):
    s = sim()
    s.room.mute = True
    _person_at_the_edge(s)
    s.run(2.0)
    assert s.moves() == [] and "mute" in s.state.holds and s.state.muted
    s.room.mute = False
    assert s.run_until(lambda s: s.moves(), 1.0)


def test_motor_fault_holds(sim):
    s = sim()
    s.room.fault = "driver overtemperature"
    _person_at_the_edge(s)
    s.run(2.0)
    assert s.moves() == []
    assert _reason(s.state, "motor_fault") == "motor fault: driver overtemperature"


def test_vision_silent_means_shutter_state_unknown(sim):
    s = sim()
    _person_at_the_edge(s)
    s.vision_alive = False
    s.run(2.5)
    s.hear(120.0)                                        # even sound does not move it: the shutter may be closed
    s.run(3.0)
    assert "vision_unavailable" in s.state.holds
    assert "shutter state unknown" in _reason(s.state, "vision_unavailable")
    assert all(g.target_deg != 120.0 for g in s.moves())


def test_camera_missing_is_vision_unavailable(sim):
    s = sim()
    s.room.camera_blind = "no camera"
    s.run(1.0)
    assert _reason(s.state, "vision_unavailable") == "camera blind: no camera"


def test_hand_turn_yields_then_respects_the_choice(sim):
    s = sim("[policy.rules]\nhand_respect_s = 5.0")
    s.room.people[1] = Someone(0.0)
    s.run(1.0)
    s.room.manual = True
    s.step()
    assert s.goals[-1].mode == "release" and "hand_turn" in s.state.holds and s.state.mode == "manual_hold"
    for h in range(0, 61, 5):                            # the user turns it to 60 deg
        s.room.heading = float(h)
        s.step()
    s.room.manual = False
    s.run(3.0)                                           # the person is now out of view at 0 ... and speaks
    s.hear(0.0)
    s.run(1.0)
    assert "hand_turn_recent" in s.state.holds
    assert s.goals[-1].mode == "hold" and s.room.heading == 60.0
    s.run(2.0)                                           # respect time over: a new sound is followed again
    s.hear(0.0)
    assert s.run_until(lambda s: s.room.heading < 1.0, 3.0)
    assert "hand_turn_recent" not in s.state.holds


def test_api_turn_is_allowed_after_a_hand_turn_but_not_during_it(sim):
    s = sim()
    s.run(0.5)
    s.room.manual = True
    s.step()
    with pytest.raises(CommandError, match="hand_turn"):
        s.policy.cmd_turn(20.0, s.t)
    s.room.manual = False
    s.step()
    s.policy.cmd_turn(20.0, s.t)                         # the app's explicit choice beats the respect time
    assert s.run_until(lambda s: abs(s.room.heading - 20.0) < 1.0, 2.0)


def test_stall_blocks_that_side_until_cleared(sim):
    s = sim()
    s.room.obstacle_at = 40.0                            # a cup at 40 deg
    s.run(0.5)
    s.policy.cmd_turn(80.0, s.t)
    s.run(2.0)
    assert s.room.stalled and s.room.heading == 40.0
    assert s.goals[-1].mode == "stop" and "stall" in s.state.holds
    assert "motor_fault" not in s.state.holds            # the motor's "stall: ..." fault is this rule's
    assert "not driving that way again" in _reason(s.state, "stall")
    with pytest.raises(CommandError, match="stall"):
        s.policy.cmd_turn(60.0, s.t)
    s.room.people[2] = Someone(70.0)                     # someone beyond the obstacle speaks: not followed
    s.hear(70.0)
    s.run(2.0)
    assert s.room.heading == 40.0
    assert s.room.stalled                                # the motor still reports it ...
    s.policy.cmd_turn(0.0, s.t)                          # ... but the other way is fine
    assert s.run_until(lambda s: abs(s.room.heading) < 1.0, 2.0)
    assert not s.room.stalled and "stall" in s.state.holds   # the flag went with the new move; the memory stays
    s.room.manual = True                                 # a hand turn clears it
    s.step()
    s.room.manual = False
    s.step()
    assert "stall" not in s.state.holds


def test_outside_rom_target_person_is_not_chased(sim):
    s = sim("[policy.rom]\nmin_deg = -40.0\nmax_deg = 40.0")
    s.room.people[1] = Someone(30.0)
    s.run(3.0)
    assert s.moves()[-1].target_deg == pytest.approx(30.0, abs=0.5)
    s.room.people[1].world_deg = 62.0                    # just past the end: face the end, keep them in view
    s.run(1.0)
    assert s.moves()[-1].target_deg == 40.0
    s.room.people[1].world_deg = 150.0                   # gone far outside: not chased
    s.hear(150.0)
    s.run(2.0)
    assert s.moves()[-1].target_deg == 40.0
    assert "outside_rom" in s.state.holds


def test_goals_carry_sequence_numbers_and_calm_limits(sim):
    s = sim()
    s.room.people[1] = Someone(0.0)
    s.run(0.5)
    s.hear(90.0)
    s.run(3.0)
    seqs = [g.seq for g in s.goals]
    assert seqs == sorted(set(seqs)) and len(seqs) >= 2
    for g in s.goals:
        assert g.max_speed_dps <= 90.0 and g.max_accel_dps2 <= 180.0     # calm: half the hardware's limits


@pytest.mark.parametrize("reason", ["shutter", "shutter closed"])
def test_both_spellings_of_the_shutter_reason_hold(sim, reason):
    from device.bus.schemas import People
    s = sim()
    s.run(0.5)
    s.vision_alive = False
    s.policy.on_people(People(t_ns=s.t, blind=True, blind_reason=reason), s.t)
    s.step()
    assert s.state.holds[0] == "shutter_closed" and s.state.shutter_closed
