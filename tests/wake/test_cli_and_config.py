"""`swivel wake detect` and the [wake] table: results as JSON, and one-line errors for every mistake."""
from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from device.cli import main
from device.config import parse_config
from device.errors import UserError


def swivel(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "device", *args], capture_output=True, text=True, cwd=cwd)


def write_wav(path, x: np.ndarray, rate=16000, width=2):
    x = np.atleast_2d(x.T).T
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        else:
            w.writeframes(((np.clip(x, -1, 1) * 127) + 128).astype(np.uint8).tobytes())
    return path


@pytest.fixture(scope="module")
def wake_clip(clip):
    return clip("alexa, turn on the lights in the kitchen", "en-gb")


def test_detect_json_on_mono_and_on_the_array_channels(tmp_path, wake_clip):
    x, start, kw_end, _ = wake_clip
    mono = write_wav(tmp_path / "in room.wav", x)       # a path with a space
    out = swivel("wake", "detect", str(mono), "--json")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)["detections"]
    assert [d["model"] for d in found] == ["alexa"]
    assert set(found[0]) == {"model", "start_s", "end_s", "score"}
    assert abs(found[0]["start_s"] - start) < 0.25 and found[0]["end_s"] > kw_end - 0.1
    four = write_wav(tmp_path / "four.wav", np.repeat(x[:, None], 4, axis=1))
    out = swivel("wake", "detect", str(four), "--model", "alexa", "--engine", "open")
    assert out.returncode == 0 and out.stdout.startswith("alexa "), out.stdout + out.stderr


@pytest.mark.parametrize("case,expected", [
    ("missing", "does not exist"),
    ("text", "is not a readable 16-bit PCM WAV file"),
    ("8k", "is sampled at 8000 Hz; the wake engines take 16000 Hz"),
    ("8bit", "has 8-bit samples; the wake engines take 16-bit"),
    ("short", "is too short"),
    ("3ch", "has 3 channels: give a mono file or one with the 4 mics"),
    ("model", "--model hey_siri: not a shipped micro model (shipped: alexa, hey_jarvis, hey_mycroft, okay_nabu)"),
])
def test_detect_errors_are_one_line(tmp_path, capsys, case, expected):
    ok = np.zeros(16000, np.float32)
    path = {"missing": tmp_path / "nope.wav",
            "text": tmp_path / "notes.wav",
            "8k": write_wav(tmp_path / "8k.wav", ok, rate=8000),
            "8bit": write_wav(tmp_path / "8bit.wav", ok, width=1),
            "short": write_wav(tmp_path / "short.wav", ok[:1000]),
            "3ch": write_wav(tmp_path / "3ch.wav", np.zeros((16000, 3))),
            "model": write_wav(tmp_path / "ok.wav", ok)}[case]
    if case == "text":
        path.write_text("hello")
    args = ["wake", "detect", str(path)] + (["--model", "hey_siri"] if case == "model" else [])
    assert main(args) == 2                          # in process: the same code path as the command
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("swivel: ")
    assert expected in err, err


@pytest.mark.parametrize("body,expected", [
    ('[wake]\nengine = "micro"\nmodels = ["alexa", "hey_siri"]\n',
     "line 3: wake.models: unknown wake word model 'hey_siri' for engine 'micro'; shipped: alexa, hey_jarvis, "
     "hey_mycroft, okay_nabu"),
    ('[wake]\nengine = "open"\nmodels = ["hey_rhasspy"]\nthreshold = 1.5\n', "line 4: wake.threshold: must be in 0..1"),
    ('[wake]\nmodel_file = "/nonexistent/x.tflite"\n', "line 2: wake.model_file: /nonexistent/x.tflite does not exist"),
    ('[wake]\nengine = "porcupine"\n', "line 2: wake.engine: Invalid enum value 'porcupine'"),
    ('[wake]\nrefractory = 2\n', "line 2: wake.refractory: unknown key"),
])
def test_config_errors_name_key_and_line(body, expected):
    with pytest.raises(UserError) as err:
        parse_config(body, "swivel.toml")
    assert str(err.value).startswith("swivel.toml line ") and expected in str(err.value), str(err.value)


def test_shipped_models_all_load():
    from device.wake.config import SHIPPED_MODELS
    from device.wake.engine import Detector
    for engine, models in SHIPPED_MODELS.items():
        assert [m for m, _ in Detector(engine, list(models)).names] == list(models)


def test_service_refuses_a_model_file_that_does_not_load(tmp_path):
    bad = tmp_path / "mine.tflite"
    bad.write_bytes(b"\0" * 64)
    cfg = tmp_path / "swivel.toml"
    cfg.write_text(f'[bus]\nruntime_dir = "{tmp_path / "run"}"\n\n[wake]\nengine = "open"\nmodels = []\n'
                   f'model_file = "{bad}"\n')
    out = swivel("--config", str(cfg), "service", "wake")
    assert out.returncode == 2
    assert f"wake.model_file: {bad} does not load as an openWakeWord model" in out.stderr
    assert "Traceback" not in out.stderr
