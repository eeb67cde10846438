"""Both engines on rendered room clips: the wake word is found with its span; other speech wakes nothing."""
from __future__ import annotations

import numpy as np
import pytest

from device.errors import UserError
from device.wake.engine import RATE, Detector, KeywordSpan, detect_file

# voices both engines hear reliably on espeak-ng (see BENCHMARKS.md "Wake word" for all of them)
VOICES = ("en-gb", "en-gb+f2")


@pytest.mark.parametrize("engine", ["micro", "open"])
@pytest.mark.parametrize("voice", VOICES)
def test_wake_word_found_with_its_span(clip, engine, voice):
    x, start, kw_end, end = clip("alexa, turn on the lights in the kitchen", voice)
    found = detect_file(x, engine=engine, models=["alexa"])
    assert len(found) == 1, found
    d = found[0]
    assert d.model == "alexa" and 0.0 < d.score <= 1.0
    # the span: the onset within a quarter second of the real one; the decision after the keyword
    # ended but well before the command did
    assert abs(d.start / RATE - start) < 0.25, (d.start / RATE, start)
    assert kw_end - 0.1 <= d.end / RATE <= kw_end + 0.6, (d.end / RATE, kw_end)
    assert d.end / RATE < end - 0.5


@pytest.mark.parametrize("engine", ["micro", "open"])
def test_nothing_found_in_other_speech(clip, engine):
    texts = [("what is the weather like today", VOICES[0]), ("please call my sister in the evening", VOICES[1]),
             ("turn on the lights in the kitchen", VOICES[0]), ("how long do I bake the bread", VOICES[1])]
    x = np.concatenate([clip(t, v)[0] for t, v in texts])        # one stream of four sentences
    assert detect_file(x, engine=engine, models=["alexa", "hey_jarvis", "hey_mycroft", "okay_nabu"]) == []


def test_refractory_time_gives_one_detection_per_keyword(clip):
    x, *_ = clip("alexa, turn on the lights in the kitchen", "en-gb")
    # the same clip twice, 1 s apart: a 10 s refractory time keeps the second one quiet
    twice = np.concatenate([x, np.zeros(RATE, np.float32), x])
    assert len(detect_file(twice, refractory_s=0.5)) == 2
    assert len(detect_file(twice, refractory_s=10.0)) == 1


def test_keyword_onset_found_across_the_pause_after_the_word():
    """Energy: silence, a 0.5 s word, a 0.15 s pause, more speech; detection 0.2 s after the word."""
    rng = np.random.default_rng(0)
    quiet, loud = 0.001, 0.1
    parts = [(1.0, quiet), (0.5, loud), (0.15, quiet), (1.0, loud)]
    x = np.concatenate([rng.standard_normal(int(s * RATE)) * a for s, a in parts]).astype(np.float32)
    span = KeywordSpan()
    span.push(x[: int(1.7 * RATE)])
    assert abs(span.start_of(int(1.7 * RATE)) / RATE - 1.0) < 0.03


def test_unknown_model_and_bad_model_file(tmp_path):
    with pytest.raises(UserError, match="shipped: alexa, hey_jarvis, hey_mycroft, okay_nabu"):
        Detector("micro", ["hey_siri"])
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"not a model")
    with pytest.raises(UserError, match="broken.tflite does not load"):
        Detector("open", [], model_file=str(bad))
    cfg = tmp_path / "broken.json"
    cfg.write_text('{"model": "broken.tflite", "wake_word": "x", "micro": {"probability_cutoff": 0.5, '
                   '"sliding_window_size": 5}}')
    with pytest.raises(UserError, match="broken.json does not load"):
        Detector("micro", [], model_file=str(cfg))
