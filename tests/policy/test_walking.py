"""A talker who walks while speaking (ssl.doa's track), refinements of an early estimate, the bounded search
toward where the sound went, and a person who leaves the view at its edge: the pure policy in simulated time."""
from __future__ import annotations

import pytest

from .conftest import S, CoreSim, Room, Someone, config
from device.bus.schemas import DoaCandidate, DoaEstimate, DoaTrackPoint
from device.policy.angles import wrap


def final(s: CoreSim, path: list[tuple[float, float]], uid: int = 1, phase: str = "final", whole: float | None = None,
          ambiguous: bool = False, others: tuple[float, ...] = ()) -> DoaEstimate:
    """A whole-utterance estimate ending now: `path` is (seconds before now, world azimuth) of each track point,
    each given in the device frame of the heading the room had (the room has not turned unless said)."""
    h = s.room.heading
    at = lambda t: s.policy._heading_at(t, h)       # noqa: E731  (the heading the device had then)
    pts = [DoaTrackPoint(t_ns=s.t - int(ago * S), azimuth_deg=wrap(w - at(s.t - int(ago * S))), confidence=1.0)
           for ago, w in path]
    mid = whole if whole is not None else path[len(path) // 2][1]
    cands = [DoaCandidate(azimuth_deg=wrap(mid - h), power=1.0)] + [
        DoaCandidate(azimuth_deg=wrap(o - h), power=0.9) for o in others]
    start = s.t - int((path[0][0] + 0.25) * S)
    return DoaEstimate(t_ns=s.t, start_ns=start, end_ns=s.t, azimuth_deg=wrap(mid - h), heading_deg=h, confidence=0.95,
                       ambiguous=ambiguous, candidates=cands, trigger="wake", utterance_id=uid, phase=phase, track=pts)


def walk_path(a: float, b: float, seconds: float, n: int = 16) -> list[tuple[float, float]]:
    return [(seconds * (1 - i / (n - 1)), a + (b - a) * i / (n - 1)) for i in range(n)]


def test_a_talker_who_walked_while_speaking_is_looked_for_where_the_sound_ended(sim):
    s = sim()
    s.room.people[1] = Someone(105.0, distance_m=1.8)        # where the talker stands now, out of view
    s.run(1.0)
    # The whole utterance's map peaks in the middle of the walk (72): the track says it ended at 105.
    s.policy.on_doa(final(s, walk_path(40.0, 105.0, 4.5), phase="utterance", whole=72.0), s.t)
    s.run(5.0)
    assert s.moves()[0].target_deg == pytest.approx(105.0, abs=3.0)
    assert s.room.heading == pytest.approx(105.0, abs=3.0)
    assert len({round(g.target_deg) for g in s.moves()}) <= 2
    assert s.policy.fusion.target_track == 1


def test_each_track_point_is_converted_with_the_heading_at_its_own_time(sim):
    s = sim()
    s.room.people[1] = Someone(100.0)
    s.run(1.0)
    # The device turned from 0 to 40 while the talker walked from 50 to 100: the device-frame points shrink.
    h = {}
    t0 = s.t
    s.room.goal = None
    for i in range(40):                                    # 2 s turning at 20 deg/s, motor.state at 20 Hz
        s.room.heading = i
        s.t += S // 20
        h[s.t] = s.room.heading
        s.policy.on_motor(s.room.motor_state(s.t), s.t)
    pts = []
    for k, (t, head) in enumerate(sorted(h.items())[::4]):
        world = 50.0 + 50.0 * k / 9
        pts.append(DoaTrackPoint(t_ns=t, azimuth_deg=wrap(world - head), confidence=1.0))
    msg = DoaEstimate(t_ns=s.t, start_ns=t0, end_ns=s.t, azimuth_deg=30.0, heading_deg=20.0, confidence=0.9,
                      ambiguous=False, candidates=[DoaCandidate(azimuth_deg=30.0, power=1.0)], utterance_id=1,
                      phase="final", track=pts)
    walk = s.policy._walk(msg)
    assert walk is not None and walk.steady
    assert walk.start_deg == pytest.approx(50.0, abs=6.0) and walk.end_deg == pytest.approx(100.0, abs=6.0)


def test_the_path_of_a_walk_is_not_a_second_talker_but_two_talkers_taking_turns_are(sim):
    s = sim()
    s.run(1.0)
    # ssl saw two peaks 65 degrees apart and called it ambiguous; the steady track explains them as one walker.
    s.policy.on_doa(final(s, walk_path(40.0, 105.0, 4.5), whole=45.0, ambiguous=True, others=(100.0,)), s.t)
    s.run(0.5)
    assert "ambiguous_sound" not in s.state.holds
    assert s.moves() and s.moves()[0].target_deg == pytest.approx(105.0, abs=3.0)

    t = sim()
    t.run(1.0)
    jumps = [(4.0 - 0.25 * i, 40.0 if i % 2 else 105.0) for i in range(17)]   # back and forth: two sources
    t.policy.on_doa(final(t, jumps, whole=40.0, ambiguous=True, others=(105.0,)), t.t)
    t.run(0.5)
    assert "ambiguous_sound" in t.state.holds and not t.moves()


def test_a_final_estimate_refines_the_turn_its_keyword_started(sim):
    s = sim()
    s.room.people[1] = Someone(95.0)
    s.run(1.0)
    s.policy.on_doa(final(s, [(0.1, 60.0)], phase="keyword"), s.t)        # early, on the keyword's own span
    s.run(0.3)
    assert s.moves()[-1].target_deg == pytest.approx(60.0, abs=1.0)
    # A final that agrees within the dead zone changes nothing; one that differs re-aims the same turn.
    s.policy.on_doa(final(s, [(2.0, 60.0), (1.0, 62.0), (0.1, 64.0)], phase="final", whole=62.0), s.t)
    s.run(0.1)
    assert {round(g.target_deg) for g in s.moves()} == {60}
    s.policy.on_doa(final(s, walk_path(60.0, 95.0, 3.0)), s.t)
    s.run(0.1)
    assert s.moves()[-1].target_deg == pytest.approx(95.0, abs=3.0)
    s.run(3.0)
    assert s.policy.moves == 1                                            # one turn, re-aimed on the way
    assert s.room.heading == pytest.approx(95.0, abs=3.0)


def test_an_ambiguous_refinement_neither_stops_nor_redirects_the_turn(sim):
    s = sim()
    s.run(1.0)
    s.policy.on_doa(final(s, [(0.1, 70.0)], phase="keyword"), s.t)
    s.run(0.3)
    jumps = [(3.0 - 0.25 * i, 70.0 if i % 2 else -60.0) for i in range(13)]
    s.policy.on_doa(final(s, jumps, whole=-60.0, ambiguous=True, others=(70.0,)), s.t)
    s.run(2.0)
    assert "ambiguous_sound" not in s.state.holds
    assert {round(g.target_deg) for g in s.moves()} == {70}
    assert s.room.heading == pytest.approx(70.0, abs=1.0)


def test_an_ambiguous_keyword_holds_and_the_final_alone_decides(sim):
    s = sim()
    s.room.people[1] = Someone(95.0)
    s.run(1.0)
    s.policy.on_doa(final(s, [(0.1, 70.0)], phase="keyword", whole=70.0, ambiguous=True, others=(-60.0,)), s.t)
    s.run(0.3)
    assert "ambiguous_sound" in s.state.holds and not s.moves()
    s.policy.on_doa(final(s, walk_path(70.0, 95.0, 3.0), whole=80.0), s.t)   # clear now: one turn, one way
    s.run(3.0)
    assert [round(g.target_deg) for g in s.moves()] == [round(s.moves()[0].target_deg)]
    assert s.room.heading == pytest.approx(95.0, abs=3.0)


def test_nobody_where_a_walking_talkers_sound_ended_searches_on_a_bounded_way(sim):
    s = sim()
    s.run(1.0)
    s.policy.on_doa(final(s, walk_path(30.0, 80.0, 4.0)), s.t)            # nobody anywhere
    s.run(20.0)
    targets = [round(g.target_deg) for g in s.moves()]
    # Turn to where the sound ended, then at most search_max_steps looks further on, inside the range
    # (-150..150), never beyond search_max_deg from where the sound ended; then stay.
    f = s.cfg.fusion
    assert targets[0] == pytest.approx(80, abs=3)
    assert 1 <= len(targets) - 1 <= f.search_max_steps
    assert all(b > a for a, b in zip(targets, targets[1:]))               # always the way they walked
    assert all(t <= s.policy.rom.max_deg for t in targets)
    assert targets[-1] - targets[0] <= f.search_max_deg + 1
    n = len(s.moves())
    s.run(10.0)
    assert len(s.moves()) == n                                            # the search is over: no wandering
    # the sound was real, only the talker walked on: its direction keeps its credibility
    assert s.policy.fusion.credibility.get(80.0, s.t) == pytest.approx(1.0)


def test_the_search_finds_the_talker_further_on_and_stops_there(sim):
    s = sim()
    s.room.people[1] = Someone(125.0, distance_m=1.8)
    s.run(1.0)
    s.policy.on_doa(final(s, walk_path(30.0, 70.0, 4.0)), s.t)   # they walked on after speaking, past the view
    s.run(10.0)
    assert s.policy.fusion.target_track == 1
    assert s.room.heading == pytest.approx(125.0, abs=9.0)
    assert len(s.moves()) <= 3


def test_the_search_stops_at_the_end_of_the_range_and_for_every_no_move_rule(sim):
    s = sim("[policy.rom]\nmin_deg = -100.0\nmax_deg = 100.0\n")
    s.run(1.0)
    s.policy.on_doa(final(s, walk_path(30.0, 85.0, 4.0)), s.t)
    s.run(15.0)
    assert max(g.target_deg for g in s.moves()) <= 100.0
    assert len(s.moves()) <= 2                                            # 85, then 100 (the end), no more

    m = sim()
    m.run(1.0)
    m.policy.on_doa(final(m, walk_path(30.0, 80.0, 4.0)), m.t)
    m.run(1.5)                                                            # turned to 80, now looking there
    m.room.mute = True
    m.run(10.0)
    assert all(g.target_deg <= 81.0 for g in m.moves())                  # muted: the search does not go on
    assert "mute" in m.state.holds


class EdgeRoom(Room):
    """A camera that loses a face a little before the view's edge, as a real one does when it is cut off."""

    def visible(self):
        return {pid: b for pid, b in super().visible().items() if abs(b) <= 29.0}


def test_a_person_who_walks_out_of_the_view_at_its_edge_is_followed(sim):
    s = CoreSim(config(""), room=EdgeRoom())
    s.room.people[1] = Someone(0.0, distance_m=1.8)
    s.run(2.0)
    for _ in range(50):                                   # walks 80 degrees round in 2 s: faster than the view
        s.room.people[1].world_deg = min(80.0, s.room.people[1].world_deg + 1.6)
        s.step()
    s.run(8.0)
    assert s.room.heading == pytest.approx(80.0, abs=10.0)
    assert len(s.moves()) <= 4


def test_a_person_the_device_turned_away_from_is_not_chased_past_the_edge(sim):
    s = CoreSim(config(""), room=EdgeRoom())
    s.room.people[1] = Someone(0.0)
    s.run(2.0)
    s.hear(100.0)                                         # a wake word elsewhere: the device turns away
    s.run(6.0)
    # nobody at 100: back to where the person stood, not past them
    assert [round(g.target_deg) for g in s.moves()] == [100, 0]


class LaggingRoom(Room):
    """A camera that loses a walker well inside the view the first time (as a loaded vision service at
    5 fps does while the turntable turns: the last bearing the policy got is far behind where they are),
    and then sees as EdgeRoom's does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lost_once = False

    def visible(self):
        seen = super().visible()
        limit = 29.0 if self.lost_once else 20.0
        out = {pid: b for pid, b in seen.items() if abs(b) <= limit}
        self.lost_once = self.lost_once or len(out) < len(seen)
        return out


def test_a_walker_lost_mid_view_while_walking_out_is_looked_for_where_they_walked_to(sim):
    s = CoreSim(config(""), room=LaggingRoom())
    s.room.people[1] = Someone(0.0, distance_m=2.4)
    s.run(2.0)
    for _ in range(60):                                   # 27 deg/s clockwise, on to -70 and staying there
        s.room.people[1].world_deg = max(-70.0, s.room.people[1].world_deg - 1.35)
        s.step()
    s.run(8.0)
    assert s.room.heading == pytest.approx(-70.0, abs=10.0)
    assert len(s.moves()) <= 3                            # the walk needs one; the search may add one more


def test_someone_who_stands_and_vanishes_mid_view_is_not_chased(sim):
    s = CoreSim(config(""), room=LaggingRoom())
    s.room.people[1] = Someone(0.0, distance_m=2.4)
    s.run(2.0)
    s.room.people[1].world_deg = 60.0                     # gone from view at once (stepped behind a door)
    s.run(6.0)
    assert all(abs(g.target_deg) < 15.0 for g in s.moves())
