"""Camera input: one interface, a real OpenCV backend and a simulated one that renders the world."""
from __future__ import annotations

import time
from typing import Callable, Optional, Union

import numpy as np


class CameraUnavailable(RuntimeError):
    """The camera is missing or stopped delivering frames; reading again later may recover."""


class CameraInput:
    """`read()` returns (monotonic capture time in ns, BGR frame) or raises CameraUnavailable.

    The frame belongs to the caller, who overwrites it once landmarks are extracted.
    """
    width: int
    height: int

    def read(self) -> tuple[int, np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class OpenCVCamera(CameraInput):
    """A V4L2/UVC camera (device index) or a video file or device path, through cv2.VideoCapture.

    When the camera disappears or stops delivering, read() raises CameraUnavailable and releases it;
    later reads try to open it again, at most once every `retry_s`, so a camera that comes back
    (replugged, driver reloaded) recovers without restarting the service.
    """

    def __init__(self, device: Union[int, str] = 0, width: int = 640, height: int = 480, retry_s: float = 1.0):
        # "0" from a config file means camera 0, not a file named 0.
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)
        self.device, self.width, self.height, self.retry_s = device, width, height, retry_s
        self._cap = None
        self._next_try = 0.0
        self._open()

    def _describe(self) -> str:
        return f"camera {self.device!r}"

    def _open(self) -> None:
        import cv2
        self._next_try = time.monotonic() + self.retry_s
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable(f"{self._describe()} cannot be opened (missing, busy or not a camera)")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        # One driver buffer: the freshest frame (less latency), and fewer old frames held anywhere.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap

    def read(self) -> tuple[int, np.ndarray]:
        if self._cap is None:
            if time.monotonic() < self._next_try:
                raise CameraUnavailable(f"{self._describe()} is unavailable; retrying")
            self._open()
        ok, frame = self._cap.read()
        t_ns = time.monotonic_ns()
        if not ok or frame is None:
            self.close()
            self._next_try = time.monotonic() + self.retry_s
            raise CameraUnavailable(f"{self._describe()} stopped delivering frames")
        return t_ns, frame

    def close(self) -> None:
        """Release the camera; the next read opens it again (at once, unless a failure set a wait)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._next_try = 0.0


class SimCamera(CameraInput):
    """Renders the simulated world's ground truth (`sim.world`) inside this process.

    `world` returns the latest SimWorld (or None before the first one arrives). A closed shutter
    gives a black frame, as a real one would; turning while exposing smears the frame sideways.
    """

    EXPOSURE_S = 0.010

    def __init__(self, world: Callable[[], Optional[object]], width: int = 640, height: int = 480,
                 hfov_deg: float = 66.0, model=None):
        from ..vision.camera_model import CameraModel
        self.world, self.width, self.height = world, width, height
        self.model = model or CameraModel.from_hfov(width, height, hfov_deg)
        self._last_heading: Optional[tuple[int, float]] = None
        self._frames = 0

    def read(self) -> tuple[int, np.ndarray]:
        from ..sim.camera_render import PhotoError, render_frame
        from ..vision.camera_model import wrap_deg
        world = self.world()
        if world is None:
            raise CameraUnavailable("simulated camera has no world yet (nothing on sim.world)")
        if not getattr(world, "camera_present", True):
            raise CameraUnavailable("simulated camera unplugged")
        t_ns = time.monotonic_ns()
        self._frames += 1
        if world.shutter_closed:
            return t_ns, np.zeros((self.height, self.width, 3), np.uint8)
        blur_px = 0.0
        if self._last_heading is not None and world.t_ns > self._last_heading[0]:
            dps = wrap_deg(world.heading_deg - self._last_heading[1]) / ((world.t_ns - self._last_heading[0]) / 1e9)
            blur_px = abs(dps) * self.EXPOSURE_S * self.model.px_per_deg
        self._last_heading = (world.t_ns, world.heading_deg)
        try:
            frame = render_frame(world.people, world.heading_deg, width=self.width, height=self.height,
                                 lighting=world.lighting, seed=self._frames, motion_blur_px=blur_px,
                                 model=self.model, posters=getattr(world, "posters", ()),
                                 t_s=getattr(world, "scenario_time_s", None))
        except PhotoError as exc:              # a scenario naming a photograph that does not exist
            raise CameraUnavailable(f"simulated camera cannot draw the world: {exc}") from None
        return t_ns, frame
