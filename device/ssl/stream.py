"""Streaming localization: ring buffer of recent audio, voice activity detection, heading history, estimates."""
from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .estimator import DoaResult, EstimatorParams, SrpPhatEstimator, wrap_deg
from .geometry import ArrayGeometry


class RingBuffer:
    """The last `seconds` of multichannel audio with the capture time of every sample.

    Blocks carry the capture time of their first sample; samples inside a block are 1/rate apart. A
    span [start_ns, end_ns) is cut out by time, so a wake event that arrives after the utterance still
    gets the whole utterance, onset included, as long as it is younger than the buffer.
    """

    def __init__(self, seconds: float, rate: int, channels: int):
        self.rate = rate
        self.size = int(seconds * rate)
        self.data = np.zeros((self.size, channels), np.float32)
        self.written = 0                                   # samples ever written
        self._blocks: deque[tuple[int, int]] = deque()     # (total index of first sample, its t_ns)

    def push(self, t_ns: int, block: np.ndarray) -> None:
        n = block.shape[0]
        if n >= self.size:
            block, t_ns, n = block[-self.size:], t_ns + int((n - self.size) * 1e9 / self.rate), self.size
        pos = self.written % self.size
        first = min(n, self.size - pos)
        self.data[pos: pos + first] = block[:first]
        self.data[: n - first] = block[first:]
        self._blocks.append((self.written, t_ns))
        self.written += n
        while self._blocks and self._blocks[0][0] < self.written - self.size:
            self._blocks.popleft()

    def oldest_ns(self) -> int | None:
        return self._blocks[0][1] if self._blocks else None

    def newest_ns(self) -> int | None:
        if not self._blocks:
            return None
        idx, t = self._blocks[-1]
        return t + int((self.written - idx) * 1e9 / self.rate)

    def index_at(self, t_ns: int) -> int:
        """Total sample index captured at t_ns (clamped to what the buffer holds)."""
        if not self._blocks:
            return 0
        times = [b[1] for b in self._blocks]
        k = max(0, bisect.bisect_right(times, t_ns) - 1)
        idx, t0 = self._blocks[k]
        i = idx + int(round((t_ns - t0) * self.rate / 1e9))
        return int(min(max(i, max(0, self.written - self.size)), self.written))

    def time_of(self, index: int) -> int:
        """Capture time (ns) of the sample with this total index."""
        idxs = [b[0] for b in self._blocks]
        k = max(0, bisect.bisect_right(idxs, index) - 1)
        idx, t0 = self._blocks[k]
        return t0 + int((index - idx) * 1e9 / self.rate)

    def span(self, start_ns: int, end_ns: int) -> tuple[np.ndarray, int, int]:
        """Samples captured in [start_ns, end_ns) and the total indices they cover."""
        a, b = self.index_at(start_ns), self.index_at(end_ns)
        if b <= a:
            return np.zeros((0, self.data.shape[1]), np.float32), a, a
        idx = np.arange(a, b) % self.size
        return self.data[idx], a, b


class HeadingHistory:
    """Turntable heading over time from `motor.state`, interpolated to any capture time."""

    def __init__(self, keep_s: float = 20.0):
        self.keep_ns = int(keep_s * 1e9)
        self.t: deque[int] = deque()
        self.h: deque[float] = deque()

    def add(self, t_ns: int, heading_deg: float) -> None:
        if self.t and t_ns <= self.t[-1]:
            return                                         # republished state: nothing new
        if self.h:
            heading_deg = self.h[-1] + float(wrap_deg(heading_deg - self.h[-1]))  # unwrap across +-180
        self.t.append(t_ns)
        self.h.append(heading_deg)
        while len(self.t) > 2 and self.t[0] < t_ns - self.keep_ns:
            self.t.popleft()
            self.h.popleft()

    def at(self, t_ns) -> np.ndarray | float | None:
        """Heading (unwrapped degrees) at t_ns (scalar or array); None before the first motor.state."""
        if not self.t:
            return None
        return np.interp(t_ns, np.asarray(self.t, float), np.asarray(self.h, float))


TRACK_WINDOW_S = 0.5         # each point of an utterance's track integrates this much audio...
TRACK_HOP_S = 0.25           # ...and points are this far apart (further for long spans: at most TRACK_MAX)
TRACK_MAX = 32               # points in a track (the schema's bound)
TRACK_MIN_SHARE = 0.2        # windows with less speech than this share of the median window give no point
# A window heard while the device turned is summed heading step by heading step, one steered response each
# (~3 ms on a Pi-class core at 1 deg): on a coarse grid in steps of this much, or a long utterance during a
# turn cost seconds and ssl's loop (its heartbeat, the audio) stalled.
TRACK_TURN_GRID_DEG = 4.0


@dataclass
class Estimate:
    """One localization ready to publish: the result and the span and heading it refers to."""
    result: DoaResult
    start_ns: int
    end_ns: int
    heading_deg: float | None
    trigger: str
    track: list[tuple[int, float, float]] = field(default_factory=list)   # (t_ns, device azimuth, confidence)


