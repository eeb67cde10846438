"""A mono beam of the mic array for on-device listeners (the wake engine): delay-and-sum toward the talker.

Fractional delays are short windowed-sinc FIR filters run with their state carried from block to
block, so the beam is a continuous stream with a constant latency of `TAPS // 2` samples (0.5 ms).
"""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from .geometry import ArrayGeometry

TAPS = 17                    # fractional-delay filter length; the array's largest delay is ~3 samples
MODES = ("steered", "mean", "mic0")


def fractional_delay(d: float, taps: int = TAPS) -> np.ndarray:
    n = np.arange(taps)
    h = np.sinc(n - d) * np.hamming(taps)
    return (h / h.sum()).astype(np.float64)


class Beamformer:
    """`process(block)` -> mono float32. Modes: "steered" (delay-and-sum toward `steer(azimuth)`, plain sum
    until a direction is known), "mean" (plain sum of the mics: steered straight up), "mic0" (one mic)."""

    def __init__(self, geometry: ArrayGeometry, mode: str = "steered"):
        if mode not in MODES:
            raise ValueError(f"beam mode {mode!r}; expected one of {', '.join(MODES)}")
        self.g = geometry
        self.mode = mode
        self.azimuth_deg: float | None = None
        self._zi = np.zeros((geometry.n_mics, TAPS - 1))
        self._filters = self._design(None)

    def _design(self, azimuth_deg: float | None) -> np.ndarray:
        centre = (TAPS - 1) / 2
        if azimuth_deg is None:
            return np.stack([fractional_delay(centre) for _ in range(self.g.n_mics)])
        arrival = self.g.far_field_delays(np.array([azimuth_deg]))[0] * self.g.sample_rate   # samples, (M,)
        # delay the mics that heard it first by more, so every mic's copy lines up
        return np.stack([fractional_delay(centre - a) for a in arrival])

    def steer(self, azimuth_deg: float | None) -> None:
        """Point the beam at a device-frame azimuth (None: unsteered). Re-designs only on a real change."""
        if self.mode != "steered":
            return
        if azimuth_deg is None and self.azimuth_deg is None:
            return
        if azimuth_deg is not None and self.azimuth_deg is not None and \
                abs((azimuth_deg - self.azimuth_deg + 180) % 360 - 180) < 5.0:
            return
        self.azimuth_deg = azimuth_deg
        self._filters = self._design(azimuth_deg)

    def process(self, block: np.ndarray) -> np.ndarray:
        """block: (n, mics) float32 in mic order -> (n,) float32."""
        if self.mode == "mic0":
            return np.asarray(block[:, 0], np.float32)
        out = np.zeros(block.shape[0])
        for m in range(self.g.n_mics):
            y, self._zi[m] = lfilter(self._filters[m], 1.0, block[:, m], zi=self._zi[m])
            out += y
        return (out / self.g.n_mics).astype(np.float32)
