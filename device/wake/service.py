"""The wake service: runs the wake-word engine on ssl's beam (`ssl.beam`) and publishes `wake.event`.

It listens to the voice satellite too (`satellite.state`): while the device itself speaks it stays deaf
(the device's own voice must never wake it, so ssl never localizes it), and the model Home Assistant chose
replaces the configured ones."""
from __future__ import annotations

import logging
import time

import numpy as np

from ..bus.schemas import AudioBeam, SatelliteState, WakeEvent
from ..runtime.service import Service
from .config import SHIPPED_MODELS
from .engine import RATE, Detector

BEAM_LOST_S = 1.0            # no beam block for this long: say so in the heartbeat (ssl or its mics are gone)


class WakeService(Service):
    name = "wake"

    def setup(self) -> None:
        c = self.cfg.wake
        self.detector = Detector(c.engine, c.models, c.model_file, c.threshold, c.refractory_s, c.max_keyword_s)
        self.t0_ns: int | None = None           # capture time of the detector's sample 0
        self.detections = 0
        self._last_block: float | None = None
        self.gated = 0
        self.speaking = False
        self.speak_window = (0, 0)                # capture-clock span of the device's own voice (tail included)
        self.on("ssl", "ssl.beam", self._on_beam)
        self.on("satellite", "satellite.state", self._on_satellite)
        self.loop.every(0.25, self._check_beam)
        self.event("listening", engine=c.engine, models=[m for m, _ in self.detector.names])

    def _time_of(self, index: int) -> int:
        return self.t0_ns + int(index * 1e9 / RATE)

    def _on_beam(self, msg: AudioBeam) -> None:
        if msg.rate != RATE:
            self.event("beam at the wrong rate ignored", logging.WARNING, rate=msg.rate)
            return
        x = np.frombuffer(msg.samples, "<i2")
        # Keep the sample clock tied to capture times: a gap (lost blocks, mics unplugged) restarts it.
        expected = None if self.t0_ns is None else self._time_of(self.detector.samples)
        if expected is None or abs(msg.t_ns - expected) > 50_000_000:
            self.t0_ns = msg.t_ns - int(self.detector.samples * 1e9 / RATE)
        self._last_block = time.monotonic()
        if self.pub.hb_state == "degraded":
            self.pub.hb_state, self.pub.hb_detail = "running", ""
        for d in self.detector.push(x):
            self._publish(d)

    def _on_satellite(self, msg: SatelliteState) -> None:
        self.speaking = msg.speaking
        if msg.speak_until_ns:
            self.speak_window = (msg.speak_start_ns, msg.speak_until_ns)
        c = self.cfg.wake
        want = [m for m in msg.wake_models if m in SHIPPED_MODELS[c.engine]]
        if want and want != [m for m, _ in self.detector.names] and not c.model_file:
            self.detector = Detector(c.engine, want, "", c.threshold, c.refractory_s, c.max_keyword_s)
            self.t0_ns = None                      # a fresh detector counts samples from 0
            self.event("wake word model switched", models=want)

    def _publish(self, d) -> None:
        start_ns, end_ns = self._time_of(d.start), self._time_of(d.end)
        a, b = self.speak_window
        if self.speaking or (b and end_ns >= a and start_ns <= b):
            self.gated += 1
            self.event("wake word in the device's own voice: ignored", keyword=d.keyword, gated=self.gated)
            return
        ev = WakeEvent(t_ns=time.monotonic_ns(), start_ns=start_ns, end_ns=end_ns, keyword=d.keyword[:64],
                       score=round(d.score, 3), engine=self.detector.engine_name, kw_start_ns=start_ns,
                       kw_end_ns=end_ns)
        self.pub.publish("wake.event", ev)
        self.detections += 1
        self.event("wake word", keyword=d.keyword, score=round(d.score, 3),
                   keyword_s=round((end_ns - start_ns) / 1e9, 2),
                   decided_after_ms=round((ev.t_ns - end_ns) / 1e6, 1))

    def _check_beam(self) -> None:
        if self._last_block is not None and time.monotonic() - self._last_block > BEAM_LOST_S:
            if self.pub.hb_state != "degraded":
                self.event("no audio from ssl", logging.WARNING)
            self.pub.hb_state, self.pub.hb_detail = "degraded", "no ssl.beam audio"

    def teardown(self) -> None:
        self.event("stopped", detections=getattr(self, "detections", 0))


def main(cfg) -> int:
    return WakeService(cfg).run()
