"""Shared helpers of the ssl tests: plane waves with exact delays, and WAV writing."""
import numpy as np
import pytest
from scipy.io import wavfile


def _plane_wave(geometry, azimuth_deg, signal, elevation_deg=0.0):
    """Exactly delayed copies of `signal` at each mic for a far-field source (fractional delays in frequency)."""
    fs = geometry.sample_rate
    d = geometry.far_field_delays(np.array([azimuth_deg]), elevation_deg)[0]
    n = len(signal)
    spec = np.fft.rfft(signal)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    return np.stack([np.fft.irfft(spec * np.exp(-2j * np.pi * f * di), n) for di in d], axis=1)


@pytest.fixture
def plane_wave():
    return _plane_wave


@pytest.fixture
def noise_source():
    def make(seconds, fs, seed):
        rng = np.random.default_rng(seed)
        return rng.standard_normal(int(seconds * fs))
    return make


@pytest.fixture
def write_wav(tmp_path):
    def write(name, rate, data):
        path = tmp_path / name
        wavfile.write(path, rate, data)
        return str(path)
    return write
