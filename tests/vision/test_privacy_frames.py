"""Frames are not retained: every pixel buffer is overwritten once landmarks are out; a closed shutter captures nothing."""
from __future__ import annotations

import weakref

import msgspec
import numpy as np
import pytest

from device.bus import schemas as s
from device.config import Config
from device.sim.camera_render import render_frame
from device.vision.camera_model import CameraModel
from device.vision.pipeline import FramePipeline

PEOPLE = [s.SimPerson(id=1, azimuth_world_deg=8.0, distance_m=1.2, height_m=1.5, photo="hopper")]


def pixel_arrays(root, seen=None, depth=0):
    """Every image-sized ndarray reachable from an object's attributes (a few levels deep)."""
    seen = seen if seen is not None else set()
    if id(root) in seen or depth > 4:
        return []
    seen.add(id(root))
    if isinstance(root, np.ndarray):
        return [root] if root.ndim >= 2 and root.size >= 32 * 32 else []
    found = []
    children = []
    if isinstance(root, dict):
        children = list(root.values())
    elif isinstance(root, (list, tuple)):
        children = list(root)
    elif hasattr(root, "__dict__") and type(root).__module__.startswith("device"):
        children = list(vars(root).values())
    for child in children:
        found += pixel_arrays(child, seen, depth + 1)
    return found


def test_pipeline_overwrites_the_frame_and_its_own_buffers(detector):
    pipeline = FramePipeline(detector, CameraModel.from_hfov(640, 480))
    frame = render_frame(PEOPLE, 0.0, seed=1)
    assert frame.any()
    ref = weakref.ref(frame)
    seen = pipeline.process(frame)
    assert len(seen) == 1 and abs(seen[0][0].bearing_deg - 8.0) < 1.5
    assert not frame.any(), "the camera frame was not overwritten"
    del frame
    assert ref() is None, "someone kept a reference to the frame"
    arrays = pixel_arrays(pipeline)
    assert arrays, "expected the pipeline's own buffers to be found"
    assert all(not a.any() for a in arrays)


class RecordingCamera:
    """Passes the real camera's frames through, remembering only weak references to them."""

    def __init__(self, camera):
        self.camera, self.refs, self.nonzero = camera, [], 0

    def read(self):
        t_ns, frame = self.camera.read()
        self.nonzero += int(frame.any())
        self.refs.append(weakref.ref(frame))
        return t_ns, frame

    def close(self):
        self.camera.close()


@pytest.fixture
def service(runtime_dir):
    from device.vision.service import VisionService
    cfg = msgspec.convert({"bus": {"runtime_dir": str(runtime_dir)}, "gpio": {"backend": "mock"},
                           "vision": {"camera_backend": "sim", "confirm_hits": 2}}, Config)
    svc = VisionService(cfg)
    svc.setup()
    yield svc
    svc.teardown()
    svc.pub.close()
    svc.sub.close()
    svc.ctx.term()


def run_frames(svc, world, n):
    svc._on_world(world)
    for _ in range(n):
        svc._next_frame = 0.0
        svc._tick()


def test_service_keeps_no_frame(service):
    service.camera = RecordingCamera(service.camera)
    run_frames(service, s.SimWorld(t_ns=1, heading_deg=0.0, people=PEOPLE), 4)
    assert service.camera.nonzero == 4
    assert [t for t in service.tracker.tracks if t.confirmed], "the frames were looked at"
    assert all(r() is None or not r().any() for r in service.camera.refs)
    assert all(not a.any() for a in pixel_arrays(service))


def test_closed_shutter_captures_nothing(service):
    camera = service.camera
    run_frames(service, s.SimWorld(t_ns=1, heading_deg=0.0, people=PEOPLE, shutter_closed=True), 3)
    assert service.shutter.closed
    assert camera._frames == 0, "a frame was captured with the shutter closed"
    assert service.tracker.tracks == []
    run_frames(service, s.SimWorld(t_ns=2, heading_deg=0.0, people=PEOPLE, shutter_closed=False), 3)
    assert not service.shutter.closed and camera._frames == 3
