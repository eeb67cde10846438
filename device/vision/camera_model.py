"""Pinhole camera model: pixels to device-frame bearing and elevation, and back (for the renderer)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera looking along the screen normal.

    Device frame: bearing 0 at the image centre column, counter-clockwise positive, so a point left
    of centre has a positive bearing; elevation positive above the optical axis.
    """
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    dist: tuple[float, ...] = field(default=())

    @classmethod
    def from_hfov(cls, width: int, height: int, hfov_deg: float = 66.0) -> "CameraModel":
        if not 1.0 <= hfov_deg < 179.0:
            raise ValueError(f"horizontal field of view must be between 1 and 179 degrees, got {hfov_deg}")
        f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(width, height, f, f, width / 2.0, height / 2.0)

    @classmethod
    def from_config(cls, cfg) -> "CameraModel":
        """VisionConfig -> model: calibrated intrinsics when given, else square pixels and hfov."""
        k = cfg.intrinsics
        if k is None:
            return cls.from_hfov(cfg.width, cfg.height, cfg.hfov_deg)
        return cls(cfg.width, cfg.height, k.fx, k.fy, k.cx, k.cy, tuple(k.dist))

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan(self.width / 2.0 / self.fx))

    @property
    def px_per_deg(self) -> float:
        """How far the image moves, in pixels near its centre, when a bearing changes by one degree."""
        return self.fx * math.pi / 180.0

    def rescaled(self, width: int, height: int) -> "CameraModel":
        """The same optics at another resolution (frames that are not the configured size)."""
        sx, sy = width / self.width, height / self.height
        return CameraModel(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, self.dist)

    def _rays(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalized image coordinates (x right, y down, z = 1) of pixel positions, undistorted."""
        if self.dist:
            import cv2
            pts = np.stack([u, v], axis=-1).reshape(-1, 1, 2).astype(np.float64)
            k = np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)
            und = cv2.undistortPoints(pts, k, np.array(self.dist, np.float64)).reshape(-1, 2)
            return und[:, 0].reshape(np.shape(u)), und[:, 1].reshape(np.shape(v))
        return (u - self.cx) / self.fx, (v - self.cy) / self.fy

    def bearing_elevation(self, u, v) -> tuple:
        """Pixel position(s) -> (bearing_deg, elevation_deg) in the device frame."""
        u_arr = np.asarray(u, np.float64)
        v_arr = np.asarray(v, np.float64)
        x, y = self._rays(u_arr, v_arr)
        bearing = np.degrees(np.arctan2(-x, 1.0))
        elevation = np.degrees(np.arctan2(-y, np.hypot(x, 1.0)))
        if bearing.ndim == 0:
            return float(bearing), float(elevation)
        return bearing, elevation

    def project(self, bearing_deg: float, ground_distance_m: float, height_above_m: float) -> tuple[float, float, float]:
        """A point at a bearing, horizontal distance and height relative to the camera -> (u, v, depth_m).

        Ignores distortion (the renderer draws an ideal pinhole image). depth is along the optical axis.
        """
        b = math.radians(bearing_deg)
        depth = ground_distance_m * math.cos(b)
        x = -ground_distance_m * math.sin(b)
        u = self.cx + self.fx * x / depth
        v = self.cy - self.fy * height_above_m / depth
        return u, v, depth


def wrap_deg(a: float) -> float:
    """Wrap an angle to [-180, 180)."""
    return (a + 180.0) % 360.0 - 180.0

