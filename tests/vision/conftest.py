"""Shared fixtures of the vision tests: one mediapipe detector per session and rendered scenes."""
import os

os.environ.setdefault("GLOG_minloglevel", "2")

import pytest


@pytest.fixture(scope="session")
def detector():
    from device.vision.detector import Detector
    from device.vision.quiet import native_stderr_silenced
    with native_stderr_silenced():
        d = Detector()
    yield d
    d.close()


def _person(az, dist, photo="astronaut", facing=0.0, height=None):
    """A SimPerson-like dict; people nearer than 1 m are seated so their face is in view."""
    if height is None:
        height = 1.35 if dist < 1.0 else 1.65
    return dict(azimuth_world_deg=az, distance_m=dist, height_m=height, facing_deg=facing, photo=photo)


@pytest.fixture
def person():
    return _person
