"""WAV files in and out for the speaker tools: PCM 8/16/24/32-bit or float, any channel count, one-line errors."""
from __future__ import annotations

import os
import wave

import numpy as np

from ..errors import UserError


def read_wav(path: str) -> tuple[np.ndarray, int]:
    """(samples (n, channels) float32 in -1..1, rate), or a UserError saying why not."""
    if not os.path.exists(path):
        raise UserError(f"{path} does not exist")
    if os.path.isdir(path):
        raise UserError(f"{path} is a directory, not a WAV file")
    try:
        from scipy.io import wavfile
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")           # "chunk not understood": harmless metadata
            rate, data = wavfile.read(path)
    except (ValueError, EOFError, wave.Error) as exc:
        raise UserError(f"{path} is not a readable WAV file ({exc})") from None
    except OSError as exc:
        raise UserError(f"{path} cannot be read: {exc.strerror or exc}") from None
    data = np.asarray(data)
    if data.ndim == 1:
        data = data[:, None]
    if data.dtype.kind == "f":
        x = data.astype(np.float32)
    elif data.dtype == np.uint8:
        x = (data.astype(np.float32) - 128) / 128
    elif data.dtype.kind == "i":
        x = data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    else:
        raise UserError(f"{path}: unsupported sample format {data.dtype}")
    if x.shape[0] == 0:
        raise UserError(f"{path} holds no audio frames")
    return x, int(rate)


def write_wav(path: str, x: np.ndarray, rate: int) -> None:
    """Mono 16-bit PCM (full scale = 1.0, clipped; 16-bit input read by read_wav comes back bit for bit)."""
    try:
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.clip(np.round(np.asarray(x, float) * 32768), -32768, 32767).astype("<i2").tobytes())
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
