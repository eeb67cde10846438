"""Room reflections for evaluation: pyroomacoustics image sources from each driver to each ear, direct sound removed.

The evaluation path model is the exact rigid sphere (acoustics.sphere_paths) for the direct sound plus
what this module returns for everything that bounces off the walls: the shoebox room's impulse
response at the two ear points minus its direct-only response (same fractional-delay kernels, so the
difference is exactly the reflections). Reflections are not shadowed by the head (they arrive from all
sides; an assumption that treats every method alike). pyroomacoustics scales image sources by 1/r, the
convention of acoustics.py; delays are relative to the listener's nominal distance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyroomacoustics as pra

from .acoustics import SPEED_OF_SOUND_M_S, Listener, bulk_delay_s


@dataclass(frozen=True)
class Room:
    size_m: tuple[float, float, float] = (6.0, 5.0, 2.7)
    rt60_s: float = 0.4
    device_m: tuple[float, float, float] = (1.2, 2.5, 1.1)   # device origin; listener's ears at the same height
    heading_deg: float = 0.0                                  # room-x azimuth of the screen normal
    max_order: int = 12                                       # image-source order (the rest is left out)


def _to_room(room: Room, xyz_device: np.ndarray) -> np.ndarray:
    h = math.radians(room.heading_deg)
    rot = np.array([[math.cos(h), -math.sin(h), 0], [math.sin(h), math.cos(h), 0], [0, 0, 1]])
    return xyz_device @ rot.T + np.array(room.device_m)


def reflection_paths(drivers: np.ndarray, listener: Listener, room: Room, rate: int, nfft: int) -> np.ndarray:
    """(nfft/2+1, 2, N) transfer functions of the reflections only (truncated to nfft samples)."""
    ears = _to_room(room, listener.ears())
    srcs = _to_room(room, drivers)
    for p in np.vstack([ears, srcs]):
        if not all(0.2 < p[i] < room.size_m[i] - 0.2 for i in range(3)):
            raise ValueError(f"point {np.round(p, 2).tolist()} is not inside room {room.size_m} with 0.2 m to spare")
    absorption, order = pra.inverse_sabine(room.rt60_s, room.size_m)
    out = np.zeros((nfft // 2 + 1, 2, len(drivers)), complex)
    irs = {}
    for max_order in (0, min(order, room.max_order)):
        r = pra.ShoeBox(room.size_m, fs=rate, materials=pra.Material(absorption), max_order=max_order)
        for s in srcs:
            r.add_source(s)
        r.add_microphone_array(ears.T)
        r.compute_rir()
        irs[max_order] = r.rir
    direct, full = irs[0], irs[max(irs)]
    shift = pra.constants.get("frac_delay_length") // 2          # pyroomacoustics' kernel centring delay
    bulk = bulk_delay_s(listener) * rate
    freqs = np.fft.rfftfreq(nfft, 1 / rate)
    for e in range(2):
        for n in range(len(drivers)):
            d, f = np.asarray(direct[e][n]), np.asarray(full[e][n])
            refl = f[:nfft].copy()
            refl[:len(d)] -= d[:len(refl)]
            spec = np.fft.rfft(refl, n=nfft)
            out[:, e, n] = spec * np.exp(2j * np.pi * freqs * (shift + bulk) / rate)
    return out


def speed_of_sound_check() -> float:
    """The speed of sound pyroomacoustics uses (it must match acoustics.py for the delays to line up)."""
    return float(pra.constants.get("c")) - SPEED_OF_SOUND_M_S
