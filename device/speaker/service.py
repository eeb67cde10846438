"""The speaker service: plays stereo from a FIFO, loopback or file through upmix, crosstalk cancellation and a
centre beam steered at the listener vision sees, on N drivers; publishes `speaker.state`."""
from __future__ import annotations

import logging
import time

import numpy as np

from ..bus.schemas import MotorState, People, SimWorld, SpeakerState
from ..errors import UserError
from ..hw.audio import AudioUnavailable
from ..runtime.service import Service
from .acoustics import Listener
from .design import DesignParams, design
from .drivers import load_drivers
from .render import SpatialRenderer
from .sources import StereoSource, open_source

RETRY_S = 2.0                 # how often a missing output or loopback device is looked for again
MAX_BLOCKS_PER_PUMP = 8       # blocks processed per loop turn at most
SIM_LISTENER_PERIOD_S = 0.5   # how often the simulated ears follow the world's ground truth


def wrap_deg(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


class SpeakerService(Service):
    name = "speaker"

    def setup(self) -> None:
        c = self.cfg.speaker
        self.layout = load_drivers(c.drivers)
        if not 8000 <= c.rate <= 192000:
            raise UserError(f"speaker.rate must be between 8000 and 192000 Hz, got {c.rate}")
        if c.block < 64 or c.taps < 32 or c.taps > c.block + 1:
            raise UserError(f"speaker: need block >= 64 and 32 <= taps <= block + 1 (got block {c.block}, taps {c.taps})")
        if not 0 < c.min_distance_m <= c.default_distance_m <= c.max_distance_m:
            raise UserError("speaker: need 0 < min_distance_m <= default_distance_m <= max_distance_m")
        self.params = DesignParams(taps=c.taps)
        self.gain = 10 ** (c.gain_db / 20)
        self.heading: float | None = None
        self.person: tuple[float, float, int, float] | None = None   # world bearing, distance, track id, seen
        self.designed = self._target()
        self.renderer = SpatialRenderer(design(self.layout, self.designed[0], c.mode, self.params, c.rate), c.block)
        self.designs = 1
        self._flushed = True
        self._last_design = time.monotonic()
        self.output = None
        self.output_error = ""
        self._next_output_try = 0.0
        self._open_output()
        self.source: StereoSource = StereoSource()
        self._next_source_try = 0.0
        self._open_source()
        self._sim_truth: list = []
        self._sim_listener_at = 0.0
        self.on("vision", "vision.people", self._on_people)
        self.on("motor", "motor.state", self._on_motor)
        if c.backend == "sim":
            self.on("world", "sim.world", self._on_world)
        self.loop.every(0.005, self._pump)
        self.loop.every(1.0 / max(c.redesign_max_hz, 0.1), self._maybe_redesign)
        self.loop.every(0.5, self._publish)
        self.loop.every(RETRY_S, self._retry)
        self.event("playing", layout=self.layout.name, drivers=self.layout.n_drivers, mode=c.mode,
                   backend=c.backend, source=c.source, rate=c.rate)
        self._publish()

    # -- devices --------------------------------------------------------------------------------------
    def _open_output(self) -> None:
        c = self.cfg.speaker
        if c.backend == "sim":
            from ..hw.speaker import SimSpeakerOutput
            self.output = SimSpeakerOutput(self.layout.n_drivers, c.rate, self.layout.bypass_matrix(),
                                           self.layout.positions, ears_wav=c.sim_ears_wav)
            self.output.set_listener(self.designed[0])      # until the world says where the listener is
            return
        from ..hw.speaker import PyAudioOutput
        try:
            self.output = PyAudioOutput(c.device, self.layout.n_drivers, c.rate, self.layout.bypass_matrix(), c.block)
        except AudioUnavailable as exc:
            self._degraded(f"audio output: {exc}")
            return
        self.output_error = ""
        self.event("audio output open", device=c.device, channels=self.layout.n_drivers)

    def _open_source(self) -> None:
        c = self.cfg.speaker
        try:
            self.source = open_source(c.source, c.source_path, c.source_device, c.rate, c.block, c.source_loop,
                                      self.runtime_dir)
        except AudioUnavailable as exc:
            self._degraded(f"source: {exc}")
            self.source = StereoSource()
            self.source.name = "unavailable"

    def _degraded(self, why: str) -> None:
        if why != self.output_error:
            self.event("degraded; retrying", logging.ERROR, reason=why, retry_s=RETRY_S)
        self.output_error = why
        self.pub.hb_state, self.pub.hb_detail = "degraded", why[:200]

    def _retry(self) -> None:
        if self.output is not None and not self.output.alive():
            self._degraded("audio output stopped")
            self.output.close()
            self.output = None
        if self.output is None:
            self._open_output()
        if self.source.name == "unavailable":
            self._open_source()
        if self.output is not None and self.source.name != "unavailable" and self.output_error:
            self.event("back", was=self.output_error)
            self.output_error = ""
            self.pub.hb_state, self.pub.hb_detail = "running", ""

    # -- audio ----------------------------------------------------------------------------------------
    def _pump(self) -> None:
        """Keep `ahead_s` of processed audio queued at the output; a FIFO writer waits meanwhile."""
        if self.output is None:
            return
        c = self.cfg.speaker
        ahead = int(c.ahead_s * c.rate)
        # Bounded work per turn: on a starved CPU the loop must still turn (bus, heartbeat, watchdog).
        for _ in range(MAX_BLOCKS_PER_PUMP):
            if self.output.queued_frames() >= ahead:
                break
            chunk = self.source.read(c.block)
            if chunk is None:
                # The source went quiet and the output is about to run dry: push the last partial block
                # and the filters' tail out, so the end of an utterance is not held back.
                if not self._flushed and self.output.queued_frames() < c.block:
                    self._flushed = True
                    out = self.renderer.flush()
                    if len(out):
                        self.output.play((out * self.gain).astype(np.float32))
                break
            self._flushed = False
            out = self.renderer.process(chunk)
            if len(out):
                self.output.play((out * self.gain).astype(np.float32))

    # -- where the listener is -----------------------------------------------------------------------
    def _on_motor(self, msg: MotorState) -> None:
        self.heading = msg.heading_deg

    def _on_people(self, msg: People) -> None:
        c = self.cfg.speaker
        if msg.blind:
            return
        engaged = [p for p in msg.people if p.engagement >= c.min_engagement and p.distance_m > 0]
        if not engaged:
            return
        current = self.person[2] if self.person else None
        best = max(engaged, key=lambda p: (p.track_id == current, p.engagement))
        heading = msg.heading_deg if msg.heading_deg is not None else (self.heading or 0.0)
        self.person = (best.bearing_deg + heading, best.distance_m, best.track_id, time.monotonic())

    def _target(self) -> tuple[Listener, str, int]:
        """The listener to design for now: device-frame bearing of the engaged person, else the default spot."""
        c = self.cfg.speaker
        if c.follow and self.person and time.monotonic() - self.person[3] <= c.listener_timeout_s:
            world, dist, track, _ = self.person
            bearing = wrap_deg(world - (self.heading or 0.0))
            dist = min(max(dist, c.min_distance_m), c.max_distance_m)
            return Listener(bearing, dist), "vision", track
        return Listener(c.default_bearing_deg, c.default_distance_m), "default", -1

    def _maybe_redesign(self) -> None:
        c = self.cfg.speaker
        target = self._target()
        wanted, have = target[0], self.designed[0]
        if (abs(wrap_deg(wanted.bearing_deg - have.bearing_deg)) < c.redesign_deg
                and abs(wanted.distance_m - have.distance_m) < c.redesign_m):
            self.designed = (have, target[1], target[2])        # close enough: keep the filters
            return
        if c.mode != "bypass":
            self.renderer.set_filters(design(self.layout, wanted, c.mode, self.params, c.rate))
        self.designed = target
        self.designs += 1
        self.event("steered", level=logging.DEBUG, bearing_deg=round(wanted.bearing_deg, 1),
                   distance_m=round(wanted.distance_m, 2), source=target[1])

    def _on_world(self, msg: SimWorld) -> None:
        """Simulated ears follow the true position of the person nearest the steered bearing (ground truth)."""
        now = time.monotonic()
        if self.output is None or not msg.people or now - self._sim_listener_at < SIM_LISTENER_PERIOD_S:
            return
        self._sim_listener_at = now
        steered = self.designed[0].bearing_deg
        best = min(msg.people, key=lambda p: abs(wrap_deg(p.azimuth_world_deg - msg.heading_deg - steered)))
        self.output.set_listener(Listener(wrap_deg(best.azimuth_world_deg - msg.heading_deg),
                                          max(best.distance_m, 0.3)))

    # -- state ----------------------------------------------------------------------------------------
    def _publish(self) -> None:
        c = self.cfg.speaker
        listener, src, track = self.designed
        played, _ = self.output.clock() if self.output is not None else (0, 0)
        queued = self.output.queued_frames() if self.output is not None else 0
        self.pub.publish("speaker.state", SpeakerState(
            t_ns=time.monotonic_ns(), mode=c.mode, drivers=self.layout.n_drivers, layout=self.layout.name,
            listener_bearing_deg=round(listener.bearing_deg, 2), listener_distance_m=round(listener.distance_m, 3),
            listener_source=src, track_id=track, designs=self.designs, source=self.source.name,
            playing=queued > 0, played_frames=int(played),
            underruns=int(getattr(self.output, "underruns", 0)), clipped=int(getattr(self.output, "clipped", 0)),
            rate=c.rate, output=c.backend, output_ok=self.output is not None))

    def teardown(self) -> None:
        # setup() may have stopped half-way (a UserError): close what it opened.
        if getattr(self, "source", None) is not None:
            self.source.close()
        if getattr(self, "output", None) is not None:
            self.output.close()


def main(cfg) -> int:
    return SpeakerService(cfg).run()


