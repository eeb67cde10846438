"""The pinhole camera model: pixel columns to bearings, projection round trips, calibrated intrinsics."""
import math

import pytest

from device.vision.camera_model import CameraModel
from device.vision.config import Intrinsics, VisionConfig


def test_centre_is_zero_and_left_is_positive():
    m = CameraModel.from_hfov(640, 480, 66.0)
    assert m.bearing_elevation(320, 240) == pytest.approx((0.0, 0.0), abs=1e-9)
    left, _ = m.bearing_elevation(0, 240)
    right, _ = m.bearing_elevation(640, 240)
    assert left == pytest.approx(33.0, abs=1e-6) and right == pytest.approx(-33.0, abs=1e-6)
    _, up = m.bearing_elevation(320, 0)
    assert up > 0


def test_project_then_back_is_identity():
    m = CameraModel.from_hfov(640, 480, 66.0)
    for bearing in (-30.0, -5.0, 0.0, 12.5, 31.0):
        u, v, depth = m.project(bearing, 2.0, 0.4)
        b, e = m.bearing_elevation(u, v)
        assert b == pytest.approx(bearing, abs=1e-6)
        assert e == pytest.approx(math.degrees(math.atan2(0.4, 2.0)), abs=1e-6)
        assert depth == pytest.approx(2.0 * math.cos(math.radians(bearing)))


def test_calibrated_intrinsics_with_distortion_are_used():
    cfg = VisionConfig(intrinsics=Intrinsics(fx=500.0, fy=500.0, cx=330.0, cy=250.0, dist=[-0.2, 0.05, 0, 0]))
    m = CameraModel.from_config(cfg)
    assert m.bearing_elevation(330, 250) == pytest.approx((0.0, 0.0), abs=1e-6)
    ideal = math.degrees(math.atan2(300, 500))
    distorted, _ = m.bearing_elevation(30, 250)
    # Barrel distortion (k1 < 0) pulls edge pixels inwards, so undistorting puts them farther out.
    assert distorted > ideal


def test_bad_field_of_view_is_refused():
    with pytest.raises(ValueError, match="field of view"):
        CameraModel.from_hfov(640, 480, 0.0)
