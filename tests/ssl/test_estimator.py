"""The SRP-PHAT estimator on synthetic plane waves, where the exact answer is known."""
import numpy as np
import pytest

from device.ssl.estimator import SrpPhatEstimator, angular_distance, in_rom, wrap_deg
from device.ssl.geometry import load_array


@pytest.mark.parametrize("preset", ["respeaker4", "respeaker6"])
@pytest.mark.parametrize("azimuth", [0.0, 37.3, 90.0, -120.6, 179.5])
def test_a_single_plane_wave_is_found_to_a_fraction_of_a_degree(preset, azimuth, noise_source, plane_wave):
    g = load_array(preset)
    x = plane_wave(g, azimuth, noise_source(1.0, g.sample_rate, seed=1))
    x += 0.01 * np.random.default_rng(2).standard_normal(x.shape)
    r = SrpPhatEstimator(g).locate(x)
    assert angular_distance(r.azimuth_deg, azimuth) < 0.5
    assert not r.ambiguous
    assert r.confidence > 0.8
    assert r.candidates[0][1] == 1.0


def test_an_elevated_source_keeps_its_azimuth(noise_source, plane_wave):
    g = load_array("respeaker6")
    x = plane_wave(g, 75.0, noise_source(1.0, g.sample_rate, seed=3), elevation_deg=35.0)
    r = SrpPhatEstimator(g).locate(x)
    assert angular_distance(r.azimuth_deg, 75.0) < 1.0


def test_two_equal_talkers_far_apart_are_ambiguous(noise_source, plane_wave):
    g = load_array("respeaker6")
    fs = g.sample_rate
    # two independent sources taking turns in 0.3 s slices, equal level, 120 degrees apart
    a, b = noise_source(2.4, fs, 4), noise_source(2.4, fs, 5)
    gate = (np.arange(len(a)) // int(0.3 * fs)) % 2
    x = plane_wave(g, 30.0, a * gate) + plane_wave(g, 150.0, b * (1 - gate))
    r = SrpPhatEstimator(g).locate(x)
    assert r.ambiguous
    found = sorted(c[0] for c in r.candidates[:2])
    assert angular_distance(found[0], 30.0) < 3 and angular_distance(found[1], 150.0) < 3


def test_a_source_outside_the_range_of_motion_is_no_target(noise_source, plane_wave):
    g = load_array("respeaker4")
    x = plane_wave(g, 170.0, noise_source(1.0, g.sample_rate, seed=6))
    est = SrpPhatEstimator(g)
    inside = est.locate(x, rom=(-180.0, 180.0))
    outside = est.locate(x, rom=(-90.0, 90.0))
    assert angular_distance(inside.azimuth_deg, 170.0) < 1.0
    assert outside.azimuth_deg is None and outside.confidence == 0.0
    assert angular_distance(outside.candidates[0][0], 170.0) < 1.0   # still reported as a candidate


def test_silence_and_short_input_give_no_target():
    g = load_array("respeaker4")
    est = SrpPhatEstimator(g)
    assert est.locate(np.zeros((16000, 4), np.float32)).azimuth_deg is None
    assert est.locate(np.zeros((100, 4), np.float32)).azimuth_deg is None


def test_coarse_energy_map_peaks_in_the_source_sector(noise_source, plane_wave):
    g = load_array("respeaker6")
    r = SrpPhatEstimator(g).locate(plane_wave(g, -45.0, noise_source(1.0, g.sample_rate, seed=7)))
    m = r.coarse_map(72)
    assert len(m) == 72 and max(m) == 1.0
    assert m.index(max(m)) == int((-45.0 + 180) / 5)


@pytest.mark.parametrize("a, rom, expected", [
    (0, (-90, 90), True), (100, (-90, 90), False), (-179, (170, -170), True), (0, (170, -170), False),
    (200, (-180, 180), True), (-160, (150, 210), True),
])
def test_range_of_motion_membership_wraps(a, rom, expected):
    assert in_rom(a, rom) is expected


def test_wrap_is_half_open():
    assert wrap_deg(180.0) == -180.0 and wrap_deg(-180.0) == -180.0 and wrap_deg(359.0) == -1.0
