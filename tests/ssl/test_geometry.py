"""Array geometry: the presets load with the right shape, and bad geometry files are clear errors."""
import numpy as np
import pytest

from device.errors import UserError
from device.ssl.geometry import SPEED_OF_SOUND_M_S, load_array, parse_array, preset_names


@pytest.mark.parametrize("name, mics, radius", [("respeaker4", 4, 0.032), ("respeaker6", 6, 0.0463)])
def test_presets_have_their_mic_count_and_radius(name, mics, radius):
    g = load_array(name)
    assert g.n_mics == mics
    assert g.sample_rate == 16000
    assert g.radius == pytest.approx(radius, abs=2e-5)
    assert np.allclose(g.center, 0.0, atol=1e-6)
    assert len(g.pairs()) == mics * (mics - 1) // 2
    assert name in preset_names()


def test_a_toml_path_loads_like_a_preset(tmp_path):
    path = tmp_path / "tri.toml"
    path.write_text('sample_rate = 48000\n' + "".join(
        f"[[mics]]\nx = {0.05 * np.cos(a):.5f}\ny = {0.05 * np.sin(a):.5f}\nz = 0.0\n"
        for a in np.radians([0, 120, 240])))
    g = load_array(str(path))
    assert (g.n_mics, g.sample_rate, g.name) == (3, 48000, "tri")


def test_delays_follow_the_device_frame():
    g = load_array("respeaker6")
    d = g.far_field_delays(np.array([0.0, 90.0]))
    # a source straight ahead (+x) reaches mic 1 (on the screen normal) first, one to the left (+y) mic 2
    assert np.argmin(d[0]) == 0
    assert np.argmin(d[1]) in (1, 2)
    assert d[0, 0] == pytest.approx(-0.0463 / SPEED_OF_SOUND_M_S)
    assert g.max_delay_s() == pytest.approx(2 * 0.0463 / SPEED_OF_SOUND_M_S)


def _mics(*xy):
    return [{"x": x, "y": y, "z": 0.0} for x, y in xy]


@pytest.mark.parametrize("data, message", [
    ({"mics": _mics((0, 0), (0.1, 0), (0, 0.1))}, "sample_rate"),
    ({"sample_rate": 16000, "mics": _mics((0, 0), (0.1, 0))}, "at least 3"),
    ({"sample_rate": 16000, "mics": _mics((0, 0), (0.05, 0), (0.1, 0))}, "span a plane"),
    ({"sample_rate": 16000, "mics": _mics((0, 0), (0, 0), (0.1, 0), (0, 0.1))}, "same place"),
    ({"sample_rate": 16000, "mics": _mics((0, 0), (32, 0), (0, 32))}, "metres"),
    ({"sample_rate": 16000, "mics": [{"x": 0, "y": 0}, {"x": 1, "y": 0, "z": 0}]}, "x, y"),
])
def test_bad_geometry_is_a_user_error(data, message):
    with pytest.raises(UserError, match=message):
        parse_array(data, "test.toml")


def test_unknown_preset_names_the_presets():
    with pytest.raises(UserError, match=r"presets: respeaker4, respeaker4-6ch, respeaker6\)"):
        load_array("respeaker9")


def test_the_usb_board_preset_reads_its_raw_mic_channels():
    g = load_array("respeaker4-6ch")
    assert (g.n_mics, g.capture_channels, g.channel_map) == (4, 6, (1, 2, 3, 4))
    assert np.allclose(g.positions, load_array("respeaker4").positions)


def test_capture_channel_map_selects_the_mics():
    data = {"sample_rate": 16000, "capture_channels": 6,
            "mics": [dict(m, channel=i + 1) for i, m in enumerate(_mics((0.03, 0), (0, 0.03), (-0.03, 0), (0, -0.03)))]}
    g = parse_array(data)
    block = np.arange(12, dtype=np.float32).reshape(2, 6)
    assert g.select_mics(block).tolist() == [[1, 2, 3, 4], [7, 8, 9, 10]]
