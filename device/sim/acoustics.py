"""Room acoustics of the simulated world: what the turning mic array hears from talkers, a TV and diffuse noise."""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyroomacoustics as pra

from ..ssl.geometry import SPEED_OF_SOUND_M_S, ArrayGeometry
from .speech import babble, cache_root, program_material, synthesize

ISM_MAX_ORDER = 17          # exact image sources up to this order; a diffuse tail models the rest
TAIL_DIRECTIONS = 48        # plane waves that make up the diffuse tail (gives the right inter-mic coherence)
HEADING_STEP_DEG = 1.0      # resolution of the heading grid the rendering snaps to
SPEECH_REF_DBFS = -26.0     # RMS of a talker's direct sound at 1 m; noise levels are relative to it


@dataclass(frozen=True)
class NoiseSpec:
    """A noise in the scene. kind: "tv" (point source playing programme), "babble" or "white" (diffuse).

    level_db: RMS in dB relative to a talker's direct sound at 1 m (SPEECH_REF_DBFS), measured at the
    mics for the diffuse kinds and at 1 m from the loudspeaker for a TV.
    """
    kind: str
    level_db: float = -40.0
    azimuth_world_deg: float = 90.0  # tv only
    distance_m: float = 2.5          # tv only
    height_m: float = 1.0            # tv only

    @classmethod
    def coerce(cls, spec: "NoiseSpec | dict") -> "NoiseSpec":
        """Accept a NoiseSpec or a dict (a scenario's [[noise]] table; `azimuth_deg` means world azimuth)."""
        if isinstance(spec, cls):
            return spec
        d = {k: v for k, v in dict(spec).items() if v is not None}
        if "azimuth_deg" in d:
            d["azimuth_world_deg"] = d.pop("azimuth_deg")
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValueError(f"bad noise spec {spec!r}: {exc}") from None


def room_impulse_responses(room_dims_m, rt60_s: float, source_xyz, mic_xyz: np.ndarray, fs: int,
                           seed: int = 0) -> np.ndarray:
    """Impulse responses (P, L) from one source to P points: image sources up to ISM_MAX_ORDER, then a
    diffuse exponentially decaying tail whose level continues the image-source energy.

    Exact high-order image sources cost minutes per room at RT60 0.9 s; the late field of a
    reverberant room is diffuse, so a sum of random plane waves with the right decay stands in for it.
    The direct path at 1 m has unit gain.
    """
    early, tail = room_response_parts(room_dims_m, rt60_s, source_xyz, mic_xyz, mic_xyz, fs, seed)
    return early + tail


