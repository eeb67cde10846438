"""The shipped scenes' stories told to the pure core (scripted people, ideal sound and sight): what the policy decides."""
from __future__ import annotations

import pytest

from .conftest import CoreSim, Someone, config


def play(path: list[tuple[float, float, float]], seconds: float, talks=(), cfg_text="", noise=0.0):
    """One person walking along (t, azimuth, distance) waypoints; `talks` = [(t, azimuth)] wake words."""
    import random
    rnd = random.Random(7)
    s = CoreSim(config(cfg_text))
    s.noise = lambda: rnd.uniform(-noise, noise)
    s.room.people[1] = Someone(path[0][1], path[0][2])
    pending = sorted(talks)
    for i in range(int(seconds / 0.05)):
        t = i * 0.05
        before = [w for w in path if w[0] <= t][-1]
        after = next((w for w in path if w[0] > t), None)
        if after is None:
            az, dist = before[1], before[2]
        else:
            f = (t - before[0]) / (after[0] - before[0])
            az, dist = before[1] + f * (after[1] - before[1]), before[2] + f * (after[2] - before[2])
        s.room.people[1].world_deg, s.room.people[1].distance_m = az, dist
        while pending and pending[0][0] <= t:
            s.hear(pending.pop(0)[1])
        s.step()
    return s


def test_cooking_in_the_dead_zone_never_moves():
    path = [(0, 0, 1.2), (5, 5, 1.2), (10, -4, 1.3), (15, 6, 1.2), (20, -5, 1.1), (25, 3, 1.2)]
    s = play(path, 30.0, noise=1.5)
    assert s.moves() == []


def test_walking_to_the_edge_is_followed_in_a_few_calm_moves():
    s = play([(0, 0, 1.5), (6, 0, 1.5), (14, 45, 1.5)], 30.0, noise=1.0)
    assert 1 <= len(s.moves()) <= 4
    assert abs(s.room.heading - 45.0) <= 12.0
    signs = {1 if g.target_deg > 0 else -1 for g in s.moves()}
    assert signs == {1}                                  # never backwards


def test_talker_behind_is_faced_quickly():
    s = play([(0, 120, 1.8)], 3.0)
    assert s.moves() == []                               # out of view and silent: nothing to do
    s.hear(118.0)                                        # the wake word, 2 deg off
    woke = s.t
    assert s.run_until(lambda s: abs(s.room.heading - 120.0) <= 10.0 and not s.room.moving, 5.0)
    # 120 deg at 80 deg/s: 1.5 s of travel (the test turntable ignores acceleration), plus a tick or two.
    assert (s.t - woke) / 1e9 <= 1.8
    s.run(2.0)
    assert s.moves()[0].source == "sound" and len(s.moves()) <= 2
    assert abs(s.room.heading - 120.0) <= 2.0           # vision's bearing refined the sound's


@pytest.mark.parametrize("distance", [0.8, 3.5])
def test_zone_widths_change_what_a_step_aside_does(distance):
    # A 12 deg step: inside the dead zone close up (0.8 m), in the holding zone across the room (3.5 m).
    s = play([(0, 0, distance), (1, 0, distance), (2, 12, distance)], 8.0)
    assert (s.moves() == []) == (distance < 1.0)
