"""`swivel ssl locate`: JSON answers on real multichannel WAVs, and one-line errors for bad input."""
import json
import subprocess
import sys

import numpy as np
import pytest

from device.ssl.geometry import load_array

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def swivel(*args):
    return subprocess.run([sys.executable, "-m", "device", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


@pytest.fixture
def recording(write_wav, plane_wave, noise_source):
    g = load_array("respeaker4")
    x = plane_wave(g, 120.0, noise_source(1.0, g.sample_rate, seed=11)) * 0.1
    return write_wav("rec.wav", 16000, (x * 32767).astype(np.int16)), x


def test_json_answer_names_the_direction(recording):
    path, _ = recording
    out = swivel("ssl", "locate", path, "--array", "respeaker4", "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) == {"azimuth_deg", "confidence", "ambiguous", "candidates"}
    assert abs(answer["azimuth_deg"] - 120.0) < 1.0
    assert 0.0 <= answer["confidence"] <= 1.0 and answer["ambiguous"] is False
    assert answer["candidates"][0]["power"] == 1.0


@pytest.mark.parametrize("rom", [["--rom=-90:90"], ["--rom", "-90:90"]])
def test_outside_the_range_of_motion_is_null(recording, rom):
    path, _ = recording
    out = swivel("ssl", "locate", path, "--array", "respeaker4", *rom, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["azimuth_deg"] is None


def test_a_float_wav_and_a_geometry_file_work(write_wav, recording, tmp_path):
    _, x = recording
    path = write_wav("float.wav", 16000, x.astype(np.float32))
    geo = tmp_path / "mine.toml"
    geo.write_text((ROOT / "device/ssl/arrays/respeaker4.toml").read_text())
    out = swivel("ssl", "locate", path, "--array", str(geo), "--json")
    assert out.returncode == 0, out.stderr
    assert abs(json.loads(out.stdout)["azimuth_deg"] - 120.0) < 1.0


@pytest.mark.parametrize("case, message", [
    ("channels", "has 4 channel(s) but array respeaker6 has 6 mics"),
    ("rate", "sampled at 8000 Hz but array respeaker4 expects 16000 Hz"),
    ("missing", "does not exist"),
    ("notwav", "is not a readable WAV file"),
    ("array", "no array preset or geometry file 'nosuch'"),
    ("rom", "--rom wants MIN:MAX"),
    ("noarray", "the following arguments are required: --array"),
    ("flag", "unrecognized arguments: --loud"),
])
def test_bad_input_is_one_clear_line(case, message, recording, write_wav, tmp_path):
    path, x = recording
    args = [path, "--array", "respeaker4"]
    if case == "channels":
        args = [path, "--array", "respeaker6"]
    elif case == "rate":
        args = [write_wav("8k.wav", 8000, (x * 32767).astype(np.int16)), "--array", "respeaker4"]
    elif case == "missing":
        args = [str(tmp_path / "nope.wav"), "--array", "respeaker4"]
    elif case == "notwav":
        bogus = tmp_path / "bogus.wav"
        bogus.write_text("not audio")
        args = [str(bogus), "--array", "respeaker4"]
    elif case == "array":
        args = [path, "--array", "nosuch"]
    elif case == "rom":
        args = [path, "--array", "respeaker4", "--rom", "wide"]
    elif case == "noarray":
        args = [path]
    elif case == "flag":
        args = [path, "--array", "respeaker4", "--loud"]
    out = swivel("ssl", "locate", *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_a_six_channel_usb_recording_uses_its_raw_mic_channels(recording, write_wav):
    _, x = recording
    rng = np.random.default_rng(12)
    six = np.concatenate([0.1 * rng.standard_normal((len(x), 1)), x, 0.1 * rng.standard_normal((len(x), 1))], axis=1)
    path = write_wav("usb6.wav", 16000, (six * 32767).astype(np.int16))
    out = swivel("ssl", "locate", path, "--array", "respeaker4-6ch", "--json")
    assert out.returncode == 0, out.stderr
    assert abs(json.loads(out.stdout)["azimuth_deg"] - 120.0) < 1.0
