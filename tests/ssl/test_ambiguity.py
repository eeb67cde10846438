"""The ambiguous flag on rendered irregular rooms: two talkers at once are flagged, one talker by a wall is not."""
import pytest

from device.ssl.estimator import SrpPhatEstimator, angular_distance
from tools.bench.ssl_rooms import ARRAYS, RoomScene, render_room_scene

L_ROOM = [[0.0, 0.0], [5.5, 0.0], [5.5, 2.5], [3.0, 2.5], [3.0, 4.5], [0.0, 4.5]]   # an L-shaped floor plan
FS = 16000


def talker(az, dist, voice, text):
    return {"azimuth": az, "distance": dist, "height": 1.5, "voice": voice, "text": text}


def scene(kind, seed, array, device, yaw, talkers, near_wall=None, absorption=0.25):
    walls = [[absorption, 0.1]] * (len(L_ROOM) + 2)
    return RoomScene(kind, seed, array, L_ROOM, 2.6, walls, near_wall, device, yaw, talkers, None, "white", 25.0, 0.4)


PAIRS = {
    "ring6c": scene("pair", 1, "ring6c", (2.0, 1.6, 0.9), 20.0,
                    [talker(40.0, 1.6, "en-us", "Swivel, what is the weather like today?"),
                     talker(-95.0, 1.5, "en-gb+f2", "Swivel, play some music in the kitchen.")]),
    "square4": scene("pair", 2, "square4", (2.2, 1.8, 0.9), -60.0,
                     [talker(150.0, 1.4, "en-us+m4", "Swivel, call my sister please."),
                      talker(10.0, 1.6, "en-us+f3", "Swivel, set a timer for ten minutes.")]),
}
# the array's nearest mic 6 cm from the room's south wall: the wall's echo comes from the mirror direction
BY_THE_WALL = scene("single", 3, "ring6c", (2.5, ARRAYS["ring6c"].radius + 0.06, 0.9), 0.0,
                    [talker(60.0, 2.0, "en-gb", "Swivel, show me the recipe for pancakes.")], near_wall=0.06)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Each scene rendered once into a fresh cache (speech too), as (audio span, estimator)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SWIVEL_CACHE", str(tmp_path_factory.mktemp("ssl_rooms")))
    out = {}
    try:
        for name, spec in list(PAIRS.items()) + [("wall", BY_THE_WALL)]:
            audio, start, end, _ = render_room_scene(spec)
            out[name] = (audio[start - int(0.3 * FS): end], SrpPhatEstimator(ARRAYS[spec.array]))
    finally:
        mp.undo()
    return out


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_two_talkers_at_once_are_ambiguous_and_both_listed(name, rendered):
    seg, est = rendered[name]
    r = est.locate(seg)
    assert r.ambiguous, r.evidence
    assert r.evidence["score"] >= est.p.ambiguity_threshold
    for t in PAIRS[name].talkers:
        assert min(angular_distance(c[0], t["azimuth"]) for c in r.candidates[:2]) < 10.0, r.candidates


def test_one_talker_with_the_array_by_a_wall_is_not_ambiguous(rendered):
    seg, est = rendered["wall"]
    r = est.locate(seg)
    assert angular_distance(r.azimuth_deg, 60.0) < 6.0
    assert not r.ambiguous, r.evidence


def test_an_echo_keeps_the_beams_coherent_and_two_talkers_do_not(rendered):
    def coherence(name, a, b):
        seg, est = rendered[name]
        spec = est.spectra(seg)
        return est.beam_coherence(spec, est.weights(spec), a, b)
    echo = coherence("wall", 60.0, -60.0)                      # toward the talker and its mirror image
    talkers = coherence("ring6c", 40.0, -95.0)                 # toward each of the two talkers
    assert 0.0 <= talkers < echo <= 1.0
