"""`swivel speaker render|plot`: one WAV per driver, a PNG of the separation, one-line errors for bad input."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.io import wavfile

from device.cli import main


def _stereo(path, rate=48000, seconds=0.5, channels=2):
    x = np.random.default_rng(0).standard_normal((int(rate * seconds), channels)) * 0.1
    wavfile.write(path, rate, (x * 32767).astype(np.int16))
    return x


def test_render_writes_one_wav_per_driver(tmp_path, capsys):
    x = _stereo(tmp_path / "in.wav")
    out = tmp_path / "out dir"
    assert main(["speaker", "render", str(tmp_path / "in.wav"), "--bearing", "-20", "--distance", "1.8",
                 "--drivers", "cyl4", "--out-dir", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["driver1.wav", "driver2.wav", "driver3.wav", "driver4.wav"]
    for f in files:
        rate, y = wavfile.read(out / f)
        assert rate == 48000 and y.shape == (len(x),) and np.abs(y).max() > 100
    assert "cyl4 (spatial)" in capsys.readouterr().out


def test_render_bypass_is_the_input(tmp_path):
    x = _stereo(tmp_path / "in.wav")
    assert main(["speaker", "render", str(tmp_path / "in.wav"), "--bearing", "0", "--distance", "1",
                 "--mode", "bypass", "--out-dir", str(tmp_path)]) == 0
    _, left = wavfile.read(tmp_path / "driver1.wav")
    _, right = wavfile.read(tmp_path / "driver2.wav")
    _, orig = wavfile.read(tmp_path / "in.wav")
    assert np.array_equal(left, orig[:, 0]) and np.array_equal(right, orig[:, 1])
    assert len(x) == len(left)


def test_plot_writes_a_png(tmp_path):
    png = tmp_path / "sep.png"
    assert main(["speaker", "plot", "--bearing", "15", "--distance", "2", "--png", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["render", "{missing}", "--bearing", "0", "--distance", "1"], "does not exist"),
    (["render", "{notwav}", "--bearing", "0", "--distance", "1"], "is not a readable WAV file"),
    (["render", "{six}", "--bearing", "0", "--distance", "1"], "has 6 channels; render takes stereo or mono"),
    (["render", "{stereo}", "--bearing", "200", "--distance", "1"], "--bearing must be between -180 and 180"),
    (["render", "{stereo}", "--bearing", "0", "--distance", "0.1"], "--distance must be between 0.3 and 10 m"),
    (["render", "{stereo}", "--bearing", "0", "--distance", "1", "--drivers", "{badtoml}"], "line 3: driver 1: missing y"),
    (["render", "{stereo}", "--bearing", "0", "--distance", "1", "--out-dir", "{notwav}"], "is not a directory"),
    (["plot", "--bearing", "0", "--distance", "1", "--png", "{dir}/x.jpg"], "--png wants a .png file name"),
    (["render", "{stereo}", "--bearing", "zero", "--distance", "1"], "invalid float value"),
])
def test_bad_input_is_one_line(tmp_path, capsys, args, message):
    _stereo(tmp_path / "stereo.wav")
    _stereo(tmp_path / "six.wav", channels=6)
    (tmp_path / "not.wav").write_text("hello")
    (tmp_path / "bad.toml").write_text('name = "bad"\n\n[[drivers]]\nx = 0.1\nz = 0.0\n\n[[drivers]]\nx = -0.1\ny = 0\nz = 0\n')
    paths = {"missing": tmp_path / "nope.wav", "notwav": tmp_path / "not.wav", "six": tmp_path / "six.wav",
             "stereo": tmp_path / "stereo.wav", "badtoml": tmp_path / "bad.toml", "dir": tmp_path}
    argv = [a.format(**paths) for a in args]
    try:
        rc = main(["speaker", *argv])
    except SystemExit as exc:                     # argparse's own errors exit (one line too)
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


def test_a_user_mistake_prints_no_traceback(tmp_path):
    """The same through the installed entry point, as a user runs it."""
    res = subprocess.run([sys.executable, "-m", "device", "speaker", "render", str(tmp_path / "nope.wav"),
                          "--bearing", "0", "--distance", "1"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == f"swivel: {tmp_path / 'nope.wav'} does not exist"
