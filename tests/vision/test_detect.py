"""Real mediapipe on real photographs: bearings of placed faces, empty rooms, backs of heads."""
import cv2
import numpy as np
import pytest
from skimage import data

from device.sim.camera_render import render_frame
from device.vision.camera_model import CameraModel
from device.vision.detector import zoom_regions
from device.vision.people import estimate


def people_in(detector, bgr, hfov=66.0):
    h, w = bgr.shape[:2]
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    model = CameraModel.from_hfov(w, h, hfov)
    return [estimate(o, model) for o in detector.observe(rgb, zoom_regions(w, h), with_pose=True)]


def test_astronaut_photo_is_left_of_centre(detector):
    found = people_in(detector, cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    assert len(found) == 1
    # Her eyes are at about x = 225 of 512: left of centre, so the bearing is positive.
    assert 2.0 < found[0].bearing_deg < 8.0
    assert found[0].engagement > 0.7


@pytest.mark.parametrize("az,dist,photo", [(20.0, 1.5, "astronaut"), (-15.0, 1.2, "hopper"),
                                           (0.0, 2.5, "hopper_mirror"), (-26.0, 1.8, "astronaut_mirror")])
def test_bearing_of_a_placed_face(detector, person, az, dist, photo):
    frame = render_frame([person(az, dist, photo)], heading_deg=0.0, seed=3)
    found = [p for p in people_in(detector, frame) if p.source == "face"]
    assert len(found) == 1, found
    assert found[0].bearing_deg == pytest.approx(az, abs=1.5)
    assert found[0].distance_m == pytest.approx(dist, rel=0.2)


def test_bearing_moves_against_the_heading(detector, person):
    """The device turns 12 degrees left: the same person appears 12 degrees further right."""
    before = people_in(detector, render_frame([person(10.0, 1.5)], heading_deg=0.0, seed=1))
    after = people_in(detector, render_frame([person(10.0, 1.5)], heading_deg=12.0, seed=2))
    assert len(before) == len(after) == 1
    assert after[0].bearing_deg - before[0].bearing_deg == pytest.approx(-12.0, abs=1.0)


@pytest.mark.parametrize("room", [0, 1, 2])
@pytest.mark.parametrize("heading", [0.0, 120.0, -100.0])
def test_empty_room_has_nobody(detector, room, heading):
    frame = render_frame([], heading_deg=heading, room=room, seed=5)
    assert people_in(detector, frame) == []


def test_back_of_head_shows_no_face(detector, person):
    frame = render_frame([person(5.0, 1.3, "astronaut", facing=180.0)], heading_deg=0.0, seed=4)
    assert [p for p in people_in(detector, frame) if p.source == "face"] == []


def test_turned_head_is_less_engaged_than_a_face_looking_at_the_camera(detector, person):
    """The cameraman's head is really turned (his eye is at the viewfinder); Hopper looks at the lens."""
    facing = people_in(detector, render_frame([person(0.0, 1.2, "hopper", height=1.5)], 0.0, seed=6))
    turned = people_in(detector, render_frame([person(0.0, 1.2, "cameraman", height=1.5)], 0.0, seed=6))
    assert len(facing) == 1 and facing[0].engagement > 0.8
    assert len(turned) == 1 and turned[0].engagement < 0.3


def test_a_followed_face_is_found_where_the_turn_moved_it(detector, person):
    """Between detector runs a followed face is looked for in its box shifted by the heading change: the
    device turned 10 degrees left, the person moved about 86 pixels right, and the mesh finds them there."""
    from device.vision.pipeline import FramePipeline
    pipeline = FramePipeline(detector, CameraModel.from_hfov(640, 480))
    first = pipeline.process(render_frame([person(10.0, 1.5)], heading_deg=0.0, seed=4))
    assert len(first) == 1 and first[0][0].bearing_deg == pytest.approx(10.0, abs=1.5)
    box = first[0][1]
    # Frame 2 of the pipeline follows without running the detector (every other frame, all found).
    second = pipeline.process(render_frame([person(10.0, 1.5)], heading_deg=10.0, seed=5),
                              followed=[(box, 0.9, 1)], heading_change_deg=10.0)
    assert pipeline.timings_ms["detect"] < 0.5, "the detector ran: this frame should only follow"
    assert len(second) == 1 and second[0][0].bearing_deg == pytest.approx(0.0, abs=1.5)
    shift = (second[0][1][0] + second[0][1][2]) / 2 - (box[0] + box[2]) / 2
    assert shift == pytest.approx(10.0 * pipeline.model.fx * np.pi / 180.0, abs=12.0)
