"""Simulated rooms (pyroomacoustics, espeak-ng speech) rendered by device.sim.acoustics and localized."""
import numpy as np
import pytest

from device.sim.acoustics import AudioScene, NoiseSpec
from device.sim.speech import synthesize
from device.ssl.estimator import SrpPhatEstimator, angular_distance
from device.ssl.geometry import load_array

FS = 16000


@pytest.fixture(scope="module")
def rir_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rirs")


def render_all(scene, t_end, heading, block=1024):
    n = int((t_end + 0.3) * FS) // block
    return np.concatenate([scene.render(i * block / FS, block, heading) for i in range(n)])


@pytest.mark.parametrize("preset, room, rt60, noise, world_az, dist, heading, tol", [
    ("respeaker4", (5.0, 4.0), 0.3, [NoiseSpec("white", -30)], 60.0, 1.5, 0.0, 6.0),
    ("respeaker6", (6.0, 5.0), 0.6, [NoiseSpec("babble", -20)], -135.0, 2.5, 30.0, 8.0),
    ("respeaker6", (3.5, 3.0), 0.8, [{"kind": "white", "level_db": -25}], 170.0, 1.0, -90.0, 10.0),
])
def test_a_talker_in_a_simulated_room_is_found(preset, room, rt60, noise, world_az, dist, heading, tol, rir_cache):
    g = load_array(preset)
    scene = AudioScene(room, rt60, g, device_xy_m=(room[0] / 2, room[1] / 2), noise=noise, seed=5,
                       cache_dir=rir_cache)
    t0, t1 = scene.add_utterance(0.4, "Swivel, show me the recipe for pancakes.", "en-us+f3",
                                 azimuth_world_deg=world_az, distance_m=dist, height_m=1.5)
    audio = render_all(scene, t1, heading)
    r = SrpPhatEstimator(g).locate(audio[int(0.1 * FS): int((t1 + 0.05) * FS)])
    assert angular_distance(r.azimuth_deg, world_az - heading) < tol
    assert r.confidence > 0.3


def test_block_rendering_matches_one_long_block(rir_cache):
    g = load_array("respeaker4")
    scene = AudioScene((4.0, 4.0), 0.4, g, device_xy_m=(2.0, 2.0), seed=6, cache_dir=rir_cache)
    scene.add_utterance(0.1, "Swivel, call my sister please.", "en-gb", azimuth_world_deg=10.0, distance_m=1.2)
    blocks = np.concatenate([scene.render(i * 512 / FS, 512, 45.0) for i in range(40)])
    whole = scene.render(0.0, 40 * 512, 45.0)
    assert blocks.shape == (20480, 4) and blocks.dtype == np.float32
    assert np.max(np.abs(blocks - whole)) < 1e-4 * np.max(np.abs(whole))
    assert np.max(np.abs(whole)) > 1e-3


def test_turning_the_array_moves_the_talker_in_the_device_frame(rir_cache):
    g = load_array("respeaker6")
    scene = AudioScene((5.0, 5.0), 0.3, g, device_xy_m=(2.5, 2.5), seed=7, cache_dir=rir_cache)
    _, t1 = scene.add_utterance(0.2, "Swivel, set a timer for ten minutes.", "en-us", azimuth_world_deg=-40.0,
                                distance_m=1.8)
    est = SrpPhatEstimator(g)
    for heading in (0.0, 100.0):
        r = est.locate(render_all(scene, t1, heading))
        assert angular_distance(r.azimuth_deg, -40.0 - heading) < 6.0


def test_a_tv_is_a_second_source_not_the_talker(rir_cache):
    g = load_array("respeaker6")
    scene = AudioScene((6.0, 5.0), 0.4, g, device_xy_m=(3.0, 2.5), seed=8, cache_dir=rir_cache,
                       noise=[NoiseSpec("tv", -6.0, azimuth_world_deg=-100.0, distance_m=2.0)])
    _, t1 = scene.add_utterance(0.5, "Swivel, what is on my calendar tomorrow?", "en-gb+f2",
                                azimuth_world_deg=50.0, distance_m=1.2)
    r = SrpPhatEstimator(g).locate(render_all(scene, t1, 0.0)[int(0.2 * FS):])
    directions = [c[0] for c in r.candidates]
    assert angular_distance(directions[0], 50.0) < 8.0


def test_bad_scene_input_is_a_clear_error(rir_cache):
    g = load_array("respeaker4")
    with pytest.raises(ValueError, match="outside"):
        AudioScene((4.0, 4.0), 0.4, g, device_xy_m=(2.0, 2.0), cache_dir=rir_cache).add_utterance(
            0.0, "hi", azimuth_world_deg=0.0, distance_m=5.0)
    with pytest.raises(ValueError, match="unknown noise kind"):
        AudioScene((4.0, 4.0), 0.4, g, device_xy_m=(2.0, 2.0), noise=[{"kind": "rain"}], cache_dir=rir_cache)
    with pytest.raises(ValueError, match="rt60"):
        AudioScene((4.0, 4.0), 5.0, g)


def test_voices_differ_and_are_cached(tmp_path):
    a = synthesize("Swivel, hello.", "en-us", cache_dir=tmp_path)
    b = synthesize("Swivel, hello.", "en-us+f3", cache_dir=tmp_path)
    again = synthesize("Swivel, hello.", "en-us", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.wav"))) == 2
    assert np.array_equal(a, again)
    assert a.dtype == np.float32 and 0.3 * FS < len(a) < 3 * FS and np.max(np.abs(a)) == pytest.approx(0.5, abs=1e-3)
    assert len(a) != len(b) or not np.allclose(a, b)
