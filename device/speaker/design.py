"""Filter design: crosstalk cancellation against a target curve, the seed's crosstalk simulation, a centre beam.

The output of driver n is  F[n, 0] * Ls + F[n, 1] * Rs + F[n, 2] * C  (FIR filters of `taps` samples),
where Ls, Rs, C are the upmixed sides and centre (render.py). The filters come from the design model of
acoustics.py for a listener at a given bearing and distance:

- sides: crosstalk cancellation. Per frequency, C minimises  sum_k |H_k C - D_k|^2 + lambda(f) |C - B|^2
  over a small cloud of head positions k around the nominal one (so it does not overfit one spot), where
  D is the target: each ear hears its own channel as plain stereo would deliver it, and the other
  channel `depth_db` lower (the target cancellation curve, faded to plain stereo outside `band_hz`), and
  B is plain stereo. The Tikhonov weight lambda(f) is small in band, large outside it, and raised
  wherever the filters would otherwise need more than `max_boost_db` of gain over plain stereo: the
  regularisation pulls towards plain stereo rather than towards silence.
- crosstalk simulation (the seed's "virtualisation"): before cancellation, each side is given the
  crosstalk of a stereo pair at +-`virtual_deg`: the same ear's path is an all-pass (identity), the other
  ear's a delayed low-pass (the Woodworth ITD and the ratio of Brown-Duda head shadows at that angle).
- centre: with more than two drivers a beam (minimum power at nulls +-90 degrees from the listener,
  distortionless towards the listener, regularised towards plain mono) in `beam_band_hz`; with two
  drivers plain mono.
- every path carries the same modelling delay of taps/2 samples, so the three are phase aligned.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .acoustics import ALPHA_MIN, HEAD_RADIUS_M, SPEED_OF_SOUND_M_S, THETA_MIN_DEG, Listener, free_paths, paths
from .drivers import DriverLayout

MODES = ("spatial", "ctc", "bypass")


@dataclass(frozen=True)
class DesignParams:
    taps: int = 512                          # FIR length at the layout's rate (10.7 ms at 48 kHz)
    band_hz: tuple[float, float] = (200.0, 8000.0)   # where crosstalk is cancelled
    depth_db: float = 30.0                   # target: the other channel this far below at each ear
    reg: float = 1e-3                        # in-band Tikhonov weight, relative to the mean path power
    reg_out: float = 30.0                    # out of band (falls back to plain stereo)
    max_boost_db: float = 18.0               # effort cap: filter gain over plain stereo
    robust_radius_m: float = 0.04            # head positions averaged in the design
    virtual_deg: float = 30.0                # stereo reference the sides are given (0 = none)
    beam_band_hz: tuple[float, float] = (300.0, 5000.0)
    beam_reg: float = 0.05
    model: str = "design"                    # acoustic model the filters are designed on


@dataclass
class FilterSet:
    """Designed filters for one listener: (taps, N, 3) FIR from (Ls, Rs, C) to the drivers, or bypass."""
    mode: str
    listener: Listener | None
    rate: int
    taps: np.ndarray | None                  # None in bypass
    upmix: bool                              # spatial: extract a centre; ctc: sides only (C = 0)
    latency: int = 0                         # samples of modelling delay
    bypass: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))   # (N, 2) plain-stereo gains


def band_weight(freqs: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """1 inside the band, raised-cosine to 0 over an octave below it and half an octave above it."""
    lo, hi = band
    f = np.maximum(np.asarray(freqs, float), 1e-3)
    w = np.ones_like(f)
    below = np.clip(np.log2(f / (lo / 2)), 0, 1)
    above = np.clip(np.log2(hi * math.sqrt(2) / f) / 0.5, 0, 1)
    w = np.minimum(w, 0.5 - 0.5 * np.cos(np.pi * below))
    w = np.minimum(w, 0.5 - 0.5 * np.cos(np.pi * above))
    return w


def crosstalk_simulation(freqs: np.ndarray, virtual_deg: float) -> np.ndarray:
    """(F, 2, 2) ear responses of a reference stereo pair at +-virtual_deg relative to the same-side ear:
    identity on the diagonal (all-pass), a delayed low-pass off it (the seed's crosstalk simulation)."""
    w = 2 * np.pi * np.asarray(freqs, float)
    v = np.zeros((w.size, 2, 2), complex)
    v[:, 0, 0] = v[:, 1, 1] = 1.0
    if virtual_deg <= 0:
        return v
    t = math.radians(virtual_deg)
    itd = HEAD_RADIUS_M / SPEED_OF_SOUND_M_S * (t + math.sin(t))         # Woodworth, far field

    def alpha(incidence_deg):
        return (1 + ALPHA_MIN / 2) + (1 - ALPHA_MIN / 2) * math.cos(incidence_deg / THETA_MIN_DEG * math.pi)
    a_ipsi, a_contra = alpha(90 - virtual_deg), alpha(90 + virtual_deg)
    jw = 1j * w / (2 * SPEED_OF_SOUND_M_S / HEAD_RADIUS_M)
    contra = (1 + a_contra * jw) / (1 + a_ipsi * jw) * np.exp(-1j * w * itd)
    v[:, 0, 1] = v[:, 1, 0] = contra
    return v


def head_cloud(listener: Listener, radius_m: float) -> list[Listener]:
    """The nominal head and six around it (left/right, nearer/further, and diagonals) at `radius_m`."""
    if radius_m <= 0:
        return [listener]
    out = [listener]
    for ang in range(0, 360, 60):
        a = math.radians(listener.bearing_deg + ang)
        out.append(replace(listener, offset_m=(listener.offset_m[0] + radius_m * math.cos(a),
                                               listener.offset_m[1] + radius_m * math.sin(a))))
    return out


def _cap_effort(solve, base_lam: np.ndarray, ref: float, max_boost_db: float, iters: int = 8) -> np.ndarray:
    """Solve with lambda(f); where the filter gain exceeds the cap, raise lambda there and solve again."""
    lam = base_lam.copy()
    cap = 10 ** (max_boost_db / 20) * ref
    for _ in range(iters):
        c = solve(lam)
        gain = np.sqrt(np.sum(np.abs(c) ** 2, axis=tuple(range(1, c.ndim))))
        over = gain > cap
        if not over.any():
            break
        lam = np.where(over, lam * 4 + 1e-6, lam)
    return c


def ctc_response(layout: DriverLayout, listener: Listener, freqs: np.ndarray, p: DesignParams) -> np.ndarray:
    """(F, N, 2) crosstalk-cancelling filters from (L, R) to the drivers, no modelling delay."""
    B = layout.bypass_matrix()                                           # (N, 2)
    wb = band_weight(freqs, p.band_hz)
    beta = 10 ** (-p.depth_db / 20)
    n = layout.n_drivers
    gram = np.zeros((freqs.size, n, n), complex)
    rhs = np.zeros((freqs.size, n, 2), complex)
    power = 0.0
    for head in head_cloud(listener, p.robust_radius_m):
        H = paths(p.model, layout.positions, head, freqs)                 # (F, 2, N)
        plain = H @ B                                                     # (F, 2, 2)
        ipsi = np.stack([plain[:, 0, 0], plain[:, 1, 1]], axis=1)         # (F, 2): ear e, own channel
        D = np.empty_like(plain)
        D[:, 0, 0], D[:, 1, 1] = ipsi[:, 0], ipsi[:, 1]
        D[:, 0, 1], D[:, 1, 0] = beta * ipsi[:, 0], beta * ipsi[:, 1]
        D = wb[:, None, None] * D + (1 - wb)[:, None, None] * plain
        Hh = np.conj(np.swapaxes(H, 1, 2))
        gram += Hh @ H
        rhs += Hh @ D
        power += float(np.mean(np.abs(H) ** 2))
    k = len(head_cloud(listener, p.robust_radius_m))
    scale = power / k * 2 * k                                             # mean |H|^2 times ears, per head
    base = scale * p.reg ** wb * p.reg_out ** (1 - wb)       # geometric: a smooth hand-over at the band edges
    eye = np.eye(n)

    def solve(lam):
        return np.linalg.solve(gram + lam[:, None, None] * eye, rhs + lam[:, None, None] * B[None])
    return _cap_effort(solve, base, float(np.linalg.norm(B)), p.max_boost_db)


def centre_response(layout: DriverLayout, listener: Listener, freqs: np.ndarray, p: DesignParams) -> np.ndarray:
    """(F, N) filters of the centre channel: plain mono, or a beam when there are more than two drivers."""
    c0 = layout.bypass_matrix() @ np.ones(2)                              # each driver's share of mono
    out = np.broadcast_to(c0, (freqs.size, layout.n_drivers)).astype(complex)
    if layout.n_drivers <= 2:
        return out
    head = listener.center()
    d, b = listener.distance_m, math.radians(listener.bearing_deg)
    nulls = np.array([[d * math.cos(b + math.radians(a)), d * math.sin(b + math.radians(a)), 0.0]
                      for a in (-100, -90, -80, 80, 90, 100)])
    bulk = d / SPEED_OF_SOUND_M_S
    g = free_paths(layout.positions, head[None], freqs, bulk)[:, 0, :]      # (F, N)
    G = free_paths(layout.positions, nulls, freqs, bulk)                   # (F, P, N)
    R = np.conj(np.swapaxes(G, 1, 2)) @ G                                  # (F, N, N)
    wb = band_weight(freqs, p.beam_band_hz)
    scale = np.real(np.trace(R, axis1=1, axis2=2)) / layout.n_drivers + 1e-12
    base = scale * p.beam_reg ** wb * p.reg_out ** (1 - wb)
    eye = np.eye(layout.n_drivers)
    t = g @ c0                                                             # plain mono's response on axis

    def solve(lam):
        Q = R + lam[:, None, None] * eye
        qi_c = np.linalg.solve(Q, (lam[:, None] * c0)[..., None])[..., 0]
        qi_g = np.linalg.solve(Q, np.conj(g)[..., None])[..., 0]
        nu = (t - np.sum(g * qi_c, axis=1)) / np.sum(g * qi_g, axis=1)
        return qi_c + qi_g * nu[:, None]
    return _cap_effort(solve, base, float(np.linalg.norm(c0)), p.max_boost_db)


def design(layout: DriverLayout, listener: Listener, mode: str = "spatial", p: DesignParams = DesignParams(),
           rate: int | None = None) -> FilterSet:
    """FIR filters for `mode` (spatial, ctc or bypass) and a listener; rate defaults to the layout's."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} ({', '.join(MODES)})")
    rate = rate or layout.sample_rate
    if mode == "bypass":
        return FilterSet("bypass", listener, rate, None, upmix=False, bypass=layout.bypass_matrix())
    nfft = 2 * p.taps
    freqs = np.fft.rfftfreq(nfft, 1 / rate)
    resp = np.zeros((freqs.size, layout.n_drivers, 3), complex)
    ctc = ctc_response(layout, listener, freqs, p)                          # (F, N, 2)
    if mode == "spatial":
        wb = band_weight(freqs, p.band_hz)[:, None, None]
        virt = np.eye(2)[None] + wb * (crosstalk_simulation(freqs, p.virtual_deg) - np.eye(2)[None])
        resp[:, :, :2] = ctc @ virt
        resp[:, :, 2] = centre_response(layout, listener, freqs, p)
    else:
        resp[:, :, :2] = ctc
    delay = p.taps // 2
    resp *= np.exp(-2j * np.pi * freqs * delay / rate)[:, None, None]
    ir = np.fft.irfft(resp, n=nfft, axis=0)[:p.taps]
    ir *= _taper(p.taps)[:, None, None]
    return FilterSet(mode, listener, rate, ir.astype(np.float64), upmix=(mode == "spatial"), latency=delay,
                     bypass=layout.bypass_matrix())


def _taper(n: int, fraction: float = 0.15) -> np.ndarray:
    """Flat in the middle, half-Hann over `fraction` of the length at each end (clean truncation)."""
    w = np.ones(n)
    k = max(1, int(n * fraction))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
    w[:k], w[-k:] = ramp, ramp[::-1]
    return w


def filter_response(fs: FilterSet, nfft: int) -> np.ndarray:
    """(F, N, 3) frequency response of the filters on an nfft grid (plain stereo gains in bypass)."""
    if fs.taps is None:
        resp = np.zeros((nfft // 2 + 1, fs.bypass.shape[0], 3), complex)
        resp[:, :, :2] = fs.bypass
        resp[:, :, 2] = fs.bypass @ np.ones(2)
        return resp
    return np.fft.rfft(fs.taps, n=nfft, axis=0)
