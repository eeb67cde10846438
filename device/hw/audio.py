"""Audio input: the mic array through PyAudio on the device, or the simulated world's `sim.audio` wire."""
from __future__ import annotations

import contextlib
import os
import queue
import time
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import UserError

Block = tuple[int, np.ndarray]          # (capture time of the first sample in ns, samples (n, channels) float32)


@contextlib.contextmanager
def _quiet_stderr():
    """Silence C-level writes to stderr (fd 2) for the duration."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class AudioUnavailable(RuntimeError):
    """The input is not there now (unplugged, not yet enumerated, busy); it may come back: retry later.
    A mistake in what was asked for (too few channels, no pyaudio) is a UserError instead."""


def find_pyaudio_device(pa, device: Union[str, int, None], kind: str):
    """The (index, info) of an ALSA device by index, by part of its name, or the default ("" / None).

    kind is "input" or "output"; a device that is not there raises AudioUnavailable naming the ones that are.
    """
    key = "maxInputChannels" if kind == "input" else "maxOutputChannels"
    found = [(i, pa.get_device_info_by_index(i)) for i in range(pa.get_device_count())]
    found = [(i, d) for i, d in found if int(d.get(key, 0)) > 0]
    names = ", ".join(f"{i}: {d['name']}" for i, d in found) or "none"
    if device == "" or device is None:
        try:
            d = pa.get_default_input_device_info() if kind == "input" else pa.get_default_output_device_info()
            return int(d["index"]), d
        except (IOError, OSError):
            raise AudioUnavailable(f"no default audio {kind} device ({kind}s: {names})") from None
    if isinstance(device, int) or str(device).isdigit():
        for i, d in found:
            if i == int(device):
                return i, d
        raise AudioUnavailable(f"audio {kind} device index {device} does not exist ({kind}s: {names})")
    for i, d in found:
        if str(device).lower() in d["name"].lower():
            return i, d
    raise AudioUnavailable(f"no audio {kind} device named like {device!r} ({kind}s: {names})")


class AudioInput:
    """Interface of every audio backend: blocks of float32 samples stamped with their capture time."""

    channels: int
    rate: int

    def read(self, timeout_s: Optional[float] = None) -> Optional[Block]:
        """Next block (capture_time_ns_of_first_sample, samples (n, channels) float32); None on timeout."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or socket."""


class PyAudioInput(AudioInput):
    """A multichannel ALSA input through PyAudio's callback stream.

    `device` is an index, a (case-insensitive) substring of the device name, or "" for the default
    input. A device that is not there raises AudioUnavailable (the service retries: a USB array may be
    plugged in later); one with too few channels is a UserError. Capture time = the monotonic time the callback ran, minus the block's duration and the
    stream's input latency, so it dates the first sample of the block.
    """

    def __init__(self, device: Union[str, int], channels: int, rate: int, block: int = 1024):
        try:
            import pyaudio
        except ImportError:
            raise UserError("audio backend 'pyaudio' needs the pyaudio package (pip install pyaudio)") from None
        with _quiet_stderr():                  # PortAudio probes ALSA/JACK and prints pages of noise
            self._pa = pyaudio.PyAudio()
        try:
            index, info = self._find(device)
            if int(info["maxInputChannels"]) < channels:
                raise UserError(f"audio input {info['name']!r} has {int(info['maxInputChannels'])} input channels, "
                                f"the array needs {channels}")
            self.channels, self.rate, self.block = channels, rate, block
            self._queue: queue.Queue[Block] = queue.Queue(maxsize=256)
            self.overruns = 0
            try:
                self._stream = self._pa.open(format=pyaudio.paInt16, channels=channels, rate=rate, input=True,
                                             input_device_index=index, frames_per_buffer=block,
                                             stream_callback=self._callback)
            except (OSError, ValueError) as exc:
                raise AudioUnavailable(f"cannot open audio input {info['name']!r} at {rate} Hz with {channels} "
                                       f"channels: {exc}") from None
            self._latency_ns = int(self._stream.get_input_latency() * 1e9)
            self._stream.start_stream()
        except BaseException:
            self._pa.terminate()
            raise

    def _find(self, device: Union[str, int]):
        return find_pyaudio_device(self._pa, device, "input")

    def _callback(self, in_data, frame_count, time_info, status):
        import pyaudio
        now = time.monotonic_ns()
        samples = np.frombuffer(in_data, "<i2").astype(np.float32).reshape(-1, self.channels) / 32768.0
        t_first = now - self._latency_ns - int(frame_count * 1e9 / self.rate)
        try:
            self._queue.put_nowait((t_first, samples))
        except queue.Full:
            self.overruns += 1                 # the consumer stalled: drop, never block the audio thread
        return (None, pyaudio.paContinue)

    def read(self, timeout_s: Optional[float] = None) -> Optional[Block]:
        try:
            return self._queue.get(timeout=timeout_s) if timeout_s != 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def close(self) -> None:
        try:
            if self._stream.is_active():
                self._stream.stop_stream()
            self._stream.close()
        finally:
            self._pa.terminate()


class SimAudioInput(AudioInput):
    """Blocks the simulated world publishes on `sim.audio` (SimAudioBlock), over the real bus."""

    def __init__(self, runtime_dir: Path, channels: int, rate: int, ctx=None):
        from ..bus.pubsub import Subscriber
        self.channels, self.rate = channels, rate
        self.sub = Subscriber(Path(runtime_dir), ctx).subscribe("world", "sim.audio")
        self.sock = self.sub.sock
        self._pending: list[Block] = []

    def _decode(self, msg) -> Block:
        if msg.rate != self.rate or msg.channels != self.channels:
            raise UserError(f"the simulated world sends {msg.channels} channel(s) at {msg.rate} Hz but the array "
                            f"expects {self.channels} at {self.rate} Hz (check the scenario's array)")
        samples = np.frombuffer(msg.samples, np.float32)
        if samples.size % self.channels:
            raise UserError(f"sim.audio block of {samples.size} samples is not a whole number of "
                            f"{self.channels}-channel frames")
        return msg.t_ns, samples.reshape(-1, self.channels)

    def read(self, timeout_s: Optional[float] = None) -> Optional[Block]:
        if not self._pending:
            wait_ms = -1 if timeout_s is None else int(timeout_s * 1000)
            for topic, msg in self.sub.poll(wait_ms):
                if topic == "sim.audio":
                    self._pending.append(self._decode(msg))
        return self._pending.pop(0) if self._pending else None

    def close(self) -> None:
        self.sub.close()
