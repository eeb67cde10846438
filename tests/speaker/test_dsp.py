"""The DSP core on the acoustic models: crosstalk cancellation separates, bypass is exact, switches do not click."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, oaconvolve, sosfiltfilt

from device.speaker.acoustics import Listener, paths
from device.speaker.design import design
from device.speaker.drivers import load_drivers
from device.speaker.evaluate import ear_responses, mono_response, separation_db, tonal_deviation_db
from device.speaker.render import SpatialRenderer

RATE = 48000
FREQS = np.fft.rfftfreq(4096, 1 / RATE)


@pytest.mark.parametrize("layout", ["cyl2", "cyl4"])
def test_crosstalk_cancellation_separates_the_ears(layout):
    drivers = load_drivers(layout)
    listener = Listener(15.0, 1.5)
    ctc, plain = design(drivers, listener, "ctc"), design(drivers, listener, "bypass")
    for model, floor in (("design", 12.0), ("sphere", 10.0)):       # "sphere" was never used to design
        H = paths(model, drivers.positions, listener, FREQS)
        sep = separation_db(ear_responses(ctc, H), FREQS)
        sep_plain = separation_db(ear_responses(plain, H), FREQS)
        assert sep >= floor, (model, sep)
        assert sep - sep_plain >= 9.0, (model, sep, sep_plain)
    # Designed for the wrong place (30 degrees off), the cancellation is mostly gone: tracking matters.
    wrong = design(drivers, Listener(-15.0, 1.5), "ctc")
    H = paths("sphere", drivers.positions, listener, FREQS)
    assert separation_db(ear_responses(wrong, H), FREQS) < separation_db(ear_responses(ctc, H), FREQS) - 6


def test_centre_keeps_the_tonal_balance_of_mono():
    drivers = load_drivers("cyl4")
    listener = Listener(-10.0, 2.0)
    H = paths("sphere", drivers.positions, listener, FREQS)
    spatial, plain = design(drivers, listener, "spatial"), design(drivers, listener, "bypass")
    dev = tonal_deviation_db(mono_response(spatial, ear_responses(spatial, H)),
                             mono_response(plain, ear_responses(plain, H)), FREQS)
    assert dev < 1.5, dev


@pytest.mark.parametrize("layout", ["cyl2", "cyl4"])
def test_bypass_is_identical(layout):
    drivers = load_drivers(layout)
    renderer = SpatialRenderer(design(drivers, Listener(0.0, 1.0), "bypass"))
    x = np.random.default_rng(1).uniform(-1, 1, (5000, 2))
    y = np.concatenate([renderer.process(x[i:i + 700]) for i in range(0, len(x), 700)])
    assert y.shape == (5000, drivers.n_drivers)
    for n, role in enumerate(drivers.stereo):
        assert np.array_equal(y[:, n], x[:, "LR".index(role)])


def test_streaming_equals_offline_convolution():
    drivers = load_drivers("cyl2")
    fs = design(drivers, Listener(20.0, 2.5), "ctc")
    x = np.random.default_rng(2).standard_normal((20000, 2))
    renderer = SpatialRenderer(fs)
    chunks = [37, 512, 1000, 3, 4096]
    out, i, c = [], 0, 0
    while i < len(x):
        out.append(renderer.process(x[i:i + chunks[c % len(chunks)]]))
        i += chunks[c % len(chunks)]
        c += 1
    y = np.concatenate(out + [renderer.flush()])
    ref = np.stack([oaconvolve(x[:, 0], fs.taps[:, n, 0]) + oaconvolve(x[:, 1], fs.taps[:, n, 1])
                    for n in range(2)], axis=1)
    assert np.allclose(y[:len(ref)], ref[:len(y)], atol=1e-9)


def test_upmix_sends_mono_to_the_centre_and_keeps_panned_sides():
    drivers = load_drivers("cyl2")
    x = np.random.default_rng(3).standard_normal(48000)
    mono = SpatialRenderer(design(drivers, Listener(0.0, 1.5), "spatial"))
    mono.process(np.stack([x, x], axis=1))
    assert mono._k > 0.99
    panned = SpatialRenderer(design(drivers, Listener(0.0, 1.5), "spatial"))
    panned.process(np.stack([x, np.zeros_like(x)], axis=1))
    assert panned._k == 0.0


def _moving_listener_output(crossfade: bool) -> np.ndarray:
    """A 500 Hz tone while the listener walks from -30 to +30 degrees, filters redesigned every 4 blocks."""
    drivers = load_drivers("cyl2")
    block, seconds = 512, 1.5
    t = np.arange(int(RATE * seconds)) / RATE
    x = np.stack([np.sin(2 * np.pi * 500 * t), 0.5 * np.sin(2 * np.pi * 500 * t + 1.0)], axis=1)
    renderer = SpatialRenderer(design(drivers, Listener(-30.0, 1.5), "ctc"), block)
    renderer.crossfade = crossfade
    out = []
    for i in range(0, len(x), block):
        if i // block % 4 == 0:
            bearing = -30.0 + 60.0 * i / len(x)
            renderer.set_filters(design(drivers, Listener(bearing, 1.5 + 0.5 * i / len(x)), "ctc"))
        out.append(renderer.process(x[i:i + block]))
    assert renderer.switches >= 30
    return np.concatenate(out)[2 * block:]                 # past the filters' start-up


def test_moving_listener_has_no_click():
    smooth, hard = _moving_listener_output(True), _moving_listener_output(False)
    hp = butter(8, 3000, "highpass", fs=RATE, output="sos")
    for y in (smooth, hard):
        assert np.all(np.isfinite(y))
    # Broadband transient: what is left above 3 kHz of a 500 Hz tone, against the tone's level.
    def transient_db(y):
        high = sosfiltfilt(hp, y, axis=0)[2000:-2000]               # the filter's own edge effects left out
        return 20 * np.log10(np.max(np.abs(high)) / np.sqrt(np.mean(y ** 2)))
    assert transient_db(smooth) < -60, transient_db(smooth)
    assert transient_db(hard) > -40                                 # the test does see a click when there is one
    # Sample-to-sample jump bounded by what a 500 Hz tone of the output's peak can do.
    bound = 1.3 * 2 * np.pi * 500 / RATE * np.max(np.abs(smooth), axis=0)
    assert np.all(np.max(np.abs(np.diff(smooth, axis=0)), axis=0) <= bound)
