"""The device's own voice in the simulated room: `sim.voice` blocks from the satellite's simulated speaker
become one more sound source of the world's AudioScene, at the device, so the microphones hear it."""
from __future__ import annotations

import logging

import numpy as np

from ..bus.pubsub import Subscriber
from ..runtime.logs import log_event
from ..sim.acoustics import SPEECH_REF_DBFS, _Source

SPEAKER_OFFSET_M = 0.12        # the speaker sits this far from the array's centre, below the screen
SPEAKER_DROP_M = 0.10          # and this much lower
FULL_SCALE_DBFS_AT_1M = SPEECH_REF_DBFS + 12.0   # a full-scale sine plays as loud as a raised voice at 1 m


class RoomVoice:
    def __init__(self, scene, runtime_dir, log: logging.Logger):
        self.scene = scene
        self.log = log
        xyz = scene.center + np.array([SPEAKER_OFFSET_M, 0.0, -SPEAKER_DROP_M])
        self.early, self.tail = scene._rirs_for(xyz)       # before the clock starts: cached on disk after once
        self.gain = 10 ** (FULL_SCALE_DBFS_AT_1M / 20) * np.sqrt(2)
        self.sub = Subscriber(runtime_dir)
        self.sub.subscribe("satellite", "sim.voice")
        self.src: _Source | None = None
        self.blocks = 0
        self.samples = 0

    def poll(self, t0_ns: int, next_sample: int) -> None:
        """Take the blocks that arrived; `next_sample` is the first scene sample not yet rendered."""
        for topic, m in self.sub.poll(0):
            if topic != "sim.voice":
                continue
            if m.rate != self.scene.fs or m.channels != 1:
                continue                       # the satellite plays at the array's rate (16 kHz, mono)
            x = np.frombuffer(m.samples, np.float32) * self.gain
            at = max(next_sample, int(round((m.t_ns - t0_ns) * self.scene.fs / 1e9)))
            self._add(at, x.astype(np.float32))
            self.blocks += 1
            self.samples += len(x)
            if self.blocks == 1:
                log_event(self.log, "the device speaks into the room", at_s=round(at / self.scene.fs, 3))

    def _add(self, at: int, x: np.ndarray) -> None:
        src = self.src
        if src is None or at > src.start + len(src.signal) + src.length:
            self.src = _Source(x, at, self.early, self.tail)        # a new utterance of the device
            self.scene.sources.append(self.src)
            return
        end = src.start + len(src.signal)
        if at >= end:
            src.signal = np.concatenate([src.signal, np.zeros(at - end, np.float32), x])
        else:                                                        # overlaps what is queued: mix it in
            need = at + len(x) - end
            if need > 0:
                src.signal = np.concatenate([src.signal, np.zeros(need, np.float32)])
            src.signal[at - src.start: at - src.start + len(x)] += x

    def close(self) -> None:
        self.sub.close()
