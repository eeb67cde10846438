"""Rendered room clips for the wake tests: real espeak-ng speech through pyroomacoustics, heard by the beam."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.signal import fftconvolve

from device.sim.acoustics import room_impulse_responses
from device.sim.speech import synthesize
from device.ssl.beam import Beamformer
from device.ssl.geometry import load_array

ROOM = (5.0, 4.0, 2.6)
DEVICE = np.array([2.5, 2.0, 0.9])


@functools.lru_cache(maxsize=4)
def _rirs(azimuth_deg: float, rt60_s: float) -> np.ndarray:
    array = load_array("respeaker4")
    a = np.radians(azimuth_deg)
    src = DEVICE + np.array([1.5 * np.cos(a), 1.5 * np.sin(a), 0.7])
    return room_impulse_responses(ROOM, rt60_s, src, array.positions - array.center + DEVICE, 16000, seed=3)


def render_clip(text: str, voice: str, azimuth_deg: float = 60.0, rt60_s: float = 0.4, lead_s: float = 1.0,
                snr_db: float = 30.0) -> tuple[np.ndarray, float, float, float]:
    """Mono beam of one utterance in a room with white noise; returns (samples, start s, keyword end s, end s)."""
    speech = synthesize(text, voice, 16000) * 0.05
    kw_end = lead_s + len(synthesize(text.split(",")[0], voice, 16000)) / 16000
    lead = int(lead_s * 16000)
    dry = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(24000, np.float32)])
    wet = np.stack([fftconvolve(dry, h)[: len(dry)] for h in _rirs(azimuth_deg, rt60_s)], axis=1)
    rms = np.sqrt(np.mean(wet[lead: lead + len(speech)] ** 2))
    wet += np.random.default_rng(3).standard_normal(wet.shape) * rms * 10 ** (-snr_db / 20)
    return (Beamformer(load_array("respeaker4"), "mean").process(wet.astype(np.float32)), lead_s, kw_end,
            lead_s + len(speech) / 16000)


@pytest.fixture(scope="session")
def clip():
    cache = {}

    def get(text, voice, **kw):
        key = (text, voice, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = render_clip(text, voice, **kw)
        return cache[key]
    return get
