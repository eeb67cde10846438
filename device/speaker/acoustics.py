"""Driver-to-ear paths for a listener at a bearing and distance: a design model and two independent test models.

Three models of the transfer function from each driver to each ear, all in the horizontal plane, drivers
as omnidirectional point sources (their baffle and cone directivity are not modelled):

- "design": Brown & Duda's structural head model (IEEE Trans. Speech Audio 1998): the path length around a
  sphere of radius HEAD_RADIUS_M (straight when the ear sees the driver, tangent plus arc when it does
  not; near-field exact), 1/r spreading, and their one-pole one-zero head-shadow filter. The CTC filters
  are designed on it.
- "sphere": the exact scattering of a point source by a rigid sphere (Duda & Martens, JASA 1998, the
  series of Legendre polynomials and spherical Hankel functions). Used only to evaluate.
- "free": free-field point sources to the two ear points, no head (what a beam is designed on).

Ears sit on the sphere at +-90 degrees from the direction the listener faces (the device, unless the head
is turned). Frequency responses are (F, 2, N): ear 0 = the listener's left, ear 1 = right.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SPEED_OF_SOUND_M_S = 343.0
HEAD_RADIUS_M = 0.0875               # the average adult head of Brown & Duda
ALPHA_MIN, THETA_MIN_DEG = 0.1, 150.0   # their head-shadow constants


@dataclass(frozen=True)
class Listener:
    """A head at `bearing_deg` (device frame, left of the screen normal positive) and `distance_m`.

    `offset_m` moves the head (device-frame x, y) away from where the filters think it is; `yaw_deg` turns
    it away from facing the device (positive = to the listener's left).
    """
    bearing_deg: float
    distance_m: float
    offset_m: tuple[float, float] = (0.0, 0.0)
    yaw_deg: float = 0.0

    def center(self) -> np.ndarray:
        b = math.radians(self.bearing_deg)
        return np.array([self.distance_m * math.cos(b) + self.offset_m[0],
                         self.distance_m * math.sin(b) + self.offset_m[1], 0.0])

    def ear_axes(self) -> np.ndarray:
        """Unit vectors from the head centre to the left and right ear, (2, 3)."""
        b = math.radians(self.bearing_deg + 180.0 + self.yaw_deg)     # facing the device
        left = np.array([-math.sin(b), math.cos(b), 0.0])
        return np.stack([left, -left])

    def ears(self, radius_m: float = HEAD_RADIUS_M) -> np.ndarray:
        return self.center() + radius_m * self.ear_axes()


def _incidence(drivers: np.ndarray, listener: Listener) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each driver to the head centre (N,) and angle between driver and ear axis (2, N), rad."""
    rel = drivers[:, :2] - listener.center()[:2]
    r = np.linalg.norm(rel, axis=1)
    cos = (listener.ear_axes()[:, :2] @ (rel / r[:, None]).T).clip(-1.0, 1.0)
    return r, np.arccos(cos)


def bulk_delay_s(listener: Listener) -> float:
    """Propagation time from the device origin to where the listener's head nominally is (not the offset)."""
    return listener.distance_m / SPEED_OF_SOUND_M_S


def design_paths(drivers: np.ndarray, listener: Listener, freqs: np.ndarray, a: float = HEAD_RADIUS_M,
                 remove_bulk: bool = True) -> np.ndarray:
    """Brown-Duda spherical-head model, (F, 2, N) complex."""
    r, theta = _incidence(drivers, listener)
    w = 2 * np.pi * np.asarray(freqs, float)
    # Path: straight to a visible ear; around the sphere (tangent + arc) to a hidden one.
    grazing = np.arccos(np.minimum(a / r, 1.0))                      # (N,)
    straight = np.sqrt(r ** 2 + a ** 2 - 2 * a * r * np.cos(theta))  # (2, N)
    around = np.sqrt(np.maximum(r ** 2 - a ** 2, 0.0)) + a * (theta - grazing)
    path = np.where(theta <= grazing, straight, around)
    alpha = (1 + ALPHA_MIN / 2) + (1 - ALPHA_MIN / 2) * np.cos(np.degrees(theta) / THETA_MIN_DEG * np.pi)
    w0 = SPEED_OF_SOUND_M_S / a
    jw = 1j * w[:, None, None] / (2 * w0)
    shadow = (1 + alpha * jw) / (1 + jw)
    delay = path / SPEED_OF_SOUND_M_S - (bulk_delay_s(listener) if remove_bulk else 0.0)
    return shadow * np.exp(-1j * w[:, None, None] * delay) / path


def _hankel_ratios(x_far: np.ndarray, x_ear: np.ndarray, m_max: int) -> np.ndarray:
    """(2m + 1) h_m(x_far) / h_m'(x_ear) for m = 0..m_max, (F, M): spherical Hankel functions of the second
    kind (outgoing waves for the e^{-j w t} delays used here) by upward recurrence, which is stable for them."""
    def hankels(x):
        h = np.empty((x.size, m_max + 2), complex)
        h[:, 0] = 1j * np.exp(-1j * x) / x
        h[:, 1] = (np.sin(x) / x ** 2 - np.cos(x) / x) + 1j * (np.cos(x) / x ** 2 + np.sin(x) / x)
        for m in range(1, m_max + 1):
            h[:, m + 1] = (2 * m + 1) / x * h[:, m] - h[:, m - 1]
        return h
    m = np.arange(m_max + 1)
    h_far = hankels(x_far)[:, :m_max + 1]
    h_ear = hankels(x_ear)
    dh = np.empty((x_ear.size, m_max + 1), complex)
    dh[:, 0] = -h_ear[:, 1]                                            # h_0' = -h_1
    dh[:, 1:] = h_ear[:, :m_max] - (m[1:] + 1) / x_ear[:, None] * h_ear[:, 1:m_max + 1]
    return (2 * m + 1) * h_far / dh


def _legendre(cos_t: float, m_max: int) -> np.ndarray:
    p = np.empty(m_max + 1)
    p[0], p[1] = 1.0, cos_t
    for m in range(1, m_max):
        p[m + 1] = ((2 * m + 1) * cos_t * p[m] - m * p[m - 1]) / (m + 1)
    return p


def sphere_paths(drivers: np.ndarray, listener: Listener, freqs: np.ndarray, a: float = HEAD_RADIUS_M,
                 remove_bulk: bool = True) -> np.ndarray:
    """Exact rigid-sphere response to point sources (Duda & Martens), (F, 2, N) complex."""
    freqs = np.asarray(freqs, float)
    r, theta = _incidence(drivers, listener)
    mu = 2 * np.pi * np.maximum(freqs, 1.0) * a / SPEED_OF_SOUND_M_S     # (F,)
    m_max = int(np.ceil(mu.max())) + 30
    # Terms beyond mu + 30 are negligible (h'_m(mu) explodes once m > mu); dropping them also keeps the
    # recurrence's overflow at low frequencies out of the sum.
    use = np.arange(m_max + 1)[None, :] <= mu[:, None] + 30
    out = np.empty((freqs.size, 2, r.size), complex)
    with np.errstate(all="ignore"):
        for n, rn in enumerate(r):
            rho = rn / a
            ratio = np.where(use, _hankel_ratios(mu * rho, mu, m_max), 0.0)           # (F, M)
            series = ratio @ np.stack([_legendre(math.cos(t), m_max) for t in theta[:, n]]).T   # (F, 2)
            rel = -(rho / mu)[:, None] * np.exp(1j * mu * rho)[:, None] * series        # re free field at centre
            delay = rn / SPEED_OF_SOUND_M_S - (bulk_delay_s(listener) if remove_bulk else 0.0)
            out[:, :, n] = rel * (np.exp(-1j * 2 * np.pi * freqs * delay) / rn)[:, None]
    out[freqs < 1.0] = (1.0 / r)[None, None, :]
    return out


def free_paths(drivers: np.ndarray, points: np.ndarray, freqs: np.ndarray, bulk_s: float = 0.0) -> np.ndarray:
    """Free-field point sources to arbitrary points (P, 3): (F, P, N) complex, delays less `bulk_s`."""
    d = np.linalg.norm(points[:, None, :2] - drivers[None, :, :2], axis=2)       # (P, N)
    w = 2 * np.pi * np.asarray(freqs, float)
    return np.exp(-1j * w[:, None, None] * (d / SPEED_OF_SOUND_M_S - bulk_s)) / d


def paths(model: str, drivers: np.ndarray, listener: Listener, freqs: np.ndarray,
          remove_bulk: bool = True) -> np.ndarray:
    if model == "design":
        return design_paths(drivers, listener, freqs, remove_bulk=remove_bulk)
    if model == "sphere":
        return sphere_paths(drivers, listener, freqs, remove_bulk=remove_bulk)
    if model == "free":
        return free_paths(drivers, listener.ears(), freqs, bulk_delay_s(listener) if remove_bulk else 0.0)
    raise ValueError(f"unknown acoustic model {model!r} (design, sphere, free)")
