"""The speaker service as a real process on the real bus: it plays, and steers at whom vision.people shows."""
from __future__ import annotations

import subprocess
import sys
import time
import wave

import msgspec
import numpy as np
import pytest
import zmq
from scipy.io import wavfile

from device.bus import schemas as s
from device.bus.endpoints import pub_endpoint
from device.bus.pubsub import Publisher

RATE = 48000


def write_config(runtime_dir, **speaker) -> str:
    lines = ["[bus]", f'runtime_dir = "{runtime_dir}"', "heartbeat_s = 0.2", "[speaker]"]
    lines += [f"{k} = {v!r}".replace("'", '"').replace("True", "true").replace("False", "false")
              for k, v in speaker.items()]
    path = runtime_dir / "swivel.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def speaker_process(runtime_dir, subprocess_env):
    procs = []

    def start(**speaker):
        cfg = write_config(runtime_dir, **speaker)
        p = subprocess.Popen([sys.executable, "-m", "device", "--config", cfg, "service", "speaker"],
                             env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def states(sock, seconds):
    dec = msgspec.msgpack.Decoder(s.SpeakerState)
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        if sock.poll(20):
            topic, body = sock.recv_multipart()
            if topic == b"speaker.state":
                out.append(dec.decode(body))
    return out


def test_service_follows_the_engaged_person(runtime_dir, speaker_process):
    music = np.random.default_rng(0).standard_normal((RATE, 2)) * 0.1
    wavfile.write(runtime_dir / "music.wav", RATE, (music * 32767).astype(np.int16))
    ears = runtime_dir / "ears.wav"
    proc = speaker_process(source="file", source_path=str(runtime_dir / "music.wav"), source_loop=True,
                           drivers="cyl4", sim_ears_wav=str(ears), listener_timeout_s=60.0)
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"speaker.state")
    sock.connect(pub_endpoint(runtime_dir, "speaker"))
    vision, motor = Publisher("vision", runtime_dir), Publisher("motor", runtime_dir)

    def publish_until(done, heading, people_heading=None, bearing=None, timeout_s=30.0):
        """vision.people at 10 Hz (unless bearing is None) and motor.state at 20 Hz until the service's
        speaker.state satisfies `done` (generous timeout: the machine may be loaded); the last state."""
        last, end = None, time.monotonic() + timeout_s
        while time.monotonic() < end:
            now = time.monotonic_ns()
            motor.publish("motor.state", s.MotorState(t_ns=now, heading_deg=heading))
            if bearing is not None:
                person = s.Person(track_id=7, bearing_deg=bearing, elevation_deg=0.0, distance_m=2.0,
                                  engagement=0.9, confidence=0.9)
                vision.publish("vision.people", s.People(t_ns=now, heading_deg=people_heading, people=[person]))
            got = states(sock, 0.05)
            last = got[-1] if got else last
            if last is not None and done(last):
                return last
            assert proc.poll() is None, proc.stderr.read().decode()
        raise AssertionError(f"speaker.state never got there; last: {last}")

    try:
        # Nobody in view: the default spot.
        first = publish_until(lambda m: True, heading=10.0, timeout_s=60.0)     # start-up: imports, first design
        assert first.listener_source == "default" and first.listener_bearing_deg == 0.0
        last = publish_until(lambda m: m.listener_source == "vision", heading=10.0, people_heading=10.0, bearing=20.0)
        assert last.track_id == 7
        assert abs(last.listener_bearing_deg - 20.0) < 1.0 and abs(last.listener_distance_m - 2.0) < 0.06
        assert last.mode == "spatial" and last.drivers == 4 and last.layout == "cyl4"
        # The person walks to the other side while the screen turns after them.
        publish_until(lambda m: abs(m.listener_bearing_deg + 15.0) < 1.0, heading=25.0, people_heading=25.0,
                      bearing=-15.0)
        # The screen turns on with no new picture: the person stays where they were in the world
        # (-15 + 25 = 10 deg), so seen from the device they are now at 10 - 35 = -25 deg.
        turned = publish_until(lambda m: abs(m.listener_bearing_deg + 25.0) < 1.0 and m.played_frames > RATE * 2,
                               heading=35.0)
        assert turned.designs >= last.designs + 2
        assert turned.playing and turned.output == "sim" and turned.output_ok
        assert turned.played_frames > first.played_frames
    finally:
        vision.close()
        motor.close()
        sock.close(0)
    proc.terminate()
    assert proc.wait(10) == 0
    with wave.open(str(ears)) as w:                                 # what the simulated listener heard
        heard = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
        assert w.getframerate() == RATE and len(heard) > 2 * RATE
    assert np.sqrt(np.mean(heard.astype(float) ** 2)) > 30


def test_bad_speaker_config_is_one_line(runtime_dir, speaker_process):
    proc = speaker_process(drivers="nowhere")
    assert proc.wait(20) == 2
    err = proc.stderr.read().decode().strip().splitlines()
    assert len(err) == 1 and "no driver preset or layout file 'nowhere'" in err[0], err
