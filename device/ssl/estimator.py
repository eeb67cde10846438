"""Direction of arrival by weighted SRP-PHAT: onset- and SNR-weighted cross-spectra integrated over an utterance."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .geometry import ArrayGeometry


@dataclass(frozen=True)
class EstimatorParams:
    """Tunable knobs; the defaults are the ones chosen by tools/bench/bench_ssl.py."""
    frame: int = 512                 # samples per analysis frame (32 ms at 16 kHz)
    hop: int = 256
    fmin_hz: float = 250.0           # below: room modes and rumble, little direction information
    fmax_hz: float = 4000.0          # above: little speech energy from a distant talker, spatial aliasing
    grid_deg: float = 1.0            # azimuth grid step before parabolic refinement
    elevations_deg: tuple[float, ...] = (0.0, 30.0)  # talkers stand above a table-top device
    noise_percentile: float = 20.0   # per-bin noise floor = this percentile of bin power over the span
    snr_floor_db: float = 3.0        # TF bins below this local SNR do not vote
    onset_memory_s: float = 0.05     # time constant of the "recent past" an onset is measured against
    onset_gain: float = 4.0          # how much more an onset bin votes than a steady one
    chunk_s: float = 0.25            # span of the per-chunk maps the ambiguity vote uses
    min_separation_deg: float = 60.0 # two candidates closer than this are one source
    ambiguous_ratio: float = 0.7     # second source at >= this share of the first's power: ambiguous
    ambiguous_vote: float = 0.25     # or: this share of speech chunks points at the second source
    rom_keep_ratio: float = 0.6      # best in-ROM peak must reach this share of the overall best
    max_candidates: int = 4
    min_candidate_power: float = 0.15  # weaker peaks are side lobes, not worth listing


@dataclass
class DoaResult:
    """What the estimator concluded about one span of audio (device frame)."""
    azimuth_deg: float | None
    confidence: float
    ambiguous: bool
    candidates: list[tuple[float, float]]          # (azimuth_deg, power 0..1), strongest first
    energy_map: np.ndarray = field(repr=False)     # normalized SRP over the azimuth grid
    grid_deg: np.ndarray = field(repr=False)
    speech_frames: int = 0

    def as_json(self) -> dict:
        return {
            "azimuth_deg": None if self.azimuth_deg is None else round(self.azimuth_deg, 2),
            "confidence": round(self.confidence, 3),
            "ambiguous": self.ambiguous,
            "candidates": [{"azimuth_deg": round(a, 2), "power": round(p, 3)} for a, p in self.candidates],
        }

    def coarse_map(self, bins: int = 72) -> list[float]:
        """Energy map pooled into `bins` sectors, bin 0 starting at -180 deg (for the light bar and live view)."""
        idx = ((self.grid_deg + 180.0) % 360.0 / 360.0 * bins).astype(int) % bins
        out = np.zeros(bins)
        np.maximum.at(out, idx, np.clip(self.energy_map, 0.0, None))
        return [round(float(v), 3) for v in out]


def wrap_deg(a):
    """Wrap an angle (or array of angles) into [-180, 180)."""
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


def angular_distance(a, b):
    return np.abs(wrap_deg(np.asarray(a) - np.asarray(b)))


def in_rom(azimuth_deg: float, rom: tuple[float, float] | None) -> bool:
    """Is a direction inside the range of motion [min, max] (degrees, same frame; min > max wraps through 180)?"""
    if rom is None:
        return True
    lo, hi = rom
    if hi - lo >= 360.0:
        return True
    lo, hi, a = (float(wrap_deg(v)) for v in (lo, hi, azimuth_deg))
    return lo <= a <= hi if lo <= hi else (a >= lo or a <= hi)


class SrpPhatEstimator:
    """Steered response power with phase transform over every mic pair, on a fixed azimuth grid.

    Each time-frequency bin votes with its PHAT-normalized cross-spectrum, weighted by its local SNR
    and by how much of its energy is new (an onset carries the direct sound before the reflections),
    and the votes are summed over the utterance before the map is searched for peaks.
    """

    def __init__(self, geometry: ArrayGeometry, params: EstimatorParams | None = None):
        self.geometry = geometry
        self.p = params or EstimatorParams()
        p, fs = self.p, geometry.sample_rate
        self.window = np.hanning(p.frame).astype(np.float32)
        freqs = np.fft.rfftfreq(p.frame, 1.0 / fs)
        self.bins = np.flatnonzero((freqs >= p.fmin_hz) & (freqs <= min(p.fmax_hz, fs / 2 - 1)))
        self.omega = 2 * np.pi * freqs[self.bins]
        self.pairs = np.array(geometry.pairs())
        self.grid = np.arange(-180.0, 180.0, p.grid_deg)
        # steering[e, a, q, k] = exp(j w_k (d_i - d_j)) re-aligns pair q's cross-spectrum for direction a
        steer = []
        for el in p.elevations_deg:
            d = geometry.far_field_delays(self.grid, el)                      # (A, M)
            tdoa = d[:, self.pairs[:, 0]] - d[:, self.pairs[:, 1]]            # (A, Q)
            steer.append(np.exp(1j * tdoa[:, :, None] * self.omega[None, None, :]).astype(np.complex64))
        self.steering = np.stack(steer)                                       # (E, A, Q, K)
        self.onset_alpha = float(np.exp(-p.hop / (p.onset_memory_s * fs)))

    # -- time-frequency analysis --------------------------------------------------------------------
    def spectra(self, audio: np.ndarray) -> np.ndarray:
        """STFT of the mic channels restricted to the analysis band: (T, M, K) complex64."""
        p = self.p
        x = np.asarray(audio, dtype=np.float32)
        n = x.shape[0]
        if n < p.frame:
            return np.zeros((0, x.shape[1], len(self.bins)), np.complex64)
        starts = np.arange(0, n - p.frame + 1, p.hop)
        idx = starts[:, None] + np.arange(p.frame)[None, :]
        frames = x[idx] * self.window[None, :, None]                          # (T, N, M)
        spec = np.fft.rfft(frames, axis=1)[:, self.bins, :]                   # (T, K, M)
        return np.ascontiguousarray(spec.transpose(0, 2, 1)).astype(np.complex64)

    def weights(self, spec: np.ndarray) -> np.ndarray:
        """Vote of each time-frequency bin: local-SNR mask times onset emphasis, (T, K)."""
        p = self.p
        power = np.mean(np.abs(spec) ** 2, axis=1) + 1e-20                   # (T, K)
        noise = np.percentile(power, p.noise_percentile, axis=0)[None, :]
        snr_db = 10 * np.log10(power / noise)
        snr_w = np.clip((snr_db - p.snr_floor_db) / 10.0, 0.0, 1.0)
        # recent past of each bin, by a one-pole smoother that only looks backwards
        past = np.empty_like(power)
        acc = power[0].copy()
        a = self.onset_alpha
        for t in range(power.shape[0]):
            past[t] = acc
            acc = a * acc + (1 - a) * power[t]
        new_share = np.clip(1.0 - past / power, 0.0, 1.0)
        return (snr_w * (1.0 + p.onset_gain * new_share)).astype(np.float32)

    def cross_spectra(self, spec: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Weighted PHAT cross-spectrum of every pair in every frame: (T, Q, K)."""
        cs = spec[:, self.pairs[:, 0], :] * np.conj(spec[:, self.pairs[:, 1], :])
        cs /= np.abs(cs) + 1e-12
        return cs * w[:, None, :]

    def srp(self, g: np.ndarray) -> np.ndarray:
        """Steered response of summed cross-spectra g (Q, K) or a stack (C, Q, K): best over elevation, (A,) or (C, A)."""
        flat = g.reshape(-1, g.shape[-2] * g.shape[-1])                        # (C, Q*K)
        st = self.steering.reshape(self.steering.shape[0], self.steering.shape[1], -1)  # (E, A, Q*K)
        resp = np.real(np.einsum("cx,eax->cea", flat, st))
        out = resp.max(axis=1)
        return out[0] if g.ndim == 2 else out

    # -- whole-span estimate -------------------------------------------------------------------------
    def locate(self, audio: np.ndarray, rom: tuple[float, float] | None = None) -> DoaResult:
        """Localize the dominant talker in `audio` (n, M): device-frame azimuth, confidence, candidates."""
        p = self.p
        spec = self.spectra(audio)
        if spec.shape[0] < 3:
            return self._empty()
        w = self.weights(spec)
        cs = self.cross_spectra(spec, w)
        total_w = float(w.sum()) * len(self.pairs)
        if total_w <= 1e-6:
            return self._empty()
        g = cs.sum(axis=0)
        srp = self.srp(g) / total_w                                             # in [-1, 1]
        # per-chunk maps for the vote that separates two talkers taking turns
        per_chunk = max(1, int(round(p.chunk_s * self.geometry.sample_rate / p.hop)))
        n_chunks = cs.shape[0] // per_chunk
        chunk_peaks = np.empty(0)
        if n_chunks >= 2:
            cw = w[: n_chunks * per_chunk].reshape(n_chunks, per_chunk, -1).sum(axis=(1, 2))
            gc = cs[: n_chunks * per_chunk].reshape(n_chunks, per_chunk, *cs.shape[1:]).sum(axis=1)
            keep = cw > 0.25 * np.median(cw[cw > 0]) if np.any(cw > 0) else np.zeros(0, bool)
            if np.count_nonzero(keep) >= 2:
                maps = self.srp(gc[keep])
                chunk_peaks = self.grid[np.argmax(maps, axis=1)]
        return self._decide(srp, chunk_peaks, rom, speech_frames=int(np.count_nonzero(w.sum(axis=1) > 0)))

    def _empty(self) -> DoaResult:
        return DoaResult(None, 0.0, False, [], np.zeros_like(self.grid), self.grid, 0)

    def _decide(self, srp: np.ndarray, chunk_peaks: np.ndarray, rom, speech_frames: int) -> DoaResult:
        p = self.p
        floor = float(np.median(srp))
        peaks = self._peaks(srp)
        top = srp[peaks[0]] - floor if peaks else 0.0
        if not peaks or top <= 1e-9:
            return self._empty()
        cands = [(self._refine(srp, i), float((srp[i] - floor) / top)) for i in peaks]
        # candidates closer than min_separation to a stronger one are its side lobes or reflections
        kept: list[tuple[float, float]] = []
        for az, pw in cands:
            if pw < p.min_candidate_power:
                break
            if all(angular_distance(az, k[0]) >= p.min_separation_deg for k in kept):
                kept.append((az, pw))
        kept = kept[: p.max_candidates]
        energy = (srp - floor) / top
        best_az, _ = kept[0]
        ambiguous = False
        if len(kept) > 1:
            second_az, second_pw = kept[1]
            vote = (float(np.mean(angular_distance(chunk_peaks, second_az) < 20.0))
                    if chunk_peaks.size else 0.0)
            ambiguous = second_pw >= p.ambiguous_ratio or vote >= p.ambiguous_vote
        uniqueness = 1.0 - (kept[1][1] if len(kept) > 1 else 0.0)
        coherence = float(srp[peaks[0]])
        confidence = float(np.clip(coherence / 0.4, 0.0, 1.0) * np.clip(uniqueness, 0.0, 1.0))
        azimuth: float | None = best_az
        if rom is not None and not in_rom(best_az, rom):
            inside = [c for c in kept if in_rom(c[0], rom)]
            if inside and inside[0][1] >= p.rom_keep_ratio:
                azimuth = inside[0][0]
                confidence *= inside[0][1]
            else:
                azimuth, confidence = None, 0.0
        return DoaResult(azimuth, confidence, ambiguous, kept, energy, self.grid, speech_frames)

    def _peaks(self, srp: np.ndarray) -> list[int]:
        """Indices of circular local maxima, strongest first."""
        left, right = np.roll(srp, 1), np.roll(srp, -1)
        idx = np.flatnonzero((srp >= left) & (srp > right))
        return list(idx[np.argsort(srp[idx])[::-1]])

    def _refine(self, srp: np.ndarray, i: int) -> float:
        """Sub-grid peak position by a parabola through the peak and its two neighbours."""
        y0, y1, y2 = srp[i - 1], srp[i], srp[(i + 1) % len(srp)]
        den = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / den if den < 0 else 0.0
        return float(wrap_deg(self.grid[i] + np.clip(shift, -0.5, 0.5) * self.p.grid_deg))
