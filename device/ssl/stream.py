"""Streaming localization: ring buffer of recent audio, voice activity detection, heading history, estimates."""
from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

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


@dataclass
class Estimate:
    """One localization ready to publish: the result and the span and heading it refers to."""
    result: DoaResult
    start_ns: int
    end_ns: int
    heading_deg: float | None
    trigger: str


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

    def localize(self, start_ns: int, end_ns: int, trigger: str = "wake") -> Estimate | None:
        """Localize the audio captured between start_ns and end_ns (plus the preroll); None if not buffered."""
        newest, oldest = self.ring.newest_ns(), self.ring.oldest_ns()
        if newest is None or end_ns <= oldest or start_ns >= newest:
            return None
        a, b = self.ring.index_at(start_ns), self.ring.index_at(end_ns)
        return self._estimate(a, b, trigger)

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
