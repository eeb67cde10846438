"""What a listener hears: ear responses of designed filters through a path model, channel separation, tonal balance."""
from __future__ import annotations

import numpy as np

from .design import FilterSet, filter_response

BAND_HZ = (200.0, 8000.0)


def ear_responses(fs: FilterSet, H: np.ndarray) -> np.ndarray:
    """(F, 2 ears, 3 inputs Ls, Rs, C) given driver-to-ear paths H (F, 2, N) on an rfft grid."""
    F = filter_response(fs, 2 * (H.shape[0] - 1))
    return H @ F


def mono_response(fs: FilterSet, T: np.ndarray) -> np.ndarray:
    """(F, 2) ear responses to the same signal on L and R: the upmix sends it all to the centre."""
    return T[:, :, 2] if fs.upmix else T[:, :, 0] + T[:, :, 1]


def separation_curve_db(T: np.ndarray) -> np.ndarray:
    """Per frequency: ipsilateral over contralateral power of a one-sided input, mean of L and R, dB."""
    ipsi = np.abs(T[:, 0, 0]) ** 2 + np.abs(T[:, 1, 1]) ** 2
    contra = np.abs(T[:, 1, 0]) ** 2 + np.abs(T[:, 0, 1]) ** 2
    return 10 * np.log10((ipsi + 1e-30) / (contra + 1e-30))


def separation_db(T: np.ndarray, freqs: np.ndarray, band=BAND_HZ) -> float:
    """Ipsilateral over contralateral energy in the band for an L-only and an R-only input, averaged in dB."""
    sel = (freqs >= band[0]) & (freqs <= band[1])
    left = np.sum(np.abs(T[sel, 0, 0]) ** 2) / np.sum(np.abs(T[sel, 1, 0]) ** 2)
    right = np.sum(np.abs(T[sel, 1, 1]) ** 2) / np.sum(np.abs(T[sel, 0, 1]) ** 2)
    return float(5 * np.log10(left) + 5 * np.log10(right))


def third_octaves(band=BAND_HZ) -> list[tuple[float, float]]:
    centres = 1000 * 2.0 ** (np.arange(-15, 10) / 3)
    return [(c / 2 ** (1 / 6), c * 2 ** (1 / 6)) for c in centres if band[0] <= c <= band[1]]


def band_powers_db(resp: np.ndarray, freqs: np.ndarray, band=BAND_HZ) -> np.ndarray:
    """Power summed over both ears in each third-octave band, dB: resp is (F, 2)."""
    p = np.sum(np.abs(resp) ** 2, axis=1)
    return np.array([10 * np.log10(np.mean(p[(freqs >= lo) & (freqs < hi)]) + 1e-30)
                     for lo, hi in third_octaves(band)])


def tonal_deviation_db(resp: np.ndarray, reference: np.ndarray, freqs: np.ndarray, band=BAND_HZ) -> float:
    """Largest third-octave deviation of `resp` from `reference` (both (F, 2)) once their mean level is matched."""
    d = band_powers_db(resp, freqs, band) - band_powers_db(reference, freqs, band)
    return float(np.max(np.abs(d - d.mean())))


PRE_DELAY = 64               # samples added before windowing, so an ear ahead of the nominal delay stays causal


def early_paths(H: np.ndarray, rate: int, early_ms: float = 5.0) -> np.ndarray:
    """Driver-to-ear paths (F, 2, N) cut to the direct sound and what arrives within `early_ms` after it.

    The window closes `early_ms` after the nominal arrival (half-Hann over 1 ms): in a room it keeps the
    direct sound and the first reflections (which the precedence effect makes what localises) and leaves
    out the reverberant tail, which no loudspeaker processing separates. The filters are applied after.
    """
    nfft = 2 * (H.shape[0] - 1)
    freqs = np.fft.rfftfreq(nfft, 1 / rate)
    shift = np.exp(-2j * np.pi * freqs * PRE_DELAY / rate)[:, None, None]
    ir = np.fft.irfft(H * shift, n=nfft, axis=0)
    end = PRE_DELAY + int(early_ms * 1e-3 * rate)
    fade = int(1e-3 * rate)
    w = np.zeros(nfft)
    w[:end] = 1.0
    w[end:end + fade] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    return np.fft.rfft(ir * w[:, None, None], axis=0) / shift
