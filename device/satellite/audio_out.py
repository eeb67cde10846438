"""Where the satellite's voice goes: the speaker backend (device/hw/speaker.py), media decoding, the timer sound.

In simulation the backend is the simulated speaker; its `sinks` hook hands every block to a callback that
puts it on the bus (`sim.voice`) for the world to render into the room, so the microphones hear the device.
"""
from __future__ import annotations

import io
import subprocess
import wave
from typing import Callable

import numpy as np

from ..errors import UserError
from ..hw.speaker import AudioOutput

RATE = 16000                    # what Home Assistant streams (wav, 16 kHz, 16-bit, mono) and what the beam is
MONO_TO_STEREO = np.array([[0.5, 0.5]])


def open_output(sc, sink: Callable[[int, np.ndarray], None] | None) -> AudioOutput:
    if sc.speaker == "sim":
        from ..hw.speaker import SimSpeakerOutput
        out = SimSpeakerOutput(1, RATE, MONO_TO_STEREO, np.array([[0.08, 0.0, 0.0]]), realtime=True)
        if sink is not None:
            out.sinks.append(sink)
        return out
    from ..hw.audio import AudioUnavailable
    from ..hw.speaker import PyAudioOutput
    try:
        device = int(sc.speaker_device) if sc.speaker_device.isdigit() else sc.speaker_device
        return PyAudioOutput(device, 1, sc.speaker_rate, MONO_TO_STEREO, 1024)
    except AudioUnavailable as exc:
        raise UserError(f"satellite.speaker_device: {exc}") from None


def pcm16(data: bytes) -> np.ndarray:
    """Little-endian int16 bytes as float32 in -1..1 (an odd trailing byte is dropped)."""
    n = len(data) // 2
    return np.frombuffer(data[:2 * n], "<i2").astype(np.float32) / 32768.0


class MediaError(Exception):
    """A media file that cannot be decoded (the message says why)."""


def decode_media(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate from a WAV (read here) or anything sox reads (flac, mp3 with its plugin)."""
    if data[:4] == b"RIFF":
        try:
            with wave.open(io.BytesIO(data)) as w:
                if w.getsampwidth() != 2:
                    raise MediaError(f"WAV with {8 * w.getsampwidth()}-bit samples (expected 16)")
                x = pcm16(w.readframes(w.getnframes())).reshape(-1, w.getnchannels()).mean(axis=1)
                return x.astype(np.float32), w.getframerate()
        except (wave.Error, EOFError) as exc:
            raise MediaError(f"not a readable WAV: {exc}") from None
    try:
        p = subprocess.run(["sox", "-", "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
                           input=data, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MediaError(f"cannot run sox to decode it: {exc}") from None
    if p.returncode != 0:
        raise MediaError("sox cannot decode it: " + p.stderr.decode(errors="replace").strip()[:160])
    return pcm16(p.stdout), RATE


def chime(rate: int = RATE, beeps: int = 3) -> np.ndarray:
    """The timer-finished sound: short two-tone beeps with soft edges."""
    t = np.arange(int(0.14 * rate)) / rate
    env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    beep = 0.5 * env * (np.sin(2 * np.pi * 880 * t) + 0.5 * np.sin(2 * np.pi * 1320 * t)) / 1.5
    gap = np.zeros(int(0.09 * rate))
    return np.concatenate([np.concatenate([beep, gap]) for _ in range(beeps)]).astype(np.float32)
