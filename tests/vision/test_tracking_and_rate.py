"""Spatiotemporal filtering (persistence, ids through misses, fast turns) and the dynamic frame rate."""
from device.vision.people import PersonEstimate
from device.vision.rate import FrameRate
from device.vision.tracker import Tracker

MS = 1_000_000


def seen_at(bearing, elevation=10.0):
    return [(PersonEstimate(bearing, elevation, 1.5, 0.9, 0.9, "face"), (0, 0, 10, 10))]


def test_a_detection_must_persist_before_it_is_a_person():
    tr = Tracker(confirm_hits=3)
    assert tr.update(0, seen_at(5.0), 0.0) == []
    assert tr.update(66 * MS, seen_at(5.2), 0.0) == []
    people = tr.update(133 * MS, seen_at(5.1), 0.0)
    assert len(people) == 1 and abs(people[0].world_az_deg - 5.1) < 0.3


def test_a_one_frame_glimpse_never_becomes_a_person():
    tr = Tracker(confirm_hits=3, max_missed_s=0.5)
    tr.update(0, seen_at(-20.0), 0.0)
    for i in range(1, 20):
        assert tr.update(i * 66 * MS, [], 0.0) == []
    assert tr.tracks == []


def test_two_sightings_half_a_second_apart_make_a_person():
    """The pose model sees someone only every 8th frame: persistence in time counts, not frame count."""
    tr = Tracker(confirm_hits=3, confirm_span_s=0.4, max_missed_s=1.0)
    assert tr.update(0, seen_at(-3.0), 0.0) == []
    for i in range(1, 8):
        assert tr.update(i * 66 * MS, [], 0.0) == []
    assert len(tr.update(8 * 66 * MS, seen_at(-3.2), 0.0)) == 1


def test_tracks_keep_their_id_through_short_misses_and_lose_it_after_long_ones():
    tr = Tracker(confirm_hits=2, max_missed_s=1.0)
    tr.update(0, seen_at(0.0), 0.0)
    first = tr.update(66 * MS, seen_at(0.5), 0.0)[0].track_id
    t = 66 * MS
    for _ in range(8):                                       # about half a second unseen
        t += 66 * MS
        tr.update(t, [], 0.0)
    t += 66 * MS
    assert tr.update(t, seen_at(0.3), 0.0)[0].track_id == first
    t += 1500 * MS                                           # gone for 1.5 s
    tr.update(t, [], 0.0)
    tr.update(t + 66 * MS, seen_at(0.3), 0.0)
    again = tr.update(t + 133 * MS, seen_at(0.3), 0.0)
    assert again and again[0].track_id != first


def test_turning_device_sees_the_same_person_in_the_world_frame():
    """The device turns 20 degrees in steps; the person's bearing falls by as much; one id throughout."""
    tr = Tracker(confirm_hits=2, fast_turn_dps=200.0)
    ids = set()
    for i in range(10):
        heading = 2.0 * i
        people = tr.update(i * 66 * MS, seen_at(15.0 - heading), heading, turn_dps=30.0)
        ids |= {p.track_id for p in people}
        if people:
            assert abs(people[0].world_az_deg - 15.0) < 0.5
    assert len(ids) == 1


def test_fast_turns_cannot_create_people():
    tr = Tracker(confirm_hits=2, fast_turn_dps=45.0)
    for i in range(10):
        assert tr.update(i * 66 * MS, seen_at(-10.0 + i), 5.0 * i, turn_dps=90.0) == []
    assert tr.tracks == []


def test_fast_turns_discount_confirmed_people():
    tr = Tracker(confirm_hits=2, fast_turn_dps=45.0)
    tr.update(0, seen_at(0.0), 0.0)
    calm = tr.update(66 * MS, seen_at(0.0), 0.0)[0].confidence
    fast = tr.update(133 * MS, seen_at(-6.0), 6.0, turn_dps=90.0)[0].confidence
    assert fast < calm


def test_frame_rate_idles_when_nobody_is_around_and_rises_with_activity():
    rate = FrameRate(idle_fps=2.0, active_fps=15.0, wake_boost_s=8.0, linger_s=5.0)
    s = 1_000_000_000
    assert rate.fps(0) == 2.0
    rate.on_wake(10 * s)
    assert rate.fps(11 * s) == 15.0 and rate.fps(19 * s) == 2.0
    rate.on_people(30 * s, 1)
    assert rate.fps(34 * s) == 15.0 and rate.fps(36 * s) == 2.0
    rate.policy_mode = "tracking"
    assert rate.fps(100 * s) == 15.0


def test_away_mode_looks_at_full_rate_only_while_panning():
    rate = FrameRate(idle_fps=2.0, active_fps=15.0)
    rate.policy_mode = "away"
    assert rate.fps(0) == 2.0
    rate.turning = True
    assert rate.fps(0) == 15.0