class VoiceActivity:
    """Energy VAD in the speech band against a tracked noise floor, with minimum length and hangover."""

    def __init__(self, rate: int, threshold_db: float = 9.0, min_speech_s: float = 0.3,
                 hangover_s: float = 0.3, floor_rise_db_s: float = 1.0):
        self.rate = rate
        self.threshold = 10 ** (threshold_db / 10)
        self.min_speech_s = min_speech_s
        self.hangover_s = hangover_s
        self.rise_db_s = floor_rise_db_s
        self.floor: float | None = None
        self.active_since: int | None = None               # total sample index where speech began
        self.last_voiced: int | None = None

    def band_power(self, block: np.ndarray) -> float:
        x = block[:, 0] - np.mean(block[:, 0])
        spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
        f = np.fft.rfftfreq(len(x), 1.0 / self.rate)
        return float(np.mean(spec[(f >= 300) & (f <= 3400)])) + 1e-20

    def update(self, index: int, block: np.ndarray) -> tuple[int, int] | None:
        """Feed one block starting at total sample `index`; returns a finished segment (start, end) or None."""
        n = block.shape[0]
        power = self.band_power(block)
        dt = n / self.rate
        if self.floor is None or power < self.floor:
            self.floor = power                             # the floor falls at once...
        else:
            self.floor *= 10 ** (self.rise_db_s * dt / 10)  # ...and creeps up, so speech cannot lift it
        voiced = power > self.floor * self.threshold
        if voiced:
            if self.active_since is None:
                self.active_since = index
            self.last_voiced = index + n
            return None
        if self.active_since is not None and index + n - self.last_voiced > self.hangover_s * self.rate:
            start, end = self.active_since, self.last_voiced
            self.active_since = None
            if (end - start) >= self.min_speech_s * self.rate:
                return start, end
        return None

    def cut(self, index: int) -> tuple[int, int] | None:
        """Close a long ongoing segment at `index` (so long speech still gets estimates) and keep listening."""
        if self.active_since is None:
            return None
        start = self.active_since
        self.active_since = index
        return start, index


