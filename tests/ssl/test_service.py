"""The ssl service as a real process on the real bus: simulated mic audio in, `ssl.doa` out."""
import subprocess
import sys
import time

import pytest

from device.bus.pubsub import Publisher, Subscriber
from device.bus.schemas import MotorState, SimAudioBlock, WakeEvent
from device.sim.acoustics import AudioScene
from device.ssl.estimator import angular_distance
from device.ssl.geometry import load_array

BLOCK = 1024


@pytest.fixture
def ssl_process(runtime_dir, subprocess_env, tmp_path):
    cfg = tmp_path / "swivel.toml"
    cfg.write_text('[gpio]\nbackend = "mock"\n[ssl]\nbackend = "sim"\narray = "respeaker4"\n')
    proc = subprocess.Popen([sys.executable, "-m", "device", "--config", str(cfg), "service", "ssl"],
                            env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_a_wake_word_is_localized_in_the_device_frame(ssl_process, runtime_dir, tmp_path):
    g = load_array("respeaker4")
    scene = AudioScene((4.5, 4.0), 0.35, g, device_xy_m=(2.0, 2.0), noise=[{"kind": "white", "level_db": -40}],
                       seed=3, cache_dir=tmp_path / "rirs")
    heading, world_az = 20.0, 80.0
    t_start, t_end = scene.add_utterance(0.5, "Swivel, what is the weather like today?", "en-gb",
                                         azimuth_world_deg=world_az, distance_m=1.5, height_m=1.5)
    world, motor, wake = (Publisher(n, runtime_dir) for n in ("world", "motor", "wake"))
    sub = Subscriber(runtime_dir).subscribe("ssl", "ssl.doa", "ssl.beam")
    try:
        deadline = time.monotonic() + 30
        while not sub.alive("ssl", 2.0):
            assert ssl_process.poll() is None, ssl_process.stdout.read()
            assert time.monotonic() < deadline, "ssl service never sent a heartbeat"
            list(sub.poll(100))
        # ssl connects to the new "world" socket on its own time (longer on a loaded machine): feed it the
        # room's quiet (the noise before anyone speaks, so its VAD learns the floor) until it beams a block
        # back, so the utterance's onset is not lost to that connection
        quiet = scene.render(0.0, BLOCK, heading).tobytes()
        while not any(topic == "ssl.beam" for topic, _ in sub.poll(20)):
            assert time.monotonic() < deadline, "ssl service never took an audio block"
            world.publish("sim.audio", SimAudioBlock(t_ns=time.monotonic_ns(), rate=g.sample_rate,
                                                     channels=g.n_mics, samples=quiet))
        t0 = time.monotonic_ns()
        n_blocks = int((t_end + 0.8) * g.sample_rate / BLOCK)
        for i in range(n_blocks):
            t_ns = t0 + int(i * BLOCK / g.sample_rate * 1e9)
            motor.publish("motor.state", MotorState(t_ns=t_ns, heading_deg=heading))
            samples = scene.render(i * BLOCK / g.sample_rate, BLOCK, heading)
            world.publish("sim.audio", SimAudioBlock(t_ns=t_ns, rate=g.sample_rate, channels=g.n_mics,
                                                     samples=samples.tobytes()))
            time.sleep(0.002)
        wake.publish("wake.event", WakeEvent(t_ns=time.monotonic_ns(), start_ns=t0 + int(t_start * 1e9),
                                             end_ns=t0 + int(t_end * 1e9), engine="test"))
        got = {}
        deadline = time.monotonic() + 20
        while "wake" not in got and time.monotonic() < deadline:
            for topic, msg in sub.poll(100):
                if topic == "ssl.doa":
                    got.setdefault(msg.trigger, msg)
        assert "wake" in got, "no ssl.doa for the wake event"
        doa = got["wake"]
        assert angular_distance(doa.azimuth_deg, world_az - heading) < 10.0
        assert doa.heading_deg == pytest.approx(heading)
        assert not doa.ambiguous and 0.0 < doa.confidence <= 1.0
        assert doa.start_ns <= t0 + int(t_start * 1e9) + 100_000_000 and doa.end_ns >= t0 + int(t_end * 1e9) - 100_000_000
        assert len(doa.energy_map) == 72 and max(doa.energy_map) == 1.0
        assert "vad" in got and angular_distance(got["vad"].azimuth_deg, world_az - heading) < 15.0
    finally:
        for p in (world, motor, wake):
            p.close()
        sub.close()


def test_a_wrong_array_is_one_clear_line(runtime_dir, subprocess_env, tmp_path):
    cfg = tmp_path / "swivel.toml"
    cfg.write_text('[ssl]\narray = "nosuch"\n')
    out = subprocess.run([sys.executable, "-m", "device", "--config", str(cfg), "service", "ssl"],
                         env=subprocess_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "no array preset or geometry file 'nosuch'" in out.stderr
    assert "Traceback" not in out.stderr


class InProcess:
    """The ssl service in this process, so its mock light-bar pins can be read; real sockets around it."""

    def __init__(self, runtime_dir, tmp_path):
        from device.config import parse_config
        from device.ssl.service import SslService
        cfg = parse_config(f'[bus]\nruntime_dir = "{runtime_dir}"\nheartbeat_s = 0.2\n[gpio]\nbackend = "mock"\n'
                           '[ssl]\nbackend = "sim"\narray = "respeaker4"\n', "<test>")
        self.svc = SslService(cfg, runtime_dir)
        self.svc.setup()
        self.g = load_array("respeaker4")
        self.pubs = {n: Publisher(n, runtime_dir) for n in ("world", "motor", "wake", "policy")}
        self.sub = Subscriber(runtime_dir).subscribe("ssl", "ssl.doa")
        self.scene = AudioScene((4.5, 4.0), 0.3, self.g, device_xy_m=(2.0, 2.0),
                                noise=[{"kind": "white", "level_db": -45}], seed=5, cache_dir=tmp_path / "rirs")
        self.t_scene = 0.0

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.svc.loop.run_once()

    def speak(self, world_az, heading=0.0, rom=None):
        """Play one wake word from world_az; return the wake-triggered ssl.doa."""
        from device.bus.schemas import PolicyState
        t_start, t_end = self.scene.add_utterance(self.t_scene + 0.3, "swivel, show me the recipe", "en-us",
                                                  azimuth_world_deg=world_az, distance_m=1.4, height_m=1.5)
        t0 = time.monotonic_ns() - int(self.t_scene * 1e9)
        first = int(self.t_scene * self.g.sample_rate / BLOCK)
        last = int((t_end + 0.5) * self.g.sample_rate / BLOCK)
        for i in range(first, last):
            if rom is not None:
                self.pubs["policy"].publish("policy.state", PolicyState(t_ns=time.monotonic_ns(), mode="idle",
                                                                       rom_min_deg=rom[0], rom_max_deg=rom[1]))
            t_ns = t0 + int(i * BLOCK / self.g.sample_rate * 1e9)
            self.pubs["motor"].publish("motor.state", MotorState(t_ns=t_ns, heading_deg=heading))
            samples = self.scene.render(i * BLOCK / self.g.sample_rate, BLOCK, heading)
            self.pubs["world"].publish("sim.audio", SimAudioBlock(t_ns=t_ns, rate=self.g.sample_rate,
                                                                  channels=self.g.n_mics, samples=samples.tobytes()))
            self.spin(0.003)
        self.t_scene = last * BLOCK / self.g.sample_rate
        self.pubs["wake"].publish("wake.event", WakeEvent(t_ns=time.monotonic_ns(), start_ns=t0 + int(t_start * 1e9),
                                                          end_ns=t0 + int(t_end * 1e9), engine="test"))
        end = time.monotonic() + 10
        while time.monotonic() < end:
            self.svc.loop.run_once()
            for topic, msg in self.sub.poll(0):
                if topic == "ssl.doa" and msg.trigger == "wake":
                    return msg
        raise AssertionError("no wake-triggered ssl.doa")

    def close(self):
        self.svc.teardown()
        for p in self.pubs.values():
            p.close()
        self.sub.close()
        self.svc.pub.close()
        self.svc.sub.close()
        self.svc.ctx.term()


def test_the_light_bar_shows_the_talker_and_the_range_of_motion_comes_from_the_policy(runtime_dir, tmp_path):
    from gpiozero import Device
    ssl = InProcess(runtime_dir, tmp_path)
    try:
        pins = ssl.svc.cfg.ssl.light_bar_pins
        ssl.spin(0.5)                                    # slow joiners: let every subscription settle
        doa = ssl.speak(95.0, heading=0.0)               # 95 deg is LED 2 of 8 (90 +- 22.5)
        assert angular_distance(doa.azimuth_deg, 95.0) < 10.0
        assert [Device.pin_factory.pin(p).state for p in pins] == [0, 0, 1, 0, 0, 0, 0, 0]
        # The user's range of motion reaches ssl through policy.state: a talker outside it is no target,
        # and the bar does not point there.
        ssl.spin(ssl.svc.cfg.ssl.light_bar_hold_s + 0.3)
        assert [Device.pin_factory.pin(p).state for p in pins] == [0] * 8
        doa = ssl.speak(150.0, heading=0.0, rom=(-90.0, 90.0))
        assert doa.azimuth_deg is None and doa.candidates
        assert [Device.pin_factory.pin(p).state for p in pins] == [0] * 8
    finally:
        ssl.close()
