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
    sub = Subscriber(runtime_dir).subscribe("ssl", "ssl.doa")
    try:
        deadline = time.monotonic() + 30
        while not sub.alive("ssl", 2.0):
            assert ssl_process.poll() is None, ssl_process.stdout.read()
            assert time.monotonic() < deadline, "ssl service never sent a heartbeat"
            list(sub.poll(100))
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
