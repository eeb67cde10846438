"""Bus behaviour across real processes: delivery, late joiners, malformed input, dead publishers."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
import zmq

from device.bus.pubsub import Publisher, Subscriber
from device.bus.schemas import MotorGoal, MotorState

HERE = Path(__file__).parent


def wait_for(sub: Subscriber, topic: str, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, msg in sub.poll(50):
            if name == topic:
                return msg
    return None


@pytest.fixture
def publisher_process(runtime_dir, subprocess_env):
    procs = []

    def start(name="motor", heading=42.5):
        p = subprocess.Popen([sys.executable, str(HERE / "publisher_process.py"), str(runtime_dir), name,
                              str(heading)], env=subprocess_env, stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_message_crosses_processes_typed(runtime_dir, publisher_process):
    publisher_process(heading=42.5)
    sub = Subscriber(runtime_dir).subscribe("motor", "motor.state")
    msg = wait_for(sub, "motor.state")
    assert isinstance(msg, MotorState)
    assert msg.heading_deg == 42.5
    assert sub.dropped == {}


def test_late_joiner_converges_through_republication(runtime_dir, publisher_process):
    publisher_process(heading=-12.0)
    time.sleep(0.5)                    # the one explicit publish is long gone when we connect
    sub = Subscriber(runtime_dir).subscribe("motor", "motor.state")
    msg = wait_for(sub, "motor.state", timeout_s=2.0)
    assert msg is not None and msg.heading_deg == -12.0
    assert sub.received["motor.state"] >= 1


def test_malformed_messages_are_counted_and_dropped(runtime_dir):
    ctx = zmq.Context.instance()
    raw = ctx.socket(zmq.PUB)
    raw.bind(f"ipc://{runtime_dir}/motor.pub")
    sub = Subscriber(runtime_dir).subscribe("motor", "motor.state")
    time.sleep(0.3)
    enc = msgspec.msgpack.Encoder()
    raw.send_multipart([b"motor.state", b"\xc1garbage"])                          # not msgpack
    raw.send_multipart([b"motor.state", enc.encode({"t_ns": 1, "heading_deg": "north"})])  # wrong type
    raw.send_multipart([b"motor.state", enc.encode({**msgspec.to_builtins(
        MotorState(t_ns=1, heading_deg=0.0)), "v": 99})])                          # future version
    raw.send_multipart([b"motor.state"])                                           # one frame only
    raw.send_multipart([b"motor.state", enc.encode(MotorState(t_ns=2, heading_deg=7.0))])
    good = wait_for(sub, "motor.state")
    assert good is not None and good.heading_deg == 7.0
    assert sub.dropped["undecodable:motor.state"] == 2
    assert sub.dropped["version:motor.state"] == 1
    assert sub.dropped["malformed_frames"] == 1
    raw.close(0)


def test_killed_publisher_is_noticed_by_its_missing_heartbeat(runtime_dir, publisher_process):
    proc = publisher_process(name="motor")
    sub = Subscriber(runtime_dir).subscribe("motor")
    deadline = time.monotonic() + 5
    while not sub.alive("motor", 0.5) and time.monotonic() < deadline:
        list(sub.poll(50))
    assert sub.alive("motor", 0.5)
    assert sub.heartbeat_pid["motor"] == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while sub.alive("motor", 0.5) and time.monotonic() < deadline:
        list(sub.poll(50))
    assert not sub.alive("motor", 0.5)


def test_wrong_schema_for_topic_is_refused_at_the_sender(runtime_dir):
    pub = Publisher("motor", runtime_dir)
    with pytest.raises(TypeError, match="motor.state carries MotorState"):
        pub.publish("motor.state", MotorGoal(t_ns=0, seq=1))
    pub.close()


def test_unknown_topic_name_fails_at_subscribe(runtime_dir):
    with pytest.raises(KeyError, match="unknown topic"):
        Subscriber(runtime_dir).subscribe("motor", "motor.stat")
