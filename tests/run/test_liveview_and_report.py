"""The live view of `swivel run` and its run report, fed the real bus messages a run records."""
from __future__ import annotations

import io
import re

from device.bus.schemas import (DoaCandidate, DoaEstimate, MotorState, People, Person, PolicyState, SimPerson,
                                SimWorld, WakeEvent)
from device.run.liveview import LiveView
from device.run.report import event_figures, motion_figures, pipeline_figures, summary_lines
from device.sim.scenario import load_scenario

S = 1_000_000_000


class Recorded:
    """What `Recorder` keeps: the last message of each topic (the view reads only that)."""

    def __init__(self, **last):
        self.last = {k.replace("_", "."): v for k, v in last.items()}


class Terminal(io.StringIO):
    def isatty(self):
        return True


def busy_room(policy: PolicyState) -> Recorded:
    return Recorded(
        sim_world=SimWorld(t_ns=1, heading_deg=30.0, scenario_time_s=12.5,
                           people=[SimPerson(id=1, azimuth_world_deg=120.0, distance_m=1.8, speaking=True)]),
        motor_state=MotorState(t_ns=1, heading_deg=30.0, velocity_dps=42.0, moving=True),
        ssl_doa=DoaEstimate(t_ns=1, start_ns=0, end_ns=1, azimuth_deg=89.0, heading_deg=31.0, confidence=0.9,
                            ambiguous=False, candidates=[DoaCandidate(azimuth_deg=89.0, power=1.0)]),
        vision_people=People(t_ns=1, fps=15.0, people=[Person(track_id=4, bearing_deg=-5.0, elevation_deg=2.0,
                                                              distance_m=1.7, engagement=0.9, confidence=0.95)]),
        policy_state=policy)


def test_view_shows_heading_people_sound_zone_decision_and_holds():
    policy = PolicyState(t_ns=1, mode="turning", zone="motion", decision="turn to 120.0",
                         reason="wake word from 120 deg", holds=["hand_turn_recent"],
                         hold_reasons=["turned by hand 3 s ago: respecting it for 27 s more"])
    text = "\n".join(LiveView(load_scenario("default"), out=io.StringIO()).lines(busy_room(policy), 12.5))
    assert "t =   12.5 s" in text
    assert "heading    30.0 deg   speed   42.0 deg/s   moving" in text
    assert "person 1:   120.0 deg  1.8 m  speaking" in text
    # The device-frame estimate and its world bearing with the heading at capture: 89 + 31 = 120.
    assert "+89.0 deg from the screen =   120.0 deg world  confidence 0.90  (wake)" in text
    assert "#4 -5 deg 1.7 m eng 0.9" in text and "@ 15 fps" in text
    assert "policy turning  zone motion  decision: turn to 120.0" in text
    assert "why: wake word from 120 deg" in text
    assert "hold hand_turn_recent: turned by hand 3 s ago" in text
    strip = next(line for line in text.splitlines() if "^ screen" in line)
    assert strip.index("^") < strip.index("S")            # the screen (30) left of the talker (120) on -180..180


def test_redraw_clears_what_a_longer_frame_left_behind():
    term = Terminal()
    view = LiveView(load_scenario("default"), out=term)
    long = PolicyState(t_ns=1, mode="hold", decision="hold", reason="x" * 90, holds=["vision_unavailable", "motor_fault"],
                       hold_reasons=["no word from vision yet: shutter state unknown", "no word from the motor yet"])
    view.draw(busy_room(long), 1.0)
    view._next = 0.0
    view.draw(busy_room(PolicyState(t_ns=1, mode="idle", decision="nobody to face")), 2.0)
    last_frame = term.getvalue().rsplit("\x1b[H", 1)[1]
    rows = last_frame.split("\n")
    assert all(r.endswith("\x1b[K") for r in rows[:-1])    # every row cleared to its end
    assert "motor_fault" not in last_frame and "holds: none" in last_frame
    assert last_frame.endswith("\x1b[J")                 # and everything below the frame


def test_report_figures_from_a_recorded_turn():
    # A wake word ends at 2 s; the engine says so at 2.15 s, ssl at 2.18 s, the goal at 2.19 s, motion at 2.2 s.
    speech = [{"person": 1, "text": "swivel, hello", "wake": True, "start_s": 1.0, "end_s": 2.0,
               "start_ns": 1 * S, "end_ns": 2 * S, "azimuth_deg": 90.0, "distance_m": 1.5}]
    states = [MotorState(t_ns=int(t * S), heading_deg=h, velocity_dps=v, moving=m)
              for t, h, v, m in [(0.0, 0.0, 0.0, False), (2.2, 0.0, 0.0, True), (2.7, 10.0, 40.0, True),
                                 (3.2, 45.0, 80.0, True), (4.0, 85.0, 20.0, True), (4.4, 90.0, 0.0, False),
                                 (5.0, 90.0, 0.0, False)]]
    from device.bus.schemas import MotorGoal
    timeline = {"wake.event": [WakeEvent(t_ns=int(2.15 * S), start_ns=1 * S, end_ns=2 * S, keyword="swivel",
                                         score=1.0, engine="test")],
                "ssl.doa": [DoaEstimate(t_ns=2 * S, start_ns=1 * S, end_ns=2 * S, azimuth_deg=90.0, confidence=0.9,
                                        ambiguous=False, sent_ns=int(2.18 * S))],
                "motor.goal": [MotorGoal(t_ns=int(2.19 * S), seq=3, mode="move", target_deg=90.0, max_speed_dps=80.0,
                                         max_accel_dps2=160.0, rom_min_deg=-150.0, rom_max_deg=150.0)],
                "motor.state": states}
    stages = pipeline_figures(speech[0], timeline)
    assert stages == {"wake_event_s": 0.15, "ssl_doa_s": 0.18, "move_goal_s": 0.19, "motion_s": 0.2}
    ev = event_figures(speech, states, [], run_end_ns=5 * S)[0]
    assert ev["motion_start_after_end_s"] == 0.2 and ev["moves"] == 1
    assert ev["faced_after_end_s"] == 2.4 and ev["final_error_deg"] == 0.0
    motion = motion_figures(states)
    assert motion["moves"] == 1 and motion["peak_speed_dps"] == 80.0
    assert 0 < motion["peak_accel_dps2"] <= 80.0 / 0.5 + 1e-6
    lines = summary_lines({"scenario": "t", "duration_s": 5, "moves": 1, "peak_speed_dps": 80.0, "peak_accel_dps2": 80.0,
                           "unnecessary_moves": 0, "events": [ev], "moves_per_minute": 12.0,
                           "time_to_face_s": {"median": 2.4}, "alerts": [], "holds_seen": []})
    assert any(re.search(r"motion start 0\.2 s, faced 2\.4 s", line) for line in lines)
    assert any("median time to face: 2.40 s" in line for line in lines)
