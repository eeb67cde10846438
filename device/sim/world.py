"""The simulated world process: moves people, speaks, makes noise, flips switches, pushes the turntable,
and publishes what the device's sensors would perceive.

It stands in for the room. The wake service's real engine hears the rendered audio (through ssl's beam);
only a scenario with `wake_engine = "standin"` has the world stand in for the engine, as the `wake`
publisher, with a `wake.event` a fixed delay after every utterance that begins with the wake word (exact
timing for tests). Its motor backend is the real firmware running in simavr (`device.sim.turntable`), so
the heading it renders with is the heading the firmware produced. Publishes: `sim.world` (ground truth
for simulated camera and GPIO backends) and `sim.audio` (the mic wire).
Besides the scenario's timed events it takes events sent now, on its control inbox (`device.sim.control`).
At exit it writes `<runtime_dir>/world-truth.json` for the run report.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

import numpy as np

from ..bus.pubsub import Publisher
from ..bus.schemas import SimAudioBlock, SimPerson, SimPoster, SimWorld, WakeEvent
from ..errors import UserError
from ..runtime.logs import log_event, setup_logging
from .control import ControlInbox
from .moving_speech import add_speech
from .moving_speech import prepare as prepare_moving_speech
from .scenario import Scenario, load_scenario, person_at
from .speech import synthesize

WORLD_PERIOD_S = 1 / 30          # ground-truth rate (camera frames are rendered from it)
AUDIO_BLOCK = 1024               # samples per sim.audio block (64 ms at 16 kHz)
MAX_BLOCKS_PER_PASS = 2          # audio blocks rendered per pass of the main loop (see World.run)
WAKE_ENGINE_DELAY_S = 0.15       # a real engine decides shortly after the utterance ends


class World:
    def __init__(self, scenario: Scenario, runtime_dir: Path, fast_plant: bool = False, device_voice: bool = False):
        self.sc = scenario
        self.device_voice = device_voice       # render the satellite's voice (sim.voice) into the room
        self.wait_for: list[str] | None = None
        self.voice = None
        self.runtime_dir = runtime_dir
        self.log = logging.getLogger("swivel.world")
        self.pub = Publisher("world", runtime_dir, heartbeat_s=0.5)
        self.standin = scenario.wake_engine == "standin"
        self.wake_pub = Publisher("wake", runtime_dir, heartbeat_s=0.5) if self.standin else None
        self.shutter_closed = False
        self.mics_present = True
        self.camera_present = True
        self.mute = False
        self.lighting = 1.0
        self.truth_speech: list[dict] = []
        self.events_done: list[dict] = []
        self.heading_trace: list[tuple[float, float]] = []
        self._pending_wakes: list[tuple[float, WakeEvent]] = []
        from .faults import FaultPlan
        self.faults = FaultPlan(scenario)            # [[fault]]: slow one stage on chosen or random events

        from ..ssl.geometry import load_array
        from .acoustics import AudioScene
        from .turntable import SimTurntable
        self.array = load_array(scenario.array)
        self.fs = self.array.sample_rate
        room = scenario.room
        self.audio = AudioScene(room_dims_m=room.size_m, rt60_s=room.rt60_s, array=self.array,
                                device_xy_m=room.device_m, fs=self.fs,
                                noise=[{k: v for k, v in {"kind": n.kind, "level_db": n.level_db,
                                                          "azimuth_deg": n.azimuth_deg,
                                                          "distance_m": n.distance_m}.items()
                                        if v is not None} for n in scenario.noise],
                                seed=scenario.seed)
        self.turntable = SimTurntable(runtime_dir, fast_plant=fast_plant)
        self.control = ControlInbox(runtime_dir)

    # -- scenario timeline ---------------------------------------------------------------------------
    def _schedule_speech(self, duration_s: float) -> None:
        from ..wake.engine import keyword_text
        wake = keyword_text(self.sc.wake_word.lower())
        for s in sorted(self.sc.speech, key=lambda s: s.t):
            if s.t >= duration_s:              # a shortened run never reaches it
                continue
            spec = self.sc.person_by_id(s.person)
            where = person_at(spec, s.t)
            start_s, end_s = add_speech(self.audio, spec, s)     # moves with a talker who walks
            is_wake = s.text.strip().lower().lstrip("\"' ").startswith(wake)
            # Relative to the scenario's start until the clock starts (_start_speech_clock).
            start_ns, end_ns = int(start_s * 1e9), int(end_s * 1e9)
            self.truth_speech.append({"person": s.person, "text": s.text, "wake": is_wake,
                                      "start_s": start_s, "end_s": end_s, "start_ns": start_ns,
                                      "end_ns": end_ns, "azimuth_deg": where.azimuth_deg,
                                      "distance_m": where.distance_m})
            if is_wake:
                # where the keyword ends, for the benchmarks: the keyword said alone by the same voice
                kw_s = len(synthesize(wake, s.voice, self.fs)) / self.fs
                self.truth_speech[-1].update(kw_end_s=start_s + kw_s, kw_end_ns=start_ns + int(kw_s * 1e9))
                self.truth_speech[-1]["faults"] = self.faults.plan(start_s, end_s)
            if is_wake and self.standin:
                ev = WakeEvent(t_ns=0, start_ns=start_ns, end_ns=end_ns, keyword=wake, score=1.0,
                               engine="swivel-sim")
                self._pending_wakes.append((end_s + WAKE_ENGINE_DELAY_S + self.faults.extra_wake_delay(end_s), ev))

    def _start_speech_clock(self, t0_ns: int) -> None:
        """Turn the speech schedule's times, relative to the scenario's start, into clock times."""
        for entry in self.truth_speech:
            for key in ("start_ns", "end_ns", "kw_end_ns"):
                if key in entry:
                    entry[key] += t0_ns
        for _, ev in self._pending_wakes:
            ev.start_ns += t0_ns
            ev.end_ns += t0_ns

    def _apply_event(self, ev) -> None:
        tt = self.turntable
        if ev.kind == "shutter_close":
            self.shutter_closed = True
        elif ev.kind == "shutter_open":
            self.shutter_closed = False
        elif ev.kind == "mute_on":
            self.mute = True
        elif ev.kind == "mute_off":
            self.mute = False
        elif ev.kind == "obstacle":
            tt.add_obstacle(ev.azimuth_deg)
        elif ev.kind == "clear_obstacles":
            tt.clear_obstacles()
        elif ev.kind == "hand_push":
            tt.hand_push(ev.delta_deg, ev.duration_s)
        elif ev.kind == "mcu_reset":
            tt.reset_mcu()
        elif ev.kind == "lights":
            self.lighting = ev.level if ev.level is not None else 1.0
        elif ev.kind in ("mics_unplug", "mics_plug"):
            self.mics_present = ev.kind == "mics_plug"
        elif ev.kind in ("camera_unplug", "camera_plug"):
            self.camera_present = ev.kind == "camera_plug"
        self.events_done.append({"t": ev.t, "kind": ev.kind})
        log_event(self.log, "scenario event", kind=ev.kind, t=ev.t)

    def _apply_turntable_fault(self, tf) -> None:
        """[[turntable_fault]]: the plant wears from now on (SimTurntable.set_fault)."""
        self.turntable.set_fault(tf.kind, tf.severity, tf.angle_deg, tf.width_deg)
        self.events_done.append({"t": tf.start_s, "kind": f"turntable_fault:{tf.kind}", "severity": tf.severity})
        log_event(self.log, "turntable fault", kind=tf.kind, severity=tf.severity, angle_deg=tf.angle_deg,
                  width_deg=tf.width_deg, t=tf.start_s)

    def truth(self, t: float, heading: float) -> SimWorld:
        speaking = {s["person"] for s in self.truth_speech if s["start_s"] <= t <= s["end_s"]}

        people = []
        for p in self.sc.person:
            wp = person_at(p, t)
            people.append(SimPerson(id=p.id, azimuth_world_deg=wp.azimuth_deg, distance_m=wp.distance_m,
                                    height_m=p.height_m, facing_deg=wp.facing_deg, photo=p.photo,
                                    speaking=p.id in speaking))
        posters = [SimPoster(azimuth_world_deg=q.azimuth_deg, distance_m=q.distance_m, height_m=q.height_m,
                             width_m=q.width_m, photo=q.photo) for q in self.sc.poster]
        return SimWorld(t_ns=time.monotonic_ns(), heading_deg=heading, people=people,
                        shutter_closed=self.shutter_closed, mute=self.mute, lighting=self.lighting,
                        scenario_time_s=t, camera_present=self.camera_present and not self.faults.camera_missing(t), posters=posters)

    # -- main loop ----------------------------------------------------------------------------------
    def wait_for_services(self, stop_flag: list[bool], timeout_s: float = 90.0) -> None:
        """Hold the scenario clock at zero until every service's heartbeat is heard (no blind sleeps)."""
        from ..bus.pubsub import Subscriber
        # The launcher says which it started. Without that, the motion loop, and the wake engine when the
        # scenario uses a real one (the web app and the satellite are optional: nothing waits for them).
        core = ["motor", "ssl", "vision", "policy"] + ([] if self.sc.wake_engine == "standin" else ["wake"])
        SERVICES = core if self.wait_for is None else self.wait_for
        sub = Subscriber(self.runtime_dir)
        for name in SERVICES:
            sub.subscribe(name)
        deadline = time.monotonic() + timeout_s
        try:
            while not stop_flag[0] and time.monotonic() < deadline:
                list(sub.poll(50))
                self.pub.publish("sim.world", self.truth(0.0, self.turntable.angle_deg()))
                self.pub.tick()
                if self.wake_pub:
                    self.wake_pub.tick()
                if all(sub.alive(s, 2.0) for s in SERVICES):
                    return
            log_event(self.log, "starting without every service", logging.WARNING,
                      alive=[s for s in SERVICES if sub.alive(s, 2.0)])
        finally:
            sub.close()

    def run(self, duration_s: float, stop_flag: list[bool], wait_services: bool = True) -> None:
        self.turntable.start()
        prepare_moving_speech(self.audio, self.sc, duration_s)   # before the clock: rooms take seconds
        if wait_services:
            self.wait_for_services(stop_flag)
        if self.device_voice:
            from ..satellite.room_voice import RoomVoice
            self.voice = RoomVoice(self.audio, self.runtime_dir, self.log)
        # Speech is synthesized and placed in the room before the clock starts: on a loaded machine that
        # takes seconds, and a clock already running would then apply the first events (a mute switched on
        # and off again) in one pass, unseen. Its times are kept relative until the clock starts.
        self._schedule_speech(duration_s)
        self.t0_ns = time.monotonic_ns()
        self._start_speech_clock(self.t0_ns)
        events = sorted(self.sc.event, key=lambda e: e.t)
        table_faults = sorted(self.sc.turntable_fault, key=lambda f: f.start_s)
        wakes = sorted(self._pending_wakes, key=lambda w: w[0])
        block_s = AUDIO_BLOCK / self.fs
        next_block = 0                       # index of the next audio block to send
        next_world = 0.0
        late_blocks = 0
        while not stop_flag[0]:
            t = (time.monotonic_ns() - self.t0_ns) / 1e9
            if t >= duration_s:
                break
            heading = self.turntable.angle_deg()
            while events and events[0].t <= t:
                self._apply_event(events.pop(0))
            while table_faults and table_faults[0].start_s <= t:
                self._apply_turntable_fault(table_faults.pop(0))
            for ev in self.control.poll():
                self._apply_event(ev)
            while wakes and wakes[0][0] <= t:
                _, ev = wakes.pop(0)
                ev.t_ns = time.monotonic_ns()
                self.wake_pub.publish("wake.event", ev)
            if self.voice is not None:
                self.voice.poll(self.t0_ns, next_block * AUDIO_BLOCK)
            # Audio: send each block once its last sample has "happened", like a sound card would.
            self.faults.tick(t)
            # A few blocks per pass at most: when rendering falls behind (a turning array on a loaded machine)
            # the audio catches up over several passes while events and the world's state keep their times;
            # one long catch-up could apply a switch's "on" and its "off" in the same pass, unseen.
            budget = MAX_BLOCKS_PER_PASS
            while budget and (next_block + 1) * block_s <= t and not self.faults.audio_held(next_block * block_s, t):
                budget -= 1
                t_block = next_block * block_s
                samples = self.audio.render(t_block, AUDIO_BLOCK, heading)
                if not self.mics_present:            # unplugged: the sound happens, nobody records it
                    next_block += 1
                    continue
                self.pub.publish("sim.audio", SimAudioBlock(
                    t_ns=self.t0_ns + int(t_block * 1e9), rate=self.fs, channels=samples.shape[1],
                    samples=np.ascontiguousarray(samples, dtype=np.float32).tobytes()))
                next_block += 1
                if (next_block + 2) * block_s <= t:
                    late_blocks += 1
            if t >= next_world:
                next_world = t + WORLD_PERIOD_S
                self.pub.publish("sim.world", self.truth(t, heading))
                self.heading_trace.append((round(t, 3), round(heading, 3)))
            self.pub.tick()
            if self.wake_pub:
                self.wake_pub.tick()
            time.sleep(0.004)
        if late_blocks:
            log_event(self.log, "audio fell behind real time", logging.WARNING, late_blocks=late_blocks)

    def write_truth(self) -> None:
        people = [{"id": p.id, "path": [{"t": w.t, "azimuth_deg": w.azimuth_deg, "distance_m": w.distance_m}
                                        for w in p.path]} for p in self.sc.person]
        out = {"scenario": self.sc.name, "t0_ns": getattr(self, "t0_ns", 0), "speech": self.truth_speech,
               "events": self.events_done, "people": people, "heading_trace": self.heading_trace,
               "turntable": self.turntable.summary() if hasattr(self.turntable, "summary") else {}}
        (self.runtime_dir / "world-truth.json").write_text(json.dumps(out))

    def close(self) -> None:
        self.faults.stop()
        if self.voice is not None:
            self.voice.close()
        self.control.close()
        self.turntable.stop()
        self.pub.close()
        if self.wake_pub:
            self.wake_pub.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="swivel-world", description=__doc__.splitlines()[0])
    ap.add_argument("--scenario")
    ap.add_argument("--runtime-dir", required=True)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--fast-plant", action="store_true")
    ap.add_argument("--device-voice", action="store_true", help="render the satellite's voice into the room")
    ap.add_argument("--wait-for", help="comma-separated services whose heartbeats start the clock (default: motor, ssl, vision, policy and, unless the scenario stands in for it, wake)")
    args = ap.parse_args(argv)
    log = setup_logging("world")
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__(0, True))
    try:
        sc = load_scenario(args.scenario)
        world = World(sc, Path(args.runtime_dir), fast_plant=args.fast_plant, device_voice=args.device_voice)
        if args.wait_for is not None:
            world.wait_for = [s for s in args.wait_for.split(",") if s]
    except UserError as exc:
        print(f"swivel: {exc}", file=sys.stderr)
        return 2
    # Tell the launcher we are about to start the clock (it waits for the MCU pty to appear).
    failed = False
    try:
        try:
            world.run(args.duration or sc.duration_s, stop)
        except UserError as exc:           # e.g. the firmware or its simulator not built: one line, no truth
            print(f"swivel: {exc}", file=sys.stderr)
            failed = True
            return 2
        world.write_truth()
        # The scenario is over, but the turntable keeps existing until we are told to stop, so the
        # motor service can park it and shut down cleanly rather than lose its MCU mid-sentence.
        while not stop[0]:
            world.pub.publish("sim.world", world.truth(args.duration or sc.duration_s, world.turntable.angle_deg()))
            world.pub.tick()
            if world.wake_pub:
                world.wake_pub.tick()
            time.sleep(WORLD_PERIOD_S)
    finally:
        if not failed and not (Path(args.runtime_dir) / "world-truth.json").exists():
            world.write_truth()
        world.close()
        log_event(log, "world stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
