"""Audio output: the loudspeaker drivers through PyAudio on the device, or a simulated speaker that renders
what the drivers play to a listener's ears (and hands the driver signals to whoever renders the room)."""
from __future__ import annotations

import collections
import importlib
import threading
import time
import wave
from dataclasses import dataclass
from math import gcd
from typing import Callable, Optional, Union

import numpy as np

from ..errors import UserError
from .audio import AudioUnavailable, _quiet_stderr, find_pyaudio_device


@dataclass(frozen=True)
class PlayStamp:
    """Where queued frames landed: index of their first frame in the played stream, and when it is due out
    (CLOCK_MONOTONIC ns, the same clock as audio capture)."""
    first_frame: int
    due_ns: int


class AudioOutput:
    """Interface of every speaker backend.

    `play(frames, rate)` queues (n,) mono or (n, k) frames: k == channels plays as is, mono goes to every
    driver, stereo to the drivers' plain-stereo roles (`stereo_map`, (channels, 2) gains). A rate other than
    the output's is resampled (meant for whole utterances, e.g. TTS; a stream should match the rate).
    `clock()` is the played-sample clock: (frames played so far, monotonic ns of that count).
    """

    channels: int
    rate: int
    stereo_map: np.ndarray

    def play(self, frames: np.ndarray, rate: Optional[int] = None) -> PlayStamp:
        x = self._to_output(frames, rate)
        return self._enqueue(x)

    def clock(self) -> tuple[int, int]:
        raise NotImplementedError

    def queued_frames(self) -> int:
        """Frames queued and not yet played."""
        raise NotImplementedError

    def alive(self) -> bool:
        """False once the device has gone (unplugged, driver gone): close it and open it again."""
        return True

    def close(self) -> None:
        """Release the device; queued frames are dropped."""

    # -- shared ---------------------------------------------------------------------------------------
    underruns: int = 0
    clipped: int = 0

    def _to_output(self, frames: np.ndarray, rate: Optional[int]) -> np.ndarray:
        x = np.asarray(frames, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] == 0:
            raise ValueError(f"frames must be (n,) or (n, channels), got shape {np.shape(frames)}")
        if x.shape[1] == self.channels:
            pass
        elif x.shape[1] == 1:
            x = np.repeat(x, self.channels, axis=1)
        elif x.shape[1] == 2:
            x = (x @ self.stereo_map.T.astype(np.float32)).astype(np.float32)
        else:
            raise ValueError(f"{x.shape[1]} channels cannot be played on {self.channels} drivers")
        if rate is not None and rate != self.rate:
            from scipy.signal import resample_poly
            g = gcd(int(rate), int(self.rate))
            x = resample_poly(x, self.rate // g, int(rate) // g, axis=0).astype(np.float32)
        over = np.abs(x) > 1.0
        if over.any():
            self.clipped += int(over.sum())
            x = np.clip(x, -1.0, 1.0)
        return x

    def _enqueue(self, x: np.ndarray) -> PlayStamp:
        raise NotImplementedError


class _FrameQueue:
    """Frames waiting to be played, pulled in any block size by the audio thread (or the simulated clock)."""

    def __init__(self, channels: int):
        self.channels = channels
        self.chunks: collections.deque[np.ndarray] = collections.deque()
        self.queued = 0            # frames ever queued
        self.played = 0            # frames ever pulled (played or silenced underrun frames excluded)
        self.lock = threading.Lock()

    def push(self, x: np.ndarray) -> int:
        with self.lock:
            first = self.queued
            self.chunks.append(x)
            self.queued += len(x)
            return first

    def pull(self, n: int) -> tuple[np.ndarray, int]:
        """n frames (silence where the queue ran dry) and how many of them were real."""
        out = np.zeros((n, self.channels), np.float32)
        got = 0
        with self.lock:
            while got < n and self.chunks:
                c = self.chunks[0]
                take = min(n - got, len(c))
                out[got:got + take] = c[:take]
                got += take
                if take == len(c):
                    self.chunks.popleft()
                else:
                    self.chunks[0] = c[take:]
            self.played += got
        return out, got

    def pending(self) -> int:
        with self.lock:
            return self.queued - self.played

    def clear(self) -> None:
        with self.lock:
            self.played += sum(len(c) for c in self.chunks)
            self.chunks.clear()


class PyAudioOutput(AudioOutput):
    """An N-channel ALSA output through PyAudio's callback stream (float32).

    `device` is an index, a (case-insensitive) substring of the device name, or "" for the default output.
    A device that is not there raises AudioUnavailable (retry later); one with too few channels is a
    UserError. The clock counts frames handed to the DAC; due times add the stream's output latency.
    """

    def __init__(self, device: Union[str, int], channels: int, rate: int, stereo_map: np.ndarray,
                 block: int = 512):
        try:
            import pyaudio
        except ImportError:
            raise UserError("speaker backend 'pyaudio' needs the pyaudio package (pip install pyaudio)") from None
        self.channels, self.rate, self.block = channels, rate, block
        self.stereo_map = np.asarray(stereo_map, float)
        self.queue = _FrameQueue(channels)
        self._stamp = (0, time.monotonic_ns())
        with _quiet_stderr():
            self._pa = pyaudio.PyAudio()
        try:
            index, info = self._find(device)
            if int(info["maxOutputChannels"]) < channels:
                raise UserError(f"audio output {info['name']!r} has {int(info['maxOutputChannels'])} output channels, "
                                f"the driver layout needs {channels}")
            try:
                self._stream = self._pa.open(format=pyaudio.paFloat32, channels=channels, rate=rate, output=True,
                                             output_device_index=index, frames_per_buffer=block,
                                             stream_callback=self._callback)
            except (OSError, ValueError) as exc:
                raise AudioUnavailable(f"cannot open audio output {info['name']!r} at {rate} Hz with {channels} "
                                       f"channels: {exc}") from None
            self._latency_ns = int(self._stream.get_output_latency() * 1e9)
            self._stream.start_stream()
        except BaseException:
            self._pa.terminate()
            raise

    def _find(self, device):
        return find_pyaudio_device(self._pa, device, "output")

    def _callback(self, in_data, frame_count, time_info, status):
        import pyaudio
        out, got = self.queue.pull(frame_count)
        if 0 < got < frame_count or status:
            self.underruns += 1
        self._stamp = (self.queue.played, time.monotonic_ns() + self._latency_ns)
        return (out.tobytes(), pyaudio.paContinue)

    def _enqueue(self, x: np.ndarray) -> PlayStamp:
        pending = self.queue.pending()
        first = self.queue.push(x)
        return PlayStamp(first, time.monotonic_ns() + self._latency_ns + int(pending * 1e9 / self.rate))

    def clock(self) -> tuple[int, int]:
        return self._stamp

    def alive(self) -> bool:
        try:
            return bool(self._stream.is_active())
        except OSError:
            return False

    def queued_frames(self) -> int:
        return self.queue.pending()

    def close(self) -> None:
        try:
            if self._stream.is_active():
                self._stream.stop_stream()
            self._stream.close()
        finally:
            self._pa.terminate()


class SimSpeakerOutput(AudioOutput):
    """A simulated speaker: plays in real time by the monotonic clock (or instantly, `realtime=False`).

    What the drivers play is
    - handed to every `sinks` callback as (due_ns, frames (n, channels)): the simulated world renders the
      device's own voice into its room from there;
    - rendered to a listener's ears (`set_listener`) through a path model of device/speaker/acoustics.py
      ("sphere" by default: a model the filters are not designed on), kept in `ears` (a bounded ring of
      the last `keep_s` seconds) and, with `ears_wav`, appended to a stereo WAV file.
    """

    def __init__(self, channels: int, rate: int, stereo_map: np.ndarray, driver_positions: np.ndarray,
                 realtime: bool = True, ears_wav: str = "", model: str = "sphere", keep_s: float = 10.0):
        self.channels, self.rate = channels, rate
        self.stereo_map = np.asarray(stereo_map, float)
        self.positions = np.asarray(driver_positions, float)
        self.realtime, self.model = realtime, model
        self.queue = _FrameQueue(channels)
        self.sinks: list[Callable[[int, np.ndarray], None]] = []
        self._t0: Optional[int] = None         # monotonic ns at which frame `_f0` started playing
        self._f0 = 0
        self._ear_ir: Optional[np.ndarray] = None     # (taps, 2, channels)
        self._ear_tail = np.zeros((0, 2))
        self.ears: collections.deque[np.ndarray] = collections.deque(maxlen=max(1, int(keep_s * rate / 512)))
        self._wav = None
        if ears_wav:
            try:
                self._wav = wave.open(str(ears_wav), "wb")
            except OSError as exc:
                raise UserError(f"cannot write the simulated ears to {ears_wav}: {exc.strerror or exc}") from None
            self._wav.setnchannels(2)
            self._wav.setsampwidth(2)
            self._wav.setframerate(rate)

    def set_listener(self, listener) -> None:
        """Where the simulated listener's head is (an acoustics.Listener), or None to stop rendering ears."""
        if listener is None:
            self._ear_ir = None
            return
        importlib.import_module("scipy.signal")     # now, not on the first block it renders
        from ..speaker.acoustics import SPEED_OF_SOUND_M_S, paths
        nfft = 2048
        freqs = np.fft.rfftfreq(nfft, 1 / self.rate)
        H = paths(self.model, self.positions, listener, freqs, remove_bulk=False)
        ir = np.fft.irfft(H, n=nfft, axis=0)
        end = int(listener.distance_m / SPEED_OF_SOUND_M_S * self.rate) + nfft // 4
        self._ear_ir = ir[:min(nfft, end)]

    def _advance(self) -> None:
        """Pull what the clock says has played since the last call, and render it. When the queue runs dry
        the clock stops (counted in `underruns`, which therefore includes the end of every stream)."""
        if self._t0 is None:
            return
        if self.realtime:
            due = self._f0 + (time.monotonic_ns() - self._t0) * self.rate // 1_000_000_000
        else:
            due = self.queue.queued
        n = min(due, self.queue.queued) - self.queue.played
        if n > 0:
            frames, _ = self.queue.pull(n)
            self._render(frames)
        if due > self.queue.queued:
            self.underruns += 1
            self._t0 = None

    def _render(self, frames: np.ndarray) -> None:
        if self._ear_ir is None:
            return
        from scipy.signal import oaconvolve
        ir = self._ear_ir
        y = np.zeros((len(frames) + len(ir) - 1, 2))
        for e in range(2):
            for n in range(self.channels):
                y[:, e] += oaconvolve(frames[:, n], ir[:, e, n])
        y[:len(self._ear_tail)] += self._ear_tail
        out, self._ear_tail = y[:len(frames)], y[len(frames):]
        self.ears.append(out.astype(np.float32))
        if self._wav is not None:
            self._wav.writeframes((np.clip(out, -1, 1) * 32767).astype("<i2").tobytes())

    def _enqueue(self, x: np.ndarray) -> PlayStamp:
        self._advance()
        now = time.monotonic_ns()
        if self._t0 is None:                     # idle: playback starts now
            self._t0, self._f0 = now, self.queue.played
        pending = self.queue.pending()
        first = self.queue.push(x)
        due = now + int(pending * 1e9 / self.rate)
        for sink in self.sinks:
            sink(due, x)
        if not self.realtime:
            self._advance()
        return PlayStamp(first, due)

    def clock(self) -> tuple[int, int]:
        self._advance()
        return self.queue.played, time.monotonic_ns()

    def queued_frames(self) -> int:
        self._advance()
        return self.queue.pending()

    def ear_signals(self) -> np.ndarray:
        """The ear signals kept so far, (n, 2): ear 0 = the listener's left."""
        self._advance()
        return np.concatenate(list(self.ears)) if self.ears else np.zeros((0, 2), np.float32)

    def close(self) -> None:
        self._advance()
        if self._wav is not None:
            self._wav.close()
            self._wav = None