def test_a_walker_at_30_deg_s_keeps_one_id_at_7_fps_and_is_not_taken_for_a_print():
    """The smoothed bearing lags a walker; the gate is on the predicted one (scenario walk_out_of_view)."""
    tr = Tracker(confirm_hits=3, max_missed_s=1.0)
    frame_ns = 140 * MS                                    # ~7 fps, as the service ran while tracking
    ids, t = set(), 0
    for i in range(30):
        t = i * frame_ns
        bearing = 30.0 * t / 1e9 + (0.4 if i % 2 else -0.4)    # 30 deg/s with detection jitter
        for track in tr.update(t, seen_at(bearing), 0.0):
            ids.add(track.track_id)
    assert ids == {1}
    (track,) = tr.tracks
    assert abs(track.rate_dps - 30.0) < 5.0 and abs(track.world_az_deg - 30.0 * t / 1e9) < 2.0
    assert not tr.is_static(track, t)                     # it walked, so it is alive


def test_a_walkers_face_is_followed_where_they_walked_to_not_where_they_were():
    """The mesh's crop for the next frame is the last box carried along with the walker's bearing: at
    5 fps a walk of 30 deg/s is 6 degrees (about 50 px) a frame, more than a face box is wide at 2 m."""
    px_per_deg = 8.6                                       # 640 px across 66 degrees, near the centre
    tr = Tracker(confirm_hits=3)
    frame_ns = 200 * MS
    for i in range(15):
        u = 320.0 - 30.0 * i * 0.2 * px_per_deg            # walking left: bearing up, image u down
        tr.update(i * frame_ns, [(PersonEstimate(30.0 * i * 0.2, 10.0, 2.0, 0.9, 0.9, "face"),
                                  (u - 20, 200, u + 20, 240))], 0.0)
    (box, _score, track_id, _verified), = tr.followed_faces(15 * frame_ns, px_per_deg)
    (track,) = tr.tracks
    assert track_id == track.track_id
    walker_now = 320.0 - 30.0 * 15 * 0.2 * px_per_deg      # where the face is in the frame being read
    assert abs((box[0] + box[2]) / 2 - walker_now) < 15.0  # within the face box, not 50 px behind it
    assert abs((track.box[0] + track.box[2]) / 2 - walker_now) > 40.0   # the last box alone would be


def test_a_print_that_jitters_in_place_stays_static():
    tr = Tracker(confirm_hits=3)
    for i in range(60):
        tr.update(i * 66 * MS, seen_at(12.0 + (0.5 if i % 3 == 0 else -0.3)), 0.0)
    (track,) = tr.tracks
    assert tr.is_static(track, 59 * 66 * MS) and abs(track.rate_dps) < 3.0


def test_a_walker_lost_as_they_set_off_is_the_same_person_when_found_again():
    """Standing at 80 deg, then off at 30 deg/s; at 5 fps the mesh loses them for two frames. Found 12
    degrees on (beyond the 8-degree gate), they are still person 1: published at once, where they are."""
    tr = Tracker(confirm_hits=3, max_missed_s=1.0)
    frame_ns = 200 * MS
    for i in range(10):                                    # 2 s standing: confirmed
        tr.update(i * frame_ns, seen_at(80.0 + (0.3 if i % 2 else -0.3)), 0.0)
    t_off = 10 * frame_ns
    published = []
    for i in range(10, 16):
        t = i * frame_ns
        bearing = 80.0 + 30.0 * (t - t_off) / 1e9
        published = tr.update(t, [] if i in (11, 12) else seen_at(bearing), 0.0)
    assert [p.track_id for p in published] == [1]
    assert abs(published[0].world_az_deg - (80.0 + 30.0 * (15 * frame_ns - t_off) / 1e9)) < 6.0


def test_only_a_person_is_looked_for_far_away_and_only_as_far_as_a_walk():
    """A glimpse that is not a person yet keeps the narrow gate; a person unseen for 0.2 s is not taken
    for someone 25 degrees away (a walk cannot get there), and none is looked for beyond MAX_GATE_DEG."""
    tr = Tracker(confirm_hits=3, max_missed_s=1.0)
    tr.update(0, seen_at(0.0), 0.0)                        # one sighting: not confirmed
    tr.update(400 * MS, seen_at(15.0), 0.0)
    assert len(tr.tracks) == 2
    tr = Tracker(confirm_hits=3, max_missed_s=2.0)
    for i in range(5):
        tr.update(i * 100 * MS, seen_at(0.0), 0.0)
    tr.update(600 * MS, seen_at(25.0), 0.0)                # 0.2 s unseen: 9 deg of walk at most
    assert {t.track_id for t in tr.tracks} == {1, 2}
    tr.update(1400 * MS, seen_at(-35.0), 0.0)              # 1 s unseen, but beyond the widest gate
    assert len({t.track_id for t in tr.tracks}) == 3
