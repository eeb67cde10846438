"""Where the stereo to play comes from: a FIFO of raw PCM, an ALSA capture device (loopback), or a WAV file."""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from .wavio import read_wav


class StereoSource:
    """Interface: `read(n)` returns up to n frames (k, 2) float32 available now, or None when there are none."""

    name = "none"

    def read(self, n: int) -> Optional[np.ndarray]:
        return None

    def close(self) -> None:
        """Release the pipe, device or file."""


class FifoSource(StereoSource):
    """A named pipe carrying raw signed 16-bit little-endian stereo at the service's rate.

    Anything can write to it: `sox song.flac -t raw -r 48000 -e signed -b 16 -c 2 - > speaker.fifo`, a TTS
    engine, or a music player's pipe output. It is made if missing; the service holds a write end of its own
    so a writer that closes never turns reads into end-of-file, and a writer blocks while playback catches up.
    """

    name = "fifo"
    FRAME_BYTES = 4

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            if not self.path.exists():
                os.mkfifo(self.path)
                os.chmod(self.path, 0o660)          # writable by the swivel group whatever the umask
            elif not stat.S_ISFIFO(self.path.stat().st_mode):
                raise UserError(f"speaker source {self.path} exists and is not a FIFO")
            self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            self._keep = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise UserError(f"speaker source FIFO {self.path}: {exc.strerror or exc}") from None
        self._rest = b""

    def read(self, n: int) -> Optional[np.ndarray]:
        want = n * self.FRAME_BYTES - len(self._rest)
        try:
            data = os.read(self.fd, max(want, 0)) if want > 0 else b""
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                data = b""
            else:
                raise
        data = self._rest + data
        whole = len(data) // self.FRAME_BYTES * self.FRAME_BYTES
        self._rest = data[whole:]
        if not whole:
            return None
        return np.frombuffer(data[:whole], "<i2").astype(np.float32).reshape(-1, 2) / 32768.0

    def close(self) -> None:
        for fd in (self.fd, self._keep):
            try:
                os.close(fd)
            except OSError:
                pass


class AlsaSource(StereoSource):
    """An ALSA capture device through PyAudio: the capture side of an snd-aloop loopback that a player or
    PulseAudio/PipeWire plays into (`aplay -D hw:Loopback,0,0 song.wav`)."""

    name = "alsa"

    def __init__(self, device, rate: int, block: int):
        from ..hw.audio import PyAudioInput
        self.input = PyAudioInput(device, 2, rate, block)
        self._pending = np.zeros((0, 2), np.float32)

    def read(self, n: int) -> Optional[np.ndarray]:
        while len(self._pending) < n:
            got = self.input.read(0)
            if got is None:
                break
            self._pending = np.concatenate([self._pending, got[1][:, :2]])
        if not len(self._pending):
            return None
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def close(self) -> None:
        self.input.close()


class FileSource(StereoSource):
    """A WAV file (mono is played on both channels), once or looped."""

    name = "file"

    def __init__(self, path: str, rate: int, loop: bool = False):
        x, file_rate = read_wav(path)
        if file_rate != rate:
            raise UserError(f"{path} is sampled at {file_rate} Hz but the speaker plays at {rate} Hz "
                            f"(resample it first, e.g. sox in.wav -r {rate} out.wav)")
        self.x = np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x[:, :2]
        self.loop, self.pos = loop, 0

    def read(self, n: int) -> Optional[np.ndarray]:
        if self.pos >= len(self.x):
            if not self.loop or not len(self.x):
                return None
            self.pos = 0
        out = self.x[self.pos:self.pos + n]
        self.pos += len(out)
        return out


def open_source(kind: str, path: str, device, rate: int, block: int, loop: bool, runtime_dir: Path) -> StereoSource:
    if kind == "fifo":
        return FifoSource(Path(path) if path else Path(runtime_dir) / "speaker.fifo")
    if kind == "alsa":
        return AlsaSource(device, rate, block)
    if kind == "file":
        if not path:
            raise UserError("speaker.source = \"file\" needs speaker.source_path (a WAV file)")
        return FileSource(path, rate, loop)
    return StereoSource()
