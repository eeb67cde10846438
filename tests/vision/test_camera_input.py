"""Camera inputs: a clear error when the camera is missing or stops, recovery when it returns."""
import time

import cv2
import numpy as np
import pytest

from device.bus import schemas as s
from device.hw.camera import CameraUnavailable, OpenCVCamera, SimCamera
from device.sim.camera_render import render_frame


def test_missing_camera_is_a_clear_error(tmp_path):
    with pytest.raises(CameraUnavailable, match="cannot be opened"):
        OpenCVCamera(str(tmp_path / "no-such-camera.avi"))


def test_camera_that_stops_delivering_recovers_when_it_returns(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(3):
        writer.write(cv2.resize(render_frame([], float(i), seed=i), (320, 240)))
    writer.release()
    cam = OpenCVCamera(path, 320, 240, retry_s=0.2)
    frames = [cam.read() for _ in range(3)]
    assert all(f.shape == (240, 320, 3) for _, f in frames)
    assert frames[0][0] < frames[1][0] < frames[2][0]            # monotonic capture times
    with pytest.raises(CameraUnavailable, match="stopped delivering"):
        cam.read()
    with pytest.raises(CameraUnavailable, match="retrying"):
        cam.read()
    time.sleep(0.25)
    t_ns, frame = cam.read()                                     # reopened: the camera is back
    assert frame.shape == (240, 320, 3) and frame.any()
    cam.close()


def test_released_camera_opens_again_on_the_next_read(tmp_path):
    """What the service does while the shutter is closed: release, then read again once it opens."""
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(2):
        writer.write(cv2.resize(render_frame([], float(i), seed=i), (160, 120)))
    writer.release()
    cam = OpenCVCamera(path, 160, 120, retry_s=60.0)
    cam.close()
    _, frame = cam.read()
    assert frame.shape == (120, 160, 3)
    cam.close()


def test_sim_camera_needs_a_world_and_shows_black_with_the_shutter_closed():
    world = None
    cam = SimCamera(lambda: world, 320, 240)
    with pytest.raises(CameraUnavailable, match="no world"):
        cam.read()
    world = s.SimWorld(t_ns=1, heading_deg=0.0, shutter_closed=True,
                       people=[s.SimPerson(id=1, azimuth_world_deg=0.0, distance_m=1.0)])
    _, frame = cam.read()
    assert frame.shape == (240, 320, 3) and not frame.any()


def test_sim_camera_image_shifts_as_the_device_turns():
    """The room is fixed to the world: turning 10 degrees left moves the picture right by ~fx*tan(10)."""
    a = render_frame([], 30.0, seed=0).astype(np.float32).mean(axis=(0, 2))
    b = render_frame([], 40.0, seed=0).astype(np.float32).mean(axis=(0, 2))
    shifts = list(range(0, 160))
    errors = [np.abs(a[: 640 - k] - b[k:]).mean() for k in shifts]
    best = shifts[int(np.argmin(errors))]
    assert 80 <= best <= 95                # 10 degrees is 87 px at the centre of a 66-degree view


def test_sim_camera_reports_an_unknown_photograph_as_unavailable():
    world = s.SimWorld(t_ns=1, heading_deg=0.0,
                       people=[s.SimPerson(id=1, azimuth_world_deg=0.0, distance_m=1.0, photo="mona_lisa")])
    with pytest.raises(CameraUnavailable, match="unknown photo 'mona_lisa'; known: astronaut"):
        SimCamera(lambda: world, 320, 240).read()