class SslStream:
    """What the ssl service does with audio, without the bus: buffer, detect speech, localize spans.

    `push(t_ns, block)` returns the VAD-triggered estimates it finished; `localize(start_ns, end_ns)`
    answers a wake event from the ring buffer. Heading samples (`heading.add`) let every estimate be
    expressed in the device frame at the middle of its span, even when the device turned meanwhile.
    """

    def __init__(self, geometry: ArrayGeometry, ring_s: float = 12.0, preroll_s: float = 0.3,
                 vad: bool = True, vad_threshold_db: float = 9.0, vad_min_speech_s: float = 0.3,
                 vad_hangover_s: float = 0.3, vad_max_segment_s: float = 4.0,
                 params: EstimatorParams | None = None):
        self.geometry = geometry
        self.rate = geometry.sample_rate
        self.estimator = SrpPhatEstimator(geometry, params)
        self.ring = RingBuffer(ring_s, self.rate, geometry.n_mics)
        self.heading = HeadingHistory(keep_s=ring_s + 5)
        self.preroll = int(preroll_s * self.rate)
        self.vad = VoiceActivity(self.rate, vad_threshold_db, vad_min_speech_s, vad_hangover_s) if vad else None
        self.max_segment = int(vad_max_segment_s * self.rate)
        self.rom_world: tuple[float, float] | None = None

    def push(self, t_ns: int, block: np.ndarray) -> list[Estimate]:
        block = self.geometry.select_mics(np.asarray(block, np.float32))
        index = self.ring.written
        self.ring.push(t_ns, block)
        if self.vad is None:
            return []
        seg = self.vad.update(index, block)
        if seg is None and self.vad.active_since is not None and self.ring.written - self.vad.active_since > self.max_segment:
            seg = self.vad.cut(self.ring.written)
        if seg is None:
            return []
        est = self._estimate(seg[0], seg[1], "vad")
        return [est] if est is not None else []

    def localize(self, start_ns: int, end_ns: int, trigger: str = "wake", track: bool = False) -> Estimate | None:
        """Localize the audio captured between start_ns and end_ns (plus the preroll); None if not buffered.
        `track`: also where the sound came from window by window (Estimate.track)."""
        newest, oldest = self.ring.newest_ns(), self.ring.oldest_ns()
        if newest is None or end_ns <= oldest or start_ns >= newest:
            return None
        a, b = self.ring.index_at(start_ns), self.ring.index_at(end_ns)
        est = self._estimate(a, b, trigger)
        if est is not None and track:
            est.track = self.track(a, b)
        return est

    def speech_end_ns(self, since_ns: int, hangover_s: float = 0.3) -> int | None:
        """When the speech that was going on at `since_ns` ended (capture time), or None while it goes on.
        Needs the VAD; without it (or before it decides) the answer is None."""
        v = self.vad
        if v is None or v.last_voiced is None:
            return None
        last = self.ring.time_of(v.last_voiced)
        if v.active_since is not None:
            return None                                    # still talking
        if last < since_ns:
            return since_ns                                # it had already ended
        newest = self.ring.newest_ns()
        return last if newest is not None and newest - last >= hangover_s * 1e9 else None

    def track(self, a: int, b: int) -> list[tuple[int, float, float]]:
        """Direction of the sound in short windows over the span [a, b) of total sample indices: (capture time
        of the window's middle, device-frame azimuth at that time, confidence), in time order, at most
        TRACK_MAX. Each window's frames are turned back to the heading at its middle, so a point is the
        device frame of its own moment even while the device turns."""
        est, p = self.estimator, self.estimator.p
        lo = max(a, self.ring.written - self.ring.size)
        if b - lo < p.frame * 3:
            return []
        audio = self.ring.data[np.arange(lo, b) % self.ring.size]
        spec = est.spectra(audio)
        if spec.shape[0] < 3:
            return []
        w = est.weights(spec)
        cs = est.cross_spectra(spec, w)
        fw = w.sum(axis=1) * len(est.pairs)                # each frame's total vote
        centers = est.frame_centers(b - lo)
        frame_ns = np.array([self.ring.time_of(lo + int(c)) for c in centers], np.int64)
        per_s = self.rate / p.hop
        win = max(3, int(round(TRACK_WINDOW_S * per_s)))
        n = cs.shape[0]
        hop = max(1, int(round(TRACK_HOP_S * per_s)))
        if n > win:
            hop = max(hop, int(np.ceil((n - win) / (TRACK_MAX - 1))))
        starts = list(range(0, max(1, n - win + 1), hop))
        heads = self.heading.at(frame_ns.astype(float)) if self.heading.t else None
        sums = [float(fw[s: s + win].sum()) for s in starts]
        speech = [x for x in sums if x > 0]
        if not speech:
            return []
        floor = TRACK_MIN_SHARE * float(np.median(speech))
        coarse = max(1, int(round(TRACK_TURN_GRID_DEG / p.grid_deg)))
        while len(est.grid) % coarse:                          # a divisor of the grid, so rolls stay exact
            coarse -= 1
        out = []
        for s, total in zip(starts, sums):
            if total <= 1e-6 or total < floor:
                continue
            f = np.arange(s, min(s + win, n))
            mid = f[len(f) // 2]
            every, steps = 1, None
            if heads is not None:
                steps = np.round((heads[f] - heads[mid]) / p.grid_deg).astype(int)
                if np.ptp(steps) >= coarse:                   # turned during the window: the coarse grid
                    every = coarse
                    steps = np.round(steps / coarse).astype(int)
            if steps is None or not steps.any():
                srp = est.srp(cs[f].sum(axis=0), every)
            else:
                srp = np.zeros(len(est.grid) // every)
                for k in np.unique(steps):
                    srp += np.roll(est.srp(cs[f[steps == k]].sum(axis=0), every), k)
            srp = srp / total
            i = int(np.argmax(srp))
            l, c, r = srp[i - 1], srp[i], srp[(i + 1) % len(srp)]
            den = l - 2 * c + r
            offset = 0.5 * (l - r) / den if den < 0 else 0.0
            az = float(wrap_deg(est.grid[i * every] + offset * p.grid_deg * every))
            conf = float(np.clip(c / 0.3, 0.0, 1.0))     # the estimator's coherence scale
            out.append((int(frame_ns[mid]), az, conf))
        return out[:TRACK_MAX]

    def _estimate(self, a: int, b: int, trigger: str) -> Estimate | None:
        lo = max(a - self.preroll, self.ring.written - self.ring.size)
        if b - lo < self.estimator.p.frame * 3:
            return None
        idx = np.arange(lo, b) % self.ring.size
        audio = self.ring.data[idx]
        start_ns, end_ns = self.ring.time_of(a), self.ring.time_of(b)
        # the answer refers to the middle of the utterance: that is the heading the policy converts with
        ref_heading = self.heading.at((start_ns + end_ns) // 2)
        turn = None
        if ref_heading is not None:
            centers = self.estimator.frame_centers(b - lo)
            frame_ns = np.array([self.ring.time_of(lo + int(c)) for c in centers], float)
            turn = np.asarray(self.heading.at(frame_ns)) - ref_heading
        rom = None
        if self.rom_world is not None:
            h = ref_heading if ref_heading is not None else 0.0
            rom = (self.rom_world[0] - h, self.rom_world[1] - h) if self.rom_world[1] - self.rom_world[0] < 360 else None
        result = self.estimator.locate(audio, rom=rom, frame_turn_deg=turn)
        heading = None if ref_heading is None else float(wrap_deg(ref_heading))
        return Estimate(result, start_ns, end_ns, heading, trigger)


def sector_of(azimuth_deg: float, sectors: int) -> int:
    """Which of `sectors` equal sectors (sector 0 centred on the screen normal, counter-clockwise) holds a direction."""
    width = 360.0 / sectors
    return int(math.floor(((azimuth_deg + width / 2) % 360.0) / width)) % sectors
