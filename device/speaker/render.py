"""Block renderer: adaptive centre upmix, then FFT convolution (overlap-save) with the designed filters; a new
design is crossfaded in over one block, so a moving listener never hears a click."""
from __future__ import annotations

import numpy as np

from .design import FilterSet

SMOOTH_S = 0.1               # time constant of the channel statistics the centre extraction follows


class SpatialRenderer:
    """Stereo in, one signal per driver out, `block` frames at a time (any input length is buffered).

    Upmix: C = k (L + R) / 2, Ls = L - C, Rs = R - C, where k in 0..1 is the normalised correlation of L and
    R (1 for mono content, 0 for hard-panned or uncorrelated content, so it never pulls a side into the
    centre), tracked with SMOOTH_S and ramped across each block. Bypass copies L/R to the drivers with
    the layout's plain-stereo gains, sample for sample.
    """

    def __init__(self, filters: FilterSet, block: int = 512):
        if filters.taps is not None and filters.taps.shape[0] > block + 1:
            raise ValueError(f"filters of {filters.taps.shape[0]} taps need a block of at least "
                             f"{filters.taps.shape[0] - 1} frames")
        self.block = block
        self.nfft = 2 * block
        self.n_drivers = filters.bypass.shape[0]
        self._current = self._spectrum(filters)
        self.filters = filters
        self._pending: FilterSet | None = None
        self._hist = np.zeros((self.nfft, 3))
        self._inbuf = np.zeros((0, 2))
        self._stats = np.zeros(3)              # smoothed L*L, R*R, L*R
        self._k = 0.0
        self._alpha = float(np.exp(-block / (SMOOTH_S * filters.rate)))
        self._fade = 0.5 - 0.5 * np.cos(np.pi * (np.arange(block) + 0.5) / block)
        self.switches = 0
        self.crossfade = True                  # tests turn it off to show what a hard switch sounds like

    def _spectrum(self, fs: FilterSet):
        if fs.taps is None:
            return None
        return np.fft.rfft(fs.taps, n=self.nfft, axis=0)          # (nfft/2+1, N, 3)

    def set_filters(self, filters: FilterSet) -> None:
        """Use these from the next block on (crossfaded in over it); the latest call wins."""
        if (filters.taps is None) != (self.filters.taps is None) or filters.bypass.shape != self.filters.bypass.shape:
            raise ValueError("a renderer keeps its mode and layout; make a new one to change them")
        if filters.taps is None:
            self.filters = filters                                 # bypass has no state to fade
            return
        self._pending = filters

    @property
    def latency(self) -> int:
        return self.filters.latency

    def process(self, stereo: np.ndarray) -> np.ndarray:
        """Append frames (n, 2) and return the driver signals (m, N) of every block now complete."""
        x = np.asarray(stereo, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"stereo input must be (frames, 2), got {x.shape}")
        if self.filters.taps is None and self._pending is None and not len(self._inbuf):
            return x @ self.filters.bypass.T                      # bypass: no blocking, no delay
        self._inbuf = np.concatenate([self._inbuf, x]) if len(self._inbuf) else x
        n = len(self._inbuf) // self.block
        out = np.empty((n * self.block, self.n_drivers))
        for i in range(n):
            out[i * self.block:(i + 1) * self.block] = self._block(self._inbuf[i * self.block:(i + 1) * self.block])
        self._inbuf = self._inbuf[n * self.block:]
        return out

    def flush(self) -> np.ndarray:
        """Push zeros through until every buffered frame and the filters' delay have come out."""
        tail = (-len(self._inbuf)) % self.block + self.block * (1 + self.latency // self.block)
        return self.process(np.zeros((tail, 2))) if self.filters.taps is not None else np.zeros((0, self.n_drivers))

    def _upmix(self, x: np.ndarray) -> np.ndarray:
        u = np.empty((len(x), 3))
        if not self.filters.upmix:
            u[:, :2], u[:, 2] = x, 0.0
            return u
        s = np.array([np.mean(x[:, 0] ** 2), np.mean(x[:, 1] ** 2), np.mean(x[:, 0] * x[:, 1])])
        self._stats = self._alpha * self._stats + (1 - self._alpha) * s
        ll, rr, lr = self._stats
        k_new = float(np.clip(2 * lr / (ll + rr), 0.0, 1.0)) if ll + rr > 1e-12 else 0.0
        k = self._k + (k_new - self._k) * self._fade          # ramp: no zipper noise
        self._k = k_new
        c = k * (x[:, 0] + x[:, 1]) / 2
        u[:, 0], u[:, 1], u[:, 2] = x[:, 0] - c, x[:, 1] - c, c
        return u

    def _block(self, x: np.ndarray) -> np.ndarray:
        b = self.block
        if self.filters.taps is None:
            return x @ self.filters.bypass.T
        self._hist[:b] = self._hist[b:]
        self._hist[b:] = self._upmix(x)
        U = np.fft.rfft(self._hist, axis=0)                        # (nfft/2+1, 3)
        y = np.fft.irfft(np.einsum("fnk,fk->fn", self._current, U), n=self.nfft, axis=0)[b:]
        if self._pending is not None:
            new = self._spectrum(self._pending)
            y_new = np.fft.irfft(np.einsum("fnk,fk->fn", new, U), n=self.nfft, axis=0)[b:]
            if self.crossfade:
                y = y + (y_new - y) * self._fade[:, None]
            else:
                y = y_new
            self._current, self.filters, self._pending = new, self._pending, None
            self.switches += 1
        return y