def room_response_parts(room_dims_m, rt60_s: float, source_xyz, points: np.ndarray, tail_points: np.ndarray,
                        fs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of room_impulse_responses: the faded-out image-source part at `points` (P, L) and
    the faded-in diffuse tail at `tail_points` (T, L).

    A turning array needs the early part at every position it can take, but the diffuse tail only at
    its own mics: the tail is statistically the same whichever way the array points, and making it
    for hundreds of points would cost far more than the image sources.
    """
    dims = np.asarray(room_dims_m, float)
    absorption, sabine_order = pra.inverse_sabine(rt60_s, dims)
    order = int(min(sabine_order, ISM_MAX_ORDER))
    room = pra.ShoeBox(dims, fs=fs, materials=pra.Material(absorption), max_order=order,
                       air_absorption=False)
    room.add_source(np.asarray(source_xyz, float))
    room.add_microphone_array(np.asarray(points, float).T)
    room.compute_rir()
    length = int(rt60_s * fs)
    early = np.zeros((len(points), length))
    for p, rir in enumerate(room.rir):
        r = np.asarray(rir[0])[:length]                          # pra: direct path has gain 1/r
        early[p, : len(r)] = r
    tail = np.zeros((len(tail_points), length), np.float32)
    if order >= sabine_order:
        return early.astype(np.float32), tail
    # time up to which all images of order <= `order` arrived: the image sphere is complete there
    t_cut = order * float(dims.min()) / SPEED_OF_SOUND_M_S
    n_cut = min(length - 1, int(t_cut * fs))
    decay = 3.0 * math.log(10) / rt60_s                          # amplitude decay rate, 60 dB per RT60
    t = np.arange(length) / fs
    lo, hi = int(0.5 * n_cut), int(0.9 * n_cut)
    seg_energy = np.mean(early[:, lo:hi] ** 2) if hi > lo else 0.0
    env_ref = np.mean(np.exp(-2 * decay * t[lo:hi])) if hi > lo else 1.0
    sigma = math.sqrt(seg_energy / env_ref) if env_ref > 0 else 0.0
    tail = diffuse_field(tail_points, length, fs, np.random.default_rng(seed), TAIL_DIRECTIONS)
    tail *= sigma * np.exp(-decay * t)[None, :]
    fade = np.clip((np.arange(length) - n_cut) / (0.01 * fs) + 0.5, 0.0, 1.0)
    return ((1 - fade) * early).astype(np.float32), (fade * tail).astype(np.float32)


def diffuse_field(mic_xyz: np.ndarray, n: int, fs: int, rng: np.random.Generator, directions: int,
                  sources: np.ndarray | None = None) -> np.ndarray:
    """Unit-power signals (P, n) of a diffuse field at the points: independent `sources` (D, n) (white
    noise if None) arriving as plane waves from D directions spread evenly over the sphere."""
    k = np.arange(directions) + 0.5                              # Fibonacci sphere: even directions
    z = 1 - 2 * k / directions
    phi = math.pi * (1 + 5 ** 0.5) * k
    u = np.stack([np.sqrt(1 - z ** 2) * np.cos(phi), np.sqrt(1 - z ** 2) * np.sin(phi), z], axis=1)
    rel = np.asarray(mic_xyz, float) - np.mean(mic_xyz, axis=0)
    delays = -(rel @ u.T) / SPEED_OF_SOUND_M_S                   # (P, D)
    if sources is None:
        sources = rng.standard_normal((directions, n))
    nfft = 1 << int(math.ceil(math.log2(n + 16)))
    spec = np.fft.rfft(sources, nfft, axis=1).astype(np.complex64)  # (D, F)
    w = 2 * np.pi * np.fft.rfftfreq(nfft, 1.0 / fs)
    out = np.empty((len(rel), n), np.float32)
    for p in range(len(rel)):                                    # per point: small memory, same cost
        steer = np.exp(-1j * np.outer(delays[p], w)).astype(np.complex64)  # (D, F)
        out[p] = np.fft.irfft(np.sum(steer * spec, axis=0), nfft)[:n]
    return out / math.sqrt(directions * np.mean(sources ** 2) + 1e-20)


class _Source:
    """One point source: its signal on the scene timeline, the early impulse responses on the heading
    grid's positions and the diffuse tail at each mic."""

    def __init__(self, signal: np.ndarray, start: int, early: np.ndarray, tail: np.ndarray, loop: bool = False):
        self.signal = signal
        self.start = start
        self.early = early                   # (positions, L)
        self.tail = tail                     # (mics, L)
        self.length = early.shape[1]
        self.loop = loop
        self._fft: dict[tuple[str, int, int], np.ndarray] = {}

    def end(self) -> float:
        return math.inf if self.loop else self.start + len(self.signal)

    def segment(self, a: int, b: int) -> np.ndarray:
        """Source samples on the scene timeline [a, b), zeros outside the signal (looping if asked)."""
        idx = np.arange(a, b) - self.start
        if self.loop:
            return self.signal[idx % len(self.signal)]
        out = np.zeros(b - a, np.float32)
        ok = (idx >= 0) & (idx < len(self.signal))
        out[ok] = self.signal[idx[ok]]
        return out

    def response_fft(self, position: int, mic: int, nfft: int) -> np.ndarray:
        """Spectrum of the whole response heard by `mic` standing at grid `position`."""
        out = []
        for part, i, table in (("e", position, self.early), ("t", mic, self.tail)):
            key = (part, i, nfft)
            if key not in self._fft:
                self._fft[key] = np.fft.rfft(table[i], nfft).astype(np.complex64)
            out.append(self._fft[key])
        return out[0] + out[1]


class AudioScene:
    """A room with the device in it. Positions are relative to the device: world azimuth and distance.

    The room frame has the device at `device_xy_m`, its world azimuth 0 along the room's +x axis. The
    array turns with the heading: impulse responses are computed once per source for every mic
    position the turning array can take on a 1 degree grid (a circular array needs one circle of
    points), cached on disk, and each block is a windowed convolution, so rendering runs far faster
    than real time. A change of heading between blocks crossfades the two renderings.
    """

    def __init__(self, room_dims_m, rt60_s: float, array: ArrayGeometry, device_xy_m=(2.0, 2.0),
                 fs: int | None = None, noise: list[NoiseSpec | dict] | None = None, seed: int = 0,
                 cache_dir: str | Path | None = None, device_height_m: float = 0.9):
        dims = list(room_dims_m) + ([2.6] if len(room_dims_m) == 2 else [])
        self.dims = np.asarray(dims, float)
        if not (0.1 <= rt60_s <= 2.0):
            raise ValueError(f"rt60_s must be between 0.1 and 2.0 s, got {rt60_s}")
        self.rt60 = float(rt60_s)
        self.array = array
        self.fs = int(fs or array.sample_rate)
        if len(device_xy_m) == 3:                                   # (x, y, z): the height comes with it
            device_height_m = device_xy_m[2]
        self.center = np.array([device_xy_m[0], device_xy_m[1], device_height_m], float)
        if not self._inside(self.center, 0.2):
            raise ValueError(f"device at {device_xy_m} is not inside the {dims[0]} x {dims[1]} m room")
        self.seed = seed
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root() / "rirs"
        self._grid_positions()
        self.sources: list[_Source] = []
        self._diffuse: np.ndarray | None = None
        self._last_heading_idx: int | None = None
        for spec in noise or []:
            self.add_noise(spec)

    # -- geometry -----------------------------------------------------------------------------------
    def _inside(self, xyz, margin: float) -> bool:
        return bool(np.all(xyz >= margin) and np.all(xyz <= self.dims - margin))

    def _grid_positions(self) -> None:
        """Unique mic positions over the heading grid, and per heading the position index of each mic."""
        headings = np.arange(0.0, 360.0, HEADING_STEP_DEG)
        rel = self.array.positions - self.array.center
        pts, index = [], {}
        table = np.empty((len(headings), self.array.n_mics), int)
        for h_i, h in enumerate(headings):
            c, s = math.cos(math.radians(h)), math.sin(math.radians(h))
            for m, (x, y, z) in enumerate(rel):
                p = (x * c - y * s, x * s + y * c, z)
                key = tuple(np.round(p, 5))
                if key not in index:
                    index[key] = len(pts)
                    pts.append(p)
                table[h_i, m] = index[key]
        self.grid_points = np.asarray(pts) + self.center          # (P, 3) room coordinates
        self.heading_table = table

    def world_to_room(self, azimuth_world_deg: float, distance_m: float, height_m: float) -> np.ndarray:
        a = math.radians(azimuth_world_deg)
        xyz = np.array([self.center[0] + distance_m * math.cos(a), self.center[1] + distance_m * math.sin(a),
                        height_m])
        if not self._inside(xyz, 0.1):
            raise ValueError(f"a source at azimuth {azimuth_world_deg} deg, {distance_m} m, height {height_m} m "
                             f"is outside the {self.dims[0]} x {self.dims[1]} x {self.dims[2]} m room")
        return xyz

    def _rirs_for(self, src_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Early responses from a source to every grid point and the tail at each mic, from the disk cache when possible."""
        key = json.dumps({"dims": self.dims.round(4).tolist(), "rt60": self.rt60, "fs": self.fs,
                          "src": np.round(src_xyz, 4).tolist(), "pts": hashlib.sha1(
                              np.round(self.grid_points, 5).tobytes()).hexdigest(), "seed": self.seed,
                          "order": ISM_MAX_ORDER, "tail": TAIL_DIRECTIONS, "v": 2})
        path = self.cache_dir / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.npz"
        if path.exists():
            with np.load(path) as z:
                return z["early"], z["tail"]
        mics = self.array.positions - self.array.center + self.center
        early, tail = room_response_parts(self.dims, self.rt60, src_xyz, self.grid_points, mics, self.fs,
                                          seed=self.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, early=early, tail=tail)
        os.replace(tmp, path)
        return early, tail

    # -- scene content ------------------------------------------------------------------------------
    def add_utterance(self, t_start_s: float, text: str, voice: str = "en-us", azimuth_world_deg: float = 0.0,
                      distance_m: float = 1.5, height_m: float = 1.5, level_db: float = SPEECH_REF_DBFS,
                      signal: np.ndarray | None = None) -> tuple[float, float]:
        """A talker says `text` (espeak-ng voice) starting at t_start_s; returns (t_start_s, t_end_s).

        level_db is the RMS level in dB full scale of the direct sound at 1 m; `signal` replaces the
        synthesized speech with given mono samples.
        """
        xyz = self.world_to_room(azimuth_world_deg, distance_m, height_m)
        x = synthesize(text, voice, self.fs) if signal is None else np.asarray(signal, np.float32)
        x = x * (10 ** (level_db / 20) / (np.sqrt(np.mean(x ** 2)) + 1e-12))
        start = int(round(t_start_s * self.fs))
        self.sources.append(_Source(x.astype(np.float32), start, *self._rirs_for(xyz)))
        return t_start_s, t_start_s + len(x) / self.fs

    def add_noise(self, spec: NoiseSpec | dict) -> None:
        spec = NoiseSpec.coerce(spec)
        rng = np.random.default_rng(self.seed + 1000 + len(self.sources))
        gain = 10 ** ((SPEECH_REF_DBFS + spec.level_db) / 20)
        if spec.kind == "tv":
            xyz = self.world_to_room(spec.azimuth_world_deg, spec.distance_m, spec.height_m)
            prog = program_material(30.0, self.fs, seed=int(rng.integers(1 << 30)))
            prog *= gain / (np.sqrt(np.mean(prog ** 2)) + 1e-12)
            self.sources.append(_Source(prog, 0, *self._rirs_for(xyz), loop=True))
        elif spec.kind in ("babble", "white"):
            n = 10 * self.fs
            mics = self.array.positions - self.array.center
            if spec.kind == "babble":
                tracks = np.stack([np.roll(babble(10.0, self.fs, talkers=3, seed=int(rng.integers(1 << 30))),
                                           int(rng.integers(n)))[:n] for _ in range(12)])
                field = diffuse_field(mics, n, self.fs, rng, 12, sources=tracks)
            else:
                field = diffuse_field(mics, n, self.fs, rng, TAIL_DIRECTIONS)
            field *= gain / (np.sqrt(np.mean(field ** 2)) + 1e-12)
            self._diffuse = field.T if self._diffuse is None else self._diffuse + field.T
        else:
            raise ValueError(f"unknown noise kind {spec.kind!r}; expected 'tv', 'babble' or 'white'")

    # -- rendering ----------------------------------------------------------------------------------
    def render(self, t0_s: float, n_samples: int, heading_deg: float) -> np.ndarray:
        """What the array hears during [t0_s, t0_s + n_samples / fs) with the screen at `heading_deg`: (n, M) float32."""
        start = int(round(t0_s * self.fs))
        h_idx = int(round((heading_deg % 360.0) / HEADING_STEP_DEG)) % len(self.heading_table)
        out = self._render_at(start, n_samples, h_idx)
        prev = self._last_heading_idx
        if prev is not None and prev != h_idx:
            before = self._render_at(start, n_samples, prev)
            ramp = np.linspace(0.0, 1.0, n_samples, dtype=np.float32)[:, None]
            out = ramp * out + (1 - ramp) * before
        self._last_heading_idx = h_idx
        if self._diffuse is not None:
            idx = np.arange(start, start + n_samples) % len(self._diffuse)
            out = out + self._diffuse[idx]
        return out.astype(np.float32)

    def _render_at(self, start: int, n: int, h_idx: int) -> np.ndarray:
        out = np.zeros((n, self.array.n_mics), np.float32)
        for src in self.sources:
            L = src.length
            if start - L >= src.end():
                # Done ringing. Time only moves on, so its spectra are not needed again: drop them, or an
                # hour of talk keeps every utterance's (a block from the past would only recompute them).
                src._fft.clear()
                continue
            if start + n <= src.start:
                continue
            seg = src.segment(start - L + 1, start + n)               # everything that still rings now
            nfft = 1 << int(math.ceil(math.log2(len(seg))))
            sf = np.fft.rfft(seg, nfft)
            for m, pos in enumerate(self.heading_table[h_idx]):
                y = np.fft.irfft(sf * src.response_fft(int(pos), m, nfft), nfft)
                out[:, m] += y[L - 1: L - 1 + n]
        return out
