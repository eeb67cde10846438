"""Real synthetic speech for the simulated world: espeak-ng utterances, resampled and cached as WAV files."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from math import gcd
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

from ..errors import UserError

# espeak-ng voice + variant names that exist in the stock Debian package (mbrola voices are not installed).
VOICES = ("en-us", "en-us+f3", "en-gb", "en-gb+f2", "en-gb-scotland+m3", "en-us+m4", "en-029+f4",
          "en-gb-x-rp+f5")

SENTENCES = (
    "Swivel, what is the weather like today?",
    "Swivel, show me the recipe for pancakes.",
    "Swivel, call my sister please.",
    "Swivel, set a timer for ten minutes.",
    "Swivel, play some music in the kitchen.",
    "Swivel, turn on the lights in the living room.",
    "Swivel, how long do I bake the bread?",
    "Swivel, what is on my calendar tomorrow?",
)


def cache_root() -> Path:
    """$SWIVEL_CACHE, else ~/.cache/swivel."""
    return Path(os.environ.get("SWIVEL_CACHE") or Path.home() / ".cache" / "swivel")


def synthesize(text: str, voice: str = "en-us", fs: int = 16000, speed_wpm: int = 160,
               pitch: int = 50, cache_dir: Path | None = None) -> np.ndarray:
    """Speak `text` with espeak-ng; mono float32 at `fs`, peak-normalized to 0.5, leading/trailing silence trimmed."""
    if not shutil.which("espeak-ng"):
        raise UserError("espeak-ng is not installed (apt-get install espeak-ng)")
    root = Path(cache_dir) if cache_dir else cache_root() / "speech"
    key = hashlib.sha1(f"{text}|{voice}|{fs}|{speed_wpm}|{pitch}".encode()).hexdigest()[:16]
    path = root / f"{key}.wav"
    if path.exists():
        rate, data = wavfile.read(path)
        return data.astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        proc = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-p", str(pitch),
                               "-w", str(raw), text], capture_output=True, text=True)
        if proc.returncode != 0 or not raw.exists():
            raise UserError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.strip()[:200]}")
        rate, data = wavfile.read(raw)
    x = data.astype(np.float32) / 32768.0
    if x.ndim > 1:
        x = x[:, 0]
    g = gcd(fs, rate)
    x = resample_poly(x, fs // g, rate // g).astype(np.float32)
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.max(np.abs(x)))
    if loud.size:
        x = x[max(0, loud[0] - fs // 100): loud[-1] + fs // 100]
    x *= 0.5 / (np.max(np.abs(x)) + 1e-9)
    root.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_suffix(f".{os.getpid()}.tmp")
    wavfile.write(tmp_path, fs, x)
    os.replace(tmp_path, path)              # atomic, so parallel workers never read half a file
    return x


def program_material(seconds: float, fs: int = 16000, seed: int = 0, music_share: float = 0.4,
                     cache_dir: Path | None = None) -> np.ndarray:
    """TV-like programme: a mix of several voices talking in turns over a music-like tone bed."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    out = np.zeros(n, np.float32)
    t = 0
    while t < n:
        voice = VOICES[rng.integers(len(VOICES))]
        text = SENTENCES[rng.integers(len(SENTENCES))].replace("Swivel, ", "")
        s = synthesize(text, voice, fs, speed_wpm=int(rng.choice([150, 175, 200])), cache_dir=cache_dir)
        m = min(len(s), n - t)
        out[t:t + m] += s[:m]
        t += m + int(rng.uniform(0.05, 0.4) * fs)
    # music-like bed: a few sustained harmonic notes that change every half second or so
    bed = np.zeros(n, np.float32)
    tt = np.arange(n) / fs
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.3, 0.8) * fs)
        seg = slice(pos, min(n, pos + length))
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        env = np.hanning(seg.stop - seg.start)
        for h in range(1, 6):
            bed[seg] += env * np.sin(2 * np.pi * f0 * h * tt[seg]) / h
        pos += length
    bed *= 0.5 / (np.max(np.abs(bed)) + 1e-9)
    return ((1 - music_share) * out + music_share * bed).astype(np.float32)


def babble(seconds: float, fs: int = 16000, talkers: int = 6, seed: int = 0,
           cache_dir: Path | None = None) -> np.ndarray:
    """Several independent voices at once, each looping its own sentences: a cafe-like babble (mono)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    out = np.zeros(n, np.float32)
    for k in range(talkers):
        track = program_material(seconds, fs, seed=int(rng.integers(1 << 30)), music_share=0.0,
                                 cache_dir=cache_dir)
        out += np.roll(track, int(rng.integers(n)))
    return out / np.sqrt(talkers)
