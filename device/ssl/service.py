"""The ssl service: streams the mic array, localizes wake words and speech, publishes `ssl.doa`, drives the light bar."""
from __future__ import annotations

import logging
import time

import numpy as np

from ..bus.schemas import AudioBeam, DoaCandidate, DoaEstimate, DoaTrackPoint, MotorState, PolicyState, WakeEvent
from ..errors import UserError
from ..runtime.service import Service
from .beam import Beamformer
from .geometry import load_array
from .stream import Estimate, SslStream

WAKE_WAIT_S = 2.0            # how long a wake event may wait for the audio of its end to arrive
AUDIO_LOST_S = 1.0           # no block for this long: the microphones are gone (a block is 64 ms)
AUDIO_RETRY_S = 2.0          # how often a gone input is looked for again
UTTERANCE_MAX_S = 10.0       # a woken utterance whose end the VAD never finds is closed this long after its start


class SslService(Service):
    name = "ssl"

    def setup(self) -> None:
        c = self.cfg.ssl
        self.geometry = load_array(c.array)
        if c.block < 128 or c.ring_s < 2.0:
            raise UserError(f"ssl: block must be >= 128 samples and ring_s >= 2 s (got {c.block}, {c.ring_s})")
        self.stream = SslStream(self.geometry, ring_s=c.ring_s, preroll_s=c.preroll_s, vad=c.vad,
                                vad_threshold_db=c.vad_threshold_db, vad_min_speech_s=c.vad_min_speech_s,
                                vad_hangover_s=c.vad_hangover_s, vad_max_segment_s=c.vad_max_segment_s)
        self.stream.rom_world = (c.rom_min_deg, c.rom_max_deg)
        self.pending_wakes: list[tuple[float, int, WakeEvent]] = []   # (deadline, utterance id, event)
        self.published = 0
        # The beam the wake engine listens to (ssl.beam, ipc only), steered at the last estimate (world frame).
        self.beam = Beamformer(self.geometry, c.beam)
        self._beam_world: float | None = None
        self.utterance_id = 0                 # counts woken utterances (ssl.doa utterance_id)
        self.pending_finals: list[tuple[int, WakeEvent]] = []   # keyword answered, utterance still going on
        self.audio = None
        self.audio_lost = ""                  # why the input is gone, "" while blocks flow
        # The simulated wire only flows once the world's clock starts: watch it from its first block on.
        self._last_block: float | None = None
        self._next_audio_try = 0.0
        self._open_audio()
        self.loop.every(0.25, self._check_audio)
        self.on("motor", "motor.state", self._on_motor)
        self.on("wake", "wake.event", self._on_wake)
        self.on("policy", "policy.state", self._on_policy)
        self.lightbar = None
        if c.light_bar_pins:
            from ..hw.gpio import use_pin_factory
            from .lightbar import LightBar
            use_pin_factory(self.cfg.gpio.backend)
            self.lightbar = LightBar(c.light_bar_pins, c.light_bar_hold_s)
            self.loop.every(0.1, self._light_tick)
        self.loop.every(0.05, self._serve_wakes)
        self.event("listening", array=self.geometry.name, backend=c.backend, mics=self.geometry.n_mics,
                   rate=self.geometry.sample_rate)

    def _light_tick(self) -> None:
        # while the woken talker goes on speaking the bar keeps showing "streaming" toward them
        fresh = self._last_block is not None and time.monotonic() - self._last_block < 0.3
        self.lightbar.tick(speaking=fresh and self.stream.vad is not None and self.stream.vad.active_since is not None)

    def _open_audio(self) -> None:
        c, g = self.cfg.ssl, self.geometry
        if c.backend == "sim":
            from ..hw.audio import SimAudioInput
            self.audio = SimAudioInput(self.runtime_dir, g.capture_channels, g.sample_rate, ctx=self.ctx)
            self.loop.add_reader(self.audio.sock, self._drain_audio)
        else:
            self.loop.every(c.block / g.sample_rate / 2, self._drain_audio)
            self._reopen_pyaudio()

    def _reopen_pyaudio(self) -> None:
        from ..hw.audio import AudioUnavailable, PyAudioInput
        c, g = self.cfg.ssl, self.geometry
        self._next_audio_try = time.monotonic() + AUDIO_RETRY_S
        try:
            self.audio = PyAudioInput(c.device, g.capture_channels, g.sample_rate, c.block)
        except AudioUnavailable as exc:
            self._mark_lost(str(exc))
            return
        self._last_block = time.monotonic()
        self.event("audio input open", device=c.device, channels=g.capture_channels)

    def _check_audio(self) -> None:
        """Microphones that vanish (unplugged, driver gone) are noticed, reported and looked for again."""
        now = time.monotonic()
        if self.audio is None:
            if now >= self._next_audio_try:
                self._reopen_pyaudio()
            return
        if self._last_block is not None and now - self._last_block > AUDIO_LOST_S:
            self._mark_lost(f"no audio for {now - self._last_block:.1f} s")
            if self.cfg.ssl.backend != "sim":       # a dead stream does not revive: open the device again
                self.audio.close()
                self.audio = None
                self._next_audio_try = now + AUDIO_RETRY_S

    def _mark_lost(self, why: str) -> None:
        if not self.audio_lost:
            self.event("audio input lost; retrying", logging.ERROR, reason=why,
                       retry_s=AUDIO_RETRY_S if self.cfg.ssl.backend != "sim" else None)
        self.audio_lost = why
        self.pub.hb_state, self.pub.hb_detail = "degraded", f"audio input lost: {why}"[:200]

    def _mark_back(self) -> None:
        self.event("audio input back", was=self.audio_lost)
        self.audio_lost = ""
        self.pub.hb_state, self.pub.hb_detail = "running", ""

    # -- inputs -------------------------------------------------------------------------------------
    def _drain_audio(self) -> None:
        while self.audio is not None:
            block = self.audio.read(0)
            if block is None:
                break
            self._last_block = time.monotonic()
            if self.audio_lost:
                self._mark_back()
            self._publish_beam(*block)
            for est in self.stream.push(*block):
                self._publish(est)
        self._serve_wakes()

    def _publish_beam(self, t_ns: int, block) -> None:
        if self._beam_world is not None:
            h = self.stream.heading.at(t_ns)
            self.beam.steer(float(((self._beam_world - (h or 0.0)) + 180) % 360 - 180))
        mono = self.beam.process(self.geometry.select_mics(np.asarray(block, np.float32)))
        pcm = (np.clip(mono, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.pub.publish("ssl.beam", AudioBeam(t_ns=t_ns, rate=self.geometry.sample_rate, samples=pcm,
                                              azimuth_deg=self.beam.azimuth_deg))

    def _on_motor(self, msg: MotorState) -> None:
        self.stream.heading.add(msg.t_ns, msg.heading_deg)

    def _on_policy(self, msg: PolicyState) -> None:
        self.stream.rom_world = (msg.rom_min_deg, msg.rom_max_deg)

    def _on_wake(self, msg: WakeEvent) -> None:
        if msg.end_ns <= msg.start_ns:
            self.event("wake event with end before start ignored", start_ns=msg.start_ns, end_ns=msg.end_ns)
            return
        self.utterance_id += 1
        self.pending_wakes.append((time.monotonic() + WAKE_WAIT_S, self.utterance_id, msg))
        if self.lightbar is not None:
            self.lightbar.woken()
        self._serve_wakes()

    def _serve_wakes(self) -> None:
        """Answer each wake event once the ring buffer holds audio up to its end (or it waited long enough)."""
        newest = self.stream.ring.newest_ns()
        now = time.monotonic()
        waiting = []
        for deadline, uid, ev in self.pending_wakes:
            # An engine that gives the keyword's own span is answered on that span at once ("keyword"):
            # the command is still being spoken. An old-style event spans the whole utterance.
            keyword = ev.kw_end_ns > ev.kw_start_ns > 0
            start, end = (ev.kw_start_ns, ev.kw_end_ns) if keyword else (ev.start_ns, ev.end_ns)
            if newest is not None and newest >= end or now >= deadline:
                est = self.stream.localize(start, end, "wake", track=not keyword)
                if est is None:
                    self.event("wake event outside the audio buffer", start_ns=start, end_ns=end)
                else:
                    self._publish(est, uid, "keyword" if keyword else "utterance")
                if keyword:
                    self.pending_finals.append((uid, ev))
            else:
                waiting.append((deadline, uid, ev))
        self.pending_wakes = waiting
        self._serve_finals()

    def _serve_finals(self) -> None:
        """Once a woken utterance has ended (the VAD says so, or UTTERANCE_MAX_S after its start), localize all
        of it again with its track: the "final" estimate, which the policy takes as a refinement."""
        newest = self.stream.ring.newest_ns()
        if newest is None:
            return
        waiting = []
        longest = min(UTTERANCE_MAX_S, self.cfg.ssl.ring_s - 1.0)
        for uid, ev in self.pending_finals:
            limit = ev.start_ns + int(longest * 1e9)
            found = self.stream.speech_end_ns(ev.kw_end_ns, hangover_s=0.0)
            end = min(found, limit) if found is not None else limit
            if newest < end:
                waiting.append((uid, ev))
                continue
            est = self.stream.localize(ev.start_ns, end, "wake", track=True)
            if est is not None:
                self._publish(est, uid, "final")
        self.pending_finals = waiting

    # -- output -------------------------------------------------------------------------------------
    def _publish(self, est: Estimate, utterance_id: int = 0, phase: str = "utterance") -> None:
        r = est.result
        msg = DoaEstimate(t_ns=est.end_ns, start_ns=est.start_ns, end_ns=est.end_ns, azimuth_deg=r.azimuth_deg,
                          heading_deg=est.heading_deg, confidence=r.confidence, ambiguous=r.ambiguous,
                          candidates=[DoaCandidate(azimuth_deg=a, power=p) for a, p in r.candidates[:8]],
                          energy_map=r.coarse_map(72), trigger=est.trigger, sent_ns=time.monotonic_ns(),
                          utterance_id=utterance_id, phase=phase,
                          track=[DoaTrackPoint(t_ns=t, azimuth_deg=round(a, 2), confidence=round(c, 3))
                                 for t, a, c in est.track[:32]])
        self.pub.publish("ssl.doa", msg)
        self.published += 1
        if r.azimuth_deg is not None and not r.ambiguous:
            self._beam_world = r.azimuth_deg + (est.heading_deg or 0.0)
            if self.lightbar is not None:
                self.lightbar.show(r.azimuth_deg)
        elif self.lightbar is not None and self.lightbar.state == "woken" and est.trigger == "wake":
            self.lightbar.off()                # woken, but no direction to turn to (outside the range, ambiguous)
        self.event("doa", trigger=est.trigger, phase=phase, track_points=len(est.track), azimuth_deg=None if r.azimuth_deg is None else round(r.azimuth_deg, 1),
                   confidence=round(r.confidence, 2), ambiguous=r.ambiguous,
                   heading_deg=None if est.heading_deg is None else round(est.heading_deg, 1))

    def teardown(self) -> None:
        audio = getattr(self, "audio", None)
        if audio is not None:
            audio.close()
        if getattr(self, "lightbar", None) is not None:
            self.lightbar.close()


def main(cfg) -> int:
    return SslService(cfg).run()
