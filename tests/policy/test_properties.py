"""Hypothesis on random input streams: goals inside the range and limits, none with the shutter closed, no fidgeting."""
from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.policy.config import HW_MAX_ACCEL_DPS2, HW_MAX_SPEED_DPS
from device.policy.core import CommandError

from .conftest import CoreSim, Someone, config

deg = st.floats(-200.0, 200.0, allow_nan=False)
event = st.one_of(
    st.tuples(st.just("person"), st.integers(1, 3), deg, st.floats(0.4, 6.0), st.floats(0.0, 1.0)),
    st.tuples(st.just("leave"), st.integers(1, 3)),
    st.tuples(st.just("sound"), deg, st.floats(0.0, 1.0), st.booleans(), st.none() | deg),
    st.tuples(st.just("shutter"), st.booleans()),
    st.tuples(st.just("mute"), st.booleans()),
    st.tuples(st.just("manual"), st.booleans(), st.floats(-180.0, 180.0)),
    st.tuples(st.just("stall"), st.booleans()),
    st.tuples(st.just("fault"), st.sampled_from([None, "overcurrent"])),
    st.tuples(st.just("vision"), st.booleans()),
    st.tuples(st.just("turn"), deg),
    st.tuples(st.just("pan")),
    st.tuples(st.just("stop")),
    st.tuples(st.just("follow"), st.booleans()),
    st.tuples(st.just("away"), st.booleans()),
    st.tuples(st.just("rom"), deg, deg),
    st.tuples(st.just("rom_step"), st.sampled_from(["start", "min", "max", "done", "cancel"])),
)
stream = st.lists(st.tuples(st.integers(1, 30), event), min_size=1, max_size=60)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def apply(s: CoreSim, ev) -> None:
    kind, *a = ev
    p, r = s.policy, s.room
    try:
        if kind == "person":
            r.people[a[0]] = Someone(a[1], a[2], a[3])
        elif kind == "leave":
            r.people.pop(a[0], None)
        elif kind == "sound":
            s.hear(max(-180.0, min(180.0, a[0])), confidence=a[1], ambiguous=a[2],
                   others=() if a[3] is None else (max(-180.0, min(180.0, a[3])),))
        elif kind == "shutter":
            r.shutter_closed = a[0]
        elif kind == "mute":
            r.mute = a[0]
        elif kind == "manual":
            r.manual = a[0]
            if a[0]:
                r.heading = a[1]                         # a hand may put it anywhere, even outside the range
        elif kind == "stall":
            r.stalled = a[0]
        elif kind == "fault":
            r.fault = a[0]
        elif kind == "vision":
            s.vision_alive = a[0]
        elif kind == "turn":
            p.cmd_turn(a[0], s.t)
        elif kind == "pan":
            p.cmd_pan(s.t)
        elif kind == "stop":
            p.cmd_stop(s.t)
        elif kind == "follow":
            p.cmd_follow(a[0])
        elif kind == "away":
            p.cmd_away(a[0], s.t)
        elif kind == "rom":
            p.cmd_set_rom(a[0], a[1])
        elif kind == "rom_step":
            p.cmd_rom_step(a[0], s.t)
    except CommandError:
        pass                                             # refusing is always allowed


def check_goal(goal, s: CoreSim) -> None:
    cfg, p = s.cfg, s.policy
    prev = s.goals[-2] if len(s.goals) >= 2 else None
    assert prev is None or goal.seq == prev.seq + 1
    assert (goal.rom_min_deg, goal.rom_max_deg) == (p.rom.min_deg, p.rom.max_deg)
    assert goal.rom_min_deg <= goal.target_deg <= goal.rom_max_deg
    assert 0 < goal.max_speed_dps <= cfg.motion.max_speed_dps <= HW_MAX_SPEED_DPS
    assert 0 < goal.max_accel_dps2 <= cfg.motion.max_accel_dps2 <= HW_MAX_ACCEL_DPS2
    if goal.mode == "move":
        pm = p.people_msg
        assert pm is not None and not (pm.blind and pm.blind_reason.startswith("shutter")), "move with the shutter closed"
        assert s.t - p.people_recv_ns <= cfg.rules.vision_timeout_s * 1e9, "move while vision is silent"
        assert not p.muted and not s.room.fault and not s.room.manual


@SETTINGS
@given(stream, st.floats(-150.0, 150.0), st.sampled_from(["", "[policy.motion]\nmax_speed_dps = 175.0\nmax_accel_dps2 = 350.0"]))
def test_random_streams_keep_every_goal_inside_the_range_and_limits(events, heading, extra):
    s = CoreSim(config(extra))
    s.room.heading = heading
    checked = []
    s.on_goal.append(check_goal)
    s.on_goal.append(lambda goal, _s: checked.append(goal.seq))
    for steps, ev in events:
        apply(s, ev)
        for _ in range(steps):
            s.step()
    s.run(2.0)
    # Every new goal the core produced (at least the first, a hold) went through check_goal.
    assert checked and checked == [g.seq for g in s.goals]


@SETTINGS
@given(stream)
def test_no_move_goal_while_the_shutter_is_closed(events):
    s = CoreSim(config())
    s.room.shutter_closed = True
    s.room.people[1] = Someone(25.0)
    moves_before = []
    for steps, ev in events:
        if ev[0] != "shutter":                           # keep it closed whatever else happens
            apply(s, ev)
        for _ in range(steps):
            s.step()
            moves_before = s.moves()
    assert moves_before == []


def reversals(s: CoreSim, starts: list[tuple[float, float]]) -> int:
    signs = [1 if t > h else -1 for h, t in starts if abs(t - h) > 0.01]
    return sum(1 for a, b in zip(signs, signs[1:]) if a != b)


@settings(max_examples=200, deadline=None)
@given(bearing=st.floats(-120.0, 120.0), distance=st.floats(0.6, 4.5), noise=st.floats(0.0, 3.0),
       heading=st.floats(-140.0, 140.0), talks=st.lists(st.floats(1.0, 59.0), max_size=8),
       seed=st.integers(0, 2**31))
def test_a_person_standing_still_does_not_cause_fidgeting(bearing, distance, noise, heading, talks, seed):
    """Bounded direction reversals per minute for someone who does not move (noisy vision, noisy sound)."""
    rnd = random.Random(seed)
    s = CoreSim(config())
    s.noise = lambda: rnd.uniform(-noise, noise)
    s.room.heading = heading
    s.room.people[1] = Someone(bearing, distance, 0.9)
    starts: list[tuple[float, float]] = []
    s.on_goal.append(lambda g, s: g.mode == "move" and starts.append((s.room.heading, g.target_deg)))
    pending = sorted(talks)
    for i in range(1200):                                # one minute
        if pending and i * 0.05 >= pending[0]:
            pending.pop(0)
            s.hear(bearing + rnd.uniform(-8.0, 8.0), confidence=rnd.uniform(0.5, 1.0))
        s.step()
    assert reversals(s, starts) <= 2, starts
    assert len(s.moves()) <= 4, starts
    # And it ends up facing them if it could see them, or heard them with time left to turn.
    if any(t <= 54.0 for t in talks) or abs(bearing - heading) <= 33.0:
        assert abs(s.room.heading - bearing) <= 16.0
