"""Direction of arrival by weighted SRP-PHAT: onset- and SNR-weighted cross-spectra integrated over an utterance."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft

from .geometry import ArrayGeometry


@dataclass(frozen=True)
class EstimatorParams:
    """Tunable knobs; the defaults are the ones chosen by tools/bench/bench_ssl.py."""
    frame: int = 512                 # samples per analysis frame (32 ms at 16 kHz)
    hop: int = 256
    fmin_hz: float = 250.0           # below: room modes and rumble, little direction information
    fmax_hz: float = 7900.0          # fricatives carry sharp direction cues; capped below Nyquist
    grid_deg: float = 1.0            # azimuth grid step before parabolic refinement
    elevations_deg: tuple[float, ...] = (0.0, 30.0)  # talkers stand above a table-top device
    noise_percentile: float = 20.0   # per-bin noise floor = this percentile of bin power over the span
    snr_floor_db: float = 6.0        # TF bins below this local SNR do not vote
    onset_memory_s: float = 0.05     # time constant of the "recent past" an onset is measured against
    onset_gain: float = 8.0          # how much more an onset bin votes than a steady one
    vote_elevation_deg: float = 20.0 # elevation the frame-by-frame vote maps are steered at
    vote_min_share: float = 0.3      # frames below this share of the median frame weight do not vote
    vote_width_deg: float = 15.0     # a vote this close to a direction counts for it
    vote_coherence_power: float = 0.0  # >0: frames dominated by one plane wave vote louder (measured: no gain)
    min_separation_deg: float = 60.0 # two candidates closer than this are one source
    ambiguous_ratio: float = 0.8     # second map peak at >= this share of the first's power: ambiguous
    ambiguous_vote: float = 0.25     # or: the second direction wins this many frames per frame of the first
    ambiguous_min_power: float = 0.1 # ...and stands this high in the summed map (scattered noise votes do not)
    # the ambiguity decision (see README "Ambiguity"): evidence that a rival direction is an independent
    # talker, not a reflection, an interferer or noise, weighed by a linear score fitted on the tuning draw
    ambiguity_chunks: int = 8        # the utterance is cut into this many sub-windows of equal frame count
    ambiguity_min_vote: float = 0.1  # a rival with fewer votes per vote of the winner is never a talker
    # score = w . (1, ln votes, persistence, power, subwindow, winner_left, second map peak, coherence); fitted by
    # logistic regression on the tuning draw (bench_ssl.py --fit-ambiguity); persistence carries most of it
    ambiguity_weights: tuple[float, ...] = (-1.64, -1.10, 27.85, 3.17, 4.21, -3.65, 0.0, -18.09)
    ambiguity_certain_vote: float = 0.8  # a rival with this many votes per vote of the winner: ambiguous outright
    ambiguity_threshold: float = -0.5  # score >= this: ambiguous (tuning draw: 2.4 % of singles, 95 % of pairs)
    ambiguity_rule: str = "evidence" # "votes": the earlier rule (vote share and map peak thresholds above)
    ambiguity_onset_power: float = 0.0  # >0: the evidence's frame votes come from onset bins only (measured: worse)
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
    evidence: dict = field(default_factory=dict, repr=False)  # the ambiguity decision's inputs and score

    def as_json(self) -> dict:
        def deg(a: float) -> float:
            return float(wrap_deg(round(a, 2)))          # rounding must not push 179.999 out of [-180, 180)
        return {
            "azimuth_deg": None if self.azimuth_deg is None else deg(self.azimuth_deg),
            "confidence": round(self.confidence, 3),
            "ambiguous": self.ambiguous,
            "candidates": [{"azimuth_deg": deg(a), "power": round(p, 3)} for a, p in self.candidates],
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
        # frame-by-frame maps for the talker vote: GCC-PHAT of each pair read at each direction's lag
        self.vote_nfft = p.frame * 2                                          # lags in half samples
        d = geometry.far_field_delays(self.grid, p.vote_elevation_deg)
        lag = (d[:, self.pairs[:, 0]] - d[:, self.pairs[:, 1]]) * fs * 2
        self.vote_lag = np.round(lag).astype(int) % self.vote_nfft           # (A, Q)
        self.vote_near = (angular_distance(self.grid[:, None], self.grid[None, :]) <= p.vote_width_deg).astype(float)
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
        spec = scipy.fft.rfft(frames, axis=1)[:, self.bins, :]                # (T, K, M), float32 maths
        return np.ascontiguousarray(spec.transpose(0, 2, 1)).astype(np.complex64)

    def weights(self, spec: np.ndarray) -> np.ndarray:
        """Vote of each time-frequency bin: local-SNR mask times onset emphasis, (T, K)."""
        snr_w, new_share = self.weight_parts(spec)
        return (snr_w * (1.0 + self.p.onset_gain * new_share)).astype(np.float32)

    def weight_parts(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per time-frequency bin: the local-SNR mask (0..1) and the onset share (0..1), each (T, K)."""
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
        return snr_w, new_share

    def cross_spectra(self, spec: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Weighted PHAT cross-spectrum of every pair in every frame: (T, Q, K)."""
        cs = spec[:, self.pairs[:, 0], :] * np.conj(spec[:, self.pairs[:, 1], :])
        cs /= np.abs(cs) + 1e-12
        return cs * w[:, None, :]

    def frame_maps(self, cs: np.ndarray, w: np.ndarray, turn: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each voting speech frame's own map: (frame indices (F,), maps (F, A) in [-1, 1], vote weights (F,)).

        Frames come through GCC-PHAT read at each direction's lag, which costs far less than steering
        every frame. With `turn`, each map is rotated into the common frame of reference.
        """
        p = self.p
        fw = w.sum(axis=1)
        speech = fw > 0
        if np.count_nonzero(speech) < 2:
            return np.zeros(0, int), np.zeros((0, len(self.grid)), np.float32), np.zeros(0)
        voters = np.flatnonzero(fw >= p.vote_min_share * np.median(fw[speech]))
        maps = np.empty((len(voters), len(self.grid)), np.float32)
        vote = fw[voters].astype(float)
        for lo in range(0, len(voters), 64):
            f = voters[lo: lo + 64]
            full = np.zeros((len(f), len(self.pairs), self.vote_nfft // 2 + 1), np.complex64)
            full[:, :, self.bins] = cs[f] / (fw[f][:, None, None] + 1e-12)
            gcc = scipy.fft.irfft(full, self.vote_nfft, axis=-1)              # (F, Q, nfft) float32
            m = gcc[:, 0, self.vote_lag[:, 0]]                                # (F, A)
            for k in range(1, len(self.pairs)):
                m += gcc[:, k, self.vote_lag[:, k]]
            if p.vote_coherence_power:
                # coherence: the peak against what one clean plane wave would give (all pairs in phase)
                ideal = np.zeros((len(f), self.vote_nfft // 2 + 1), np.float32)
                ideal[:, self.bins] = w[f] / (fw[f][:, None] + 1e-12)
                ideal_peak = len(self.pairs) * scipy.fft.irfft(ideal, self.vote_nfft)[:, 0] + 1e-12
                vote[lo: lo + 64] *= np.clip(m.max(axis=1) / ideal_peak, 0.0, 1.0) ** p.vote_coherence_power
            maps[lo: lo + 64] = m / len(self.pairs)
        if turn is not None:
            steps = np.round(turn[voters] / p.grid_deg).astype(int)
            cols = (np.arange(len(self.grid))[None, :] - steps[:, None]) % len(self.grid)
            maps = np.take_along_axis(maps, cols, axis=1)
        return voters, maps, vote

    def frame_votes(self, cs: np.ndarray, w: np.ndarray, turn: np.ndarray | None = None) -> np.ndarray:
        """Weighted histogram over the azimuth grid of where each speech frame's map peaks.

        Two talkers at once each dominate their own frames (speech is sparse in time and frequency),
        so both show up here even when one is weaker in the summed map.
        """
        _, maps, vote = self.frame_maps(cs, w, turn)
        return self._histogram(maps, vote)

    def _histogram(self, maps: np.ndarray, vote: np.ndarray) -> np.ndarray:
        hist = np.zeros(len(self.grid))
        if len(vote):
            np.add.at(hist, np.argmax(maps, axis=1), vote)
        return hist / (hist.sum() + 1e-12)

    def srp(self, g: np.ndarray, every: int = 1) -> np.ndarray:
        """Steered response of summed cross-spectra g (Q, K) or a stack (C, Q, K): best over elevation, (A,) or (C, A).
        every: only every so many grid directions (A / every of them): that much cheaper, that much coarser."""
        flat = g.reshape(-1, g.shape[-2] * g.shape[-1])                        # (C, Q*K)
        steering = self.steering if every == 1 else self.steering[:, ::every]
        st = steering.reshape(steering.shape[0], steering.shape[1], -1)        # (E, A, Q*K)
        resp = np.real(np.einsum("cx,eax->cea", flat, st))
        out = resp.max(axis=1)
        return out[0] if g.ndim == 2 else out

    # -- whole-span estimate -------------------------------------------------------------------------
    def frame_centers(self, n_samples: int) -> np.ndarray:
        """Sample index of the centre of each analysis frame of a span of n_samples."""
        if n_samples < self.p.frame:
            return np.zeros(0)
        return np.arange(0, n_samples - self.p.frame + 1, self.p.hop) + self.p.frame / 2

    def locate(self, audio: np.ndarray, rom: tuple[float, float] | None = None,
               frame_turn_deg: np.ndarray | None = None) -> DoaResult:
        """Localize the dominant talker in `audio` (n, M): device-frame azimuth, confidence, candidates.

        frame_turn_deg: for each analysis frame (see frame_centers), how far the device was turned
        (counter-clockwise, degrees) relative to the moment the answer refers to; each frame's map is
        rotated back by it, so speech heard while turning adds up in one frame of reference.
        """
        p = self.p
        spec = self.spectra(audio)
        if spec.shape[0] < 3:
            return self._empty()
        snr_w, new_share = self.weight_parts(spec)
        w = (snr_w * (1.0 + p.onset_gain * new_share)).astype(np.float32)
        cs = self.cross_spectra(spec, w)
        total_w = float(w.sum()) * len(self.pairs)
        if total_w <= 1e-6:
            return self._empty()
        turn = None
        if frame_turn_deg is not None:
            turn = np.asarray(frame_turn_deg, float)
            if turn.shape != (cs.shape[0],):
                raise ValueError(f"frame_turn_deg needs one value per frame ({cs.shape[0]}), got {turn.shape}")
            if np.all(np.abs(turn) < 0.5 * p.grid_deg):
                turn = None                                                    # did not turn: fast path
        steps = None if turn is None else np.round(turn / p.grid_deg).astype(int)
        srp = self._span_srp(cs, steps) / total_w                               # in [-1, 1]
        voters, maps, vote = self.frame_maps(cs, w, turn)
        votes = self._histogram(maps, vote)
        frames = (maps, vote)
        if p.ambiguity_onset_power > 0:
            # the ambiguity evidence from onsets alone: the direct sound leads each onset, so a wall's
            # echo wins fewer of these frames, while a second talker's onsets are its own direct sound
            wo = (snr_w * new_share ** p.ambiguity_onset_power).astype(np.float32)
            _, omaps, ovote = self.frame_maps(self.cross_spectra(spec, wo), wo, turn)
            frames = (omaps, ovote)

        def subwindow_maps() -> list[np.ndarray]:
            """Summed maps of the sub-windows (equal counts of voting frames), each in [-1, 1]."""
            out = []
            for chunk in np.array_split(voters, max(1, p.ambiguity_chunks)):
                if len(chunk):
                    sw = float(w[chunk].sum()) * len(self.pairs)
                    out.append(self._span_srp(cs[chunk], None if steps is None else steps[chunk]) / (sw + 1e-12))
            return out
        return self._decide(srp, votes, rom, speech_frames=int(np.count_nonzero(w.sum(axis=1) > 0)),
                            frames=frames if p.ambiguity_rule != "votes" else None, subwindows=subwindow_maps,
                            coherence=lambda a, b: self.beam_coherence(spec, snr_w * new_share ** 2, a, b, turn))

    def beam_coherence(self, spec: np.ndarray, w: np.ndarray, az_a: float, az_b: float,
                       turn: np.ndarray | None = None) -> float:
        """Coherence over time of two beams, one toward a with a null toward b and one the other way round.

        A wall's echo is a delayed copy of the direct sound: in every time-frequency bin both beams carry
        the same signal, so they stay coherent (near 1). Two talkers are independent sources: each beam
        passes one and nulls the other, and the coherence falls. Bins where the two directions' steering
        vectors are too alike to be told apart (low frequencies on a small array) do not count.
        """
        p = self.p
        el = p.vote_elevation_deg
        num = np.zeros(len(self.bins), np.complex128)
        paa = np.zeros(len(self.bins))
        pbb = np.zeros(len(self.bins))
        steps = np.zeros(spec.shape[0], int) if turn is None else np.round(turn / p.grid_deg).astype(int)
        usable = None
        for k in np.unique(steps):
            sel = steps == k
            d = self.geometry.far_field_delays(np.array([az_a, az_b]) - k * p.grid_deg, el)    # (2, M)
            D = np.exp(-1j * self.omega[:, None, None] * d.T[None, :, :])                        # (K, M, 2)
            G = np.conj(np.transpose(D, (0, 2, 1))) @ D                                          # (K, 2, 2)
            M = D.shape[1]
            alike = np.abs(G[:, 0, 1]) / M
            # minimum-norm beams with unit gain toward one direction and a null toward the other
            Wb = D @ np.linalg.inv(G + 1e-3 * M * np.eye(2)[None])                               # (K, M, 2)
            y = np.einsum("kmc,tmk->tkc", np.conj(Wb), spec[sel])                               # (T, K, 2)
            ww = w[sel]
            num += np.sum(ww * y[..., 0] * np.conj(y[..., 1]), axis=0)
            paa += np.sum(ww * np.abs(y[..., 0]) ** 2, axis=0)
            pbb += np.sum(ww * np.abs(y[..., 1]) ** 2, axis=0)
            usable = alike < 0.7 if usable is None else usable & (alike < 0.7)
        coh = np.abs(num) ** 2 / (paa * pbb + 1e-30)
        weight = w.sum(axis=0) * usable
        return float(np.sum(coh * weight) / (np.sum(weight) + 1e-12))

    def _span_srp(self, cs: np.ndarray, steps: np.ndarray | None) -> np.ndarray:
        """Steered response of the summed cross-spectra of some frames; frames turned by the same whole
        number of grid steps share one map, rotated into place."""
        if steps is None:
            return self.srp(cs.sum(axis=0))
        out = np.zeros(len(self.grid))
        for k in np.unique(steps):
            out += np.roll(self.srp(cs[steps == k].sum(axis=0)), k)
        return out

    def _empty(self) -> DoaResult:
        return DoaResult(None, 0.0, False, [], np.zeros_like(self.grid), self.grid, 0)

    def rival_evidence(self, best_i: int, rival_i: int, energy: np.ndarray, mass: np.ndarray,
                       frames: tuple[np.ndarray, np.ndarray], subwindows) -> dict[str, float]:
        """How much a rival direction looks like an independent talker (all in 0..1 but votes).

        votes: the rival's frame votes per vote of the winner. persistence: median over sub-windows of
        the rival's share of that sub-window's votes (a second talker keeps winning frames all through
        the utterance, a flicker of noise or a burst of echo does not). power: the rival's height in the
        onset-weighted summed map. subwindow: median over sub-windows of the rival's height in that
        sub-window's own map. winner_left: in the frames the rival wins, how high the winner still
        stands (a reflection comes with its direct sound, so the winner stays high; an independent
        talker owns frames where the winner is quiet).
        """
        p = self.p
        maps, vote = frames
        mass = self._histogram(maps, vote) @ self.vote_near                   # the evidence's own frames
        votes = float(mass[rival_i] / max(mass[best_i], 1e-12))
        peak = np.argmax(maps, axis=1)
        near_rival = self.vote_near[rival_i][peak] > 0
        shares = []
        for chunk in np.array_split(np.arange(len(vote)), max(1, p.ambiguity_chunks)):
            if len(chunk):
                shares.append(float(vote[chunk][near_rival[chunk]].sum() / (vote[chunk].sum() + 1e-12)))
        persistence = float(np.median(shares)) if shares else 0.0
        local = angular_distance(self.grid, self.grid[rival_i]) <= 10.0
        heights = []
        for m in subwindows():
            fl = float(np.median(m))
            heights.append((float(m[local].max()) - fl) / (float(m.max()) - fl + 1e-12))
        subwindow = float(np.median(heights)) if heights else 0.0
        winner_left = 1.0
        if np.any(near_rival):
            rm = maps[near_rival]
            fl = np.median(rm, axis=1)
            around = angular_distance(self.grid, self.grid[best_i]) <= 6.0
            lvl = (rm[:, around].max(axis=1) - fl) / (rm.max(axis=1) - fl + 1e-12)
            winner_left = float(np.median(np.clip(lvl, 0.0, 1.0)))
        return {"votes": votes, "persistence": persistence, "power": float(energy[rival_i]),
                "subwindow": subwindow, "winner_left": winner_left}

    def ambiguity_score(self, ev: dict[str, float], second_peak: float) -> float:
        """Linear score of the evidence (weights fitted by tools/bench/bench_ssl.py --fit-ambiguity)."""
        x = (1.0, float(np.log(max(ev["votes"], 1e-3))), ev["persistence"], ev["power"], ev["subwindow"],
             ev["winner_left"], second_peak, ev.get("coherence", 0.0))
        return float(np.dot(self.p.ambiguity_weights, x))

    def _decide(self, srp: np.ndarray, votes: np.ndarray, rom, speech_frames: int,
                frames: tuple[np.ndarray, np.ndarray] | None = None, subwindows=None,
                coherence=None) -> DoaResult:
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
        evidence: dict[str, float] = {}
        # the vote: how many frames side with the best direction, and with the best rival far from it
        mass = votes @ self.vote_near                                          # votes within reach of each direction
        best_i = int(np.argmin(np.abs(wrap_deg(self.grid - best_az))))
        first = float(mass[best_i])
        far = angular_distance(self.grid, best_az) > p.min_separation_deg
        rival_share = 0.0
        second_peak = kept[1][1] if len(kept) > 1 else 0.0
        if first > 0 and np.any(far & (mass > 0)):
            rival_i = int(np.argmax(np.where(far, mass, -1.0)))
            rival_az, rival_share = float(self.grid[rival_i]), float(mass[rival_i]) / first
            if frames is None:                                                 # the plain rule of earlier versions
                ambiguous = bool(rival_share >= p.ambiguous_vote and energy[rival_i] >= p.ambiguous_min_power
                                 or second_peak >= p.ambiguous_ratio)
            elif rival_share >= p.ambiguity_min_vote:
                evidence = self.rival_evidence(best_i, rival_i, energy, mass, frames, subwindows or list)
                evidence["coherence"] = coherence(best_az, rival_az) if coherence else 0.0
                evidence["score"] = self.ambiguity_score(evidence, second_peak)
                # A rival that wins nearly as many frames as the winner is a second talker whatever the
                # rest says: on a short span (the keyword alone) the other evidence has too few frames.
                ambiguous = evidence["score"] >= p.ambiguity_threshold or rival_share >= p.ambiguity_certain_vote
            if ambiguous and all(angular_distance(rival_az, k[0]) >= p.min_separation_deg for k in kept):
                kept.insert(1, (rival_az, float(max(energy[rival_i], 0.0))))
                kept = kept[: p.max_candidates]
        # confident = the summed map peaks high (one coherent wavefront) and few frames side with a rival
        coherence = float(srp[peaks[0]])
        confidence = float(np.clip(coherence / 0.3, 0.0, 1.0) * np.clip(1.0 - rival_share, 0.0, 1.0))
        azimuth: float | None = best_az
        if rom is not None and not in_rom(best_az, rom):
            inside = [c for c in kept if in_rom(c[0], rom)]
            if inside and inside[0][1] >= p.rom_keep_ratio:
                azimuth = inside[0][0]
                confidence *= inside[0][1]
            else:
                azimuth, confidence = None, 0.0
        return DoaResult(azimuth, confidence, ambiguous, kept, energy, self.grid, speech_frames, evidence)

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
