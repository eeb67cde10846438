"""The vision service as a real process on a real bus: people found, ids kept, and no topic can carry an image."""
from __future__ import annotations

import subprocess
import sys
import time
import typing

import msgspec
import pytest
import zmq

from device.bus import schemas as s
from device.bus.endpoints import pub_endpoint
from device.bus.pubsub import Publisher
from device.bus.topics import TOPICS

FRAME_BYTES = 640 * 480 * 3          # the smallest frame this service captures


def write_config(runtime_dir, **vision) -> str:
    vision = {"camera_backend": "sim", **vision}
    lines = ["[bus]", f'runtime_dir = "{runtime_dir}"', "heartbeat_s = 0.2", "[gpio]", 'backend = "mock"',
             "[vision]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in vision.items()]
    path = runtime_dir / "swivel.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def vision_process(runtime_dir, subprocess_env):
    procs = []

    def start(**vision):
        cfg = write_config(runtime_dir, **vision)
        p = subprocess.Popen([sys.executable, "-m", "device", "--config", cfg, "service", "vision"],
                             env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def listen_everything(runtime_dir, publishers):
    """A raw SUB socket on every publisher's endpoint, subscribed to every topic (empty prefix)."""
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    for name in publishers:
        sock.connect(pub_endpoint(runtime_dir, name))
    return sock


def run_world(runtime_dir, sock, seconds, people, shutter_closed=False, heading=0.0, until=None, after_s=2.0):
    """Publish the world and the motor for `seconds`, collecting every raw message of every topic; with
    `until(seen)`, stop `after_s` after it first holds (a loaded machine starts the service slower)."""
    world = Publisher("world", runtime_dir)
    motor = Publisher("motor", runtime_dir)
    seen = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until is not None and deadline - time.monotonic() > after_s and until(seen):
                deadline = time.monotonic() + after_s
            now = time.monotonic_ns()
            world.publish("sim.world", s.SimWorld(t_ns=now, heading_deg=heading, people=people,
                                                  shutter_closed=shutter_closed))
            motor.publish("motor.state", s.MotorState(t_ns=now, heading_deg=heading))
            end = time.monotonic() + 0.03
            while time.monotonic() < end:
                if sock.poll(5):
                    seen.append(sock.recv_multipart())
    finally:
        world.close()
        motor.close()
    return seen


def people_messages(raw):
    dec = msgspec.msgpack.Decoder(s.People)
    return [dec.decode(frames[1]) for frames in raw if frames[0] == b"vision.people"]


def test_service_finds_a_person_and_keeps_the_id(runtime_dir, vision_process):
    vision_process(active_fps=10.0, idle_fps=10.0)
    sock = listen_everything(runtime_dir, ["vision"])
    person = s.SimPerson(id=1, azimuth_world_deg=12.0, distance_m=1.5, height_m=1.6, photo="hopper")
    msgs = people_messages(run_world(runtime_dir, sock, 9.0, [person]))
    with_people = [m for m in msgs if m.people]
    assert with_people, f"no person published in {len(msgs)} messages"
    ids = {p.track_id for m in with_people for p in m.people}
    assert len(ids) == 1
    bearings = [m.people[0].bearing_deg for m in with_people]
    assert max(abs(b - 12.0) for b in bearings) < 2.0
    assert all(0.5 < m.people[0].engagement <= 1.0 for m in with_people)
    # Until the world's first message arrives the simulated camera has nothing to show (blind); after
    # that it never is.
    first_seeing = next(i for i, m in enumerate(msgs) if not m.blind)
    assert all(not m.blind and m.fps > 0 for m in msgs[first_seeing:])
    assert all(m.blind_reason == "camera unavailable" for m in msgs[:first_seeing])


def test_shutter_closed_is_published_as_blind(runtime_dir, vision_process):
    vision_process(active_fps=10.0)
    sock = listen_everything(runtime_dir, ["vision"])
    person = s.SimPerson(id=1, azimuth_world_deg=0.0, distance_m=1.2, photo="astronaut")
    msgs = people_messages(run_world(runtime_dir, sock, 6.0, [person], shutter_closed=True))
    # Before the world's first message reaches the pin the service is blind for want of a world;
    # from then on it is blind because of the shutter, and never sees anyone.
    first = next(i for i, m in enumerate(msgs) if m.blind_reason == "shutter closed")
    assert len(msgs) - first >= 3
    assert all(m.blind and not m.people for m in msgs)
    assert all(m.blind_reason == "shutter closed" for m in msgs[first:])


# ---- privacy: no message on any topic can hold an image ------------------------------------------------

def capacity_bytes(tp, depth=0) -> float:
    """Upper bound of the bytes a value of this type can carry; raises if it is unbounded or binary."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        limit = next((m.max_length for m in meta if isinstance(m, msgspec.Meta) and m.max_length), None)
        if typing.get_origin(base) is list:
            if limit is None:
                raise AssertionError(f"unbounded list {tp}")
            return limit * capacity_bytes(typing.get_args(base)[0], depth + 1)
        if base is str:
            if limit is None:
                raise AssertionError(f"unbounded string {tp}")
            return limit * 4
        if base is bytes and limit is not None:       # a short audio block (ssl.beam), far below a frame
            return limit
        return capacity_bytes(base, depth + 1)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return max(capacity_bytes(a, depth + 1) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return max(len(str(a)) for a in typing.get_args(tp))
    if tp in (bytes, bytearray, memoryview):
        raise AssertionError("a bytes field can carry pixels")
    if tp is str:
        raise AssertionError("unbounded string")
    if origin in (list, dict, set, tuple) or tp in (list, dict, set, tuple):
        raise AssertionError(f"unbounded container {tp}")
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = typing.get_type_hints(tp, include_extras=True)
        return sum(capacity_bytes(hints[f], depth + 1) for f in tp.__struct_fields__)
    if tp in (int, float, bool, type(None)):
        return 9
    raise AssertionError(f"unexpected field type {tp}")


def test_no_vision_topic_can_carry_an_image():
    """Vision's topic is bounded far below one frame, and the registry gives vision no other topic."""
    vision_topics = [t for t in TOPICS.values() if t.publisher == "vision"]
    assert [t.name for t in vision_topics] == ["vision.people"]
    cap = capacity_bytes(s.People)
    assert cap < FRAME_BYTES / 20, cap
    # Nor may any device service's topic: only the simulator's audio wires (sim.*: the room's microphones and
    # the device's own voice played into the simulated room) have an unbounded bytes field.
    for t in TOPICS.values():
        if not t.name.startswith("sim."):
            assert capacity_bytes(t.schema) < FRAME_BYTES / 20, t.name


def test_every_message_seen_during_a_run_is_small_and_typed(runtime_dir, vision_process):
    """Every topic of every publisher in the run (vision, and the world and motor this test plays)."""
    vision_process(active_fps=15.0)
    sock = listen_everything(runtime_dir, ["vision", "world", "motor"])
    people = [s.SimPerson(id=1, azimuth_world_deg=-10.0, distance_m=1.0, height_m=1.4, photo="astronaut"),
              s.SimPerson(id=2, azimuth_world_deg=18.0, distance_m=2.0, photo="hopper")]
    raw = run_world(runtime_dir, sock, 6.0, people)
    topics = {frames[0].decode() for frames in raw}
    # The world and motor topics are this test's; the vision service added only people and heartbeats.
    assert topics == {"hb", "vision.people", "sim.world", "motor.state"}
    hb_services = {msgspec.msgpack.decode(f[1], type=s.Heartbeat).service for f in raw if f[0] == b"hb"}
    assert "vision" in hb_services
    for frames in raw:
        assert len(frames) == 2
        name = frames[0].decode()
        msgspec.msgpack.decode(frames[1], type=TOPICS[name].schema)      # strictly typed
        assert len(frames[1]) < 16_384, (name, len(frames[1]))
    assert max(len(f[1]) for f in raw) < FRAME_BYTES / 50


def test_frame_rate_rises_when_someone_appears(runtime_dir, vision_process):
    vision_process(idle_fps=2.0, active_fps=10.0)
    sock = listen_everything(runtime_dir, ["vision"])
    deadline = time.monotonic() + 20.0                # the service loads its models first
    while time.monotonic() < deadline and not any(not m.blind for m in people_messages(
            run_world(runtime_dir, sock, 1.0, []))):
        pass
    empty = [m for m in people_messages(run_world(runtime_dir, sock, 3.0, [])) if not m.blind]
    person = s.SimPerson(id=1, azimuth_world_deg=-8.0, distance_m=1.4, height_m=1.6, photo="hopper")
    busy = people_messages(run_world(runtime_dir, sock, 6.0, [person]))
    assert empty and all(m.fps == 2.0 and not m.people for m in empty)
    seen_at = next(i for i, m in enumerate(busy) if m.people)
    assert all(m.fps == 10.0 for m in busy[seen_at + 1:])
    # Twice-a-second republication aside, frames now arrive several times faster.
    span_s = (busy[-1].t_ns - busy[seen_at].t_ns) / 1e9
    distinct = len({m.t_ns for m in busy[seen_at:]})
    assert distinct / max(span_s, 1e-3) > 5.0


def test_opencv_camera_that_stops_is_blind_then_recovers(runtime_dir, vision_process):
    """camera_backend "opencv" on a video file: people seen, then the clip ends (the camera "stops
    delivering"), the service says so, reopens it after camera_retry_s and sees again."""
    import cv2
    from device.sim.camera_render import render_frame
    clip = runtime_dir / "camera.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    person = dict(azimuth_world_deg=15.0, distance_m=1.3, height_m=1.6, photo="astronaut")
    for i in range(25):
        writer.write(render_frame([person], 0.0, seed=i))
    writer.release()
    proc = vision_process(camera_backend="opencv", device=str(clip), active_fps=10.0, idle_fps=10.0,
                   camera_retry_s=1.0)
    sock = listen_everything(runtime_dir, ["vision"])

    def reasons_of(msgs):
        return [("seen" if m.people else "nobody") if not m.blind else m.blind_reason for m in msgs]

    def seen_blind_seen(raw):
        r = reasons_of(people_messages(raw))
        try:
            return "seen" in r[r.index("camera unavailable", r.index("seen")):]
        except ValueError:                                 # not seen yet, or not blind since
            return False
    msgs = people_messages(run_world(runtime_dir, sock, 20.0, [], until=seen_blind_seen, after_s=0.5))
    reasons = reasons_of(msgs)
    assert "seen" in reasons, (reasons, proc.poll())
    first_seen = reasons.index("seen")
    blind_after = reasons.index("camera unavailable", first_seen)
    assert "seen" in reasons[blind_after:], reasons          # recovered: the clip was opened again
    seen = [m.people[0] for m in msgs if m.people]
    assert all(abs(p.bearing_deg - 15.0) < 2.0 for p in seen)


IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"\x93NUMPY", b"II*\x00", b"MM\x00*", b"GIF8", b"RIFF", b"P6")


def test_nothing_with_pixels_is_logged_or_written_to_disk(runtime_dir, subprocess_env, tmp_path):
    """A run at debug log level, someone in view: the logs are short JSON lines of words and numbers, and
    the only files the service leaves in its runtime directory, home, temp and working directory are sockets."""
    home, tmp, cwd = (tmp_path / d for d in ("home", "tmp", "cwd"))
    for d in (home, tmp, cwd):
        d.mkdir()
    env = dict(subprocess_env, HOME=str(home), TMPDIR=str(tmp), XDG_CACHE_HOME=str(home / ".cache"))
    cfg = write_config(runtime_dir, active_fps=15.0, log_level="debug")
    before = {p for p in runtime_dir.rglob("*")}
    proc = subprocess.Popen([sys.executable, "-m", "device", "--config", cfg, "service", "vision"], env=env,
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        sock = listen_everything(runtime_dir, ["vision"])
        person = s.SimPerson(id=1, azimuth_world_deg=5.0, distance_m=1.3, photo="astronaut")
        msgs = people_messages(run_world(runtime_dir, sock, 40.0, [person],
                                         until=lambda seen: any(m.people for m in people_messages(seen))))
        assert any(m.people for m in msgs), "the run must have seen someone for this to prove anything"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    lines = out.decode(errors="replace").splitlines()
    assert lines and all(len(line) < 2000 for line in lines), max(map(len, lines))
    assert len(out) < 200_000
    for line in lines:
        assert not any(magic in line.encode() for magic in IMAGE_MAGIC[:2]), line[:200]
    written = [p for d in (home, tmp, cwd) for p in d.rglob("*") if p.is_file()]
    written += [p for p in runtime_dir.rglob("*") if p not in before and p.is_file() and not p.is_socket()]
    # (matplotlib, which the simulated camera uses to load a photograph, caches its font list as JSON:
    # text, no pixels. Anything else, and anything binary, fails.)
    for p in written:
        data = p.read_bytes()
        assert not data.startswith(IMAGE_MAGIC) and p.suffix.lower() not in (".png", ".jpg", ".jpeg", ".npy", ".bmp")
        data.decode("utf-8")                             # text; raw pixels would not decode
        assert p.name.startswith("fontlist-"), p
    for p in runtime_dir.rglob("*"):
        assert p.is_dir() or p.is_socket() or p.stat().st_size < 4096, p
