"""Configuration of the vision service (the [vision] table of swivel.toml), with calm built-in defaults."""
from __future__ import annotations

from typing import Literal, Optional, Union

import msgspec


class Intrinsics(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Calibrated pinhole intrinsics in pixels at the configured resolution (OpenCV's convention)."""
    fx: float
    fy: float
    cx: float
    cy: float
    dist: list[float] = []           # k1, k2, p1, p2[, k3]: OpenCV distortion coefficients


class VisionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: str = "info"
    camera_backend: Literal["sim", "opencv"] = "sim"   # "sim" renders sim.world; "opencv" is a real camera
    device: Union[int, str] = 0      # OpenCV device index or a path (/dev/video0, a video file)
    width: int = 640
    height: int = 480
    hfov_deg: float = 66.0           # used when no intrinsics are given
    intrinsics: Optional[Intrinsics] = None
    # Frame rates (frames per second).
    idle_fps: float = 2.0            # nobody around and the policy idle
    active_fps: float = 15.0         # tracking someone, or right after a wake event
    wake_boost_s: float = 8.0        # stay at active_fps this long after a wake event
    linger_s: float = 5.0            # stay at active_fps this long after the last person left
    # Detection and tracking.
    min_face_score: float = 0.6
    confirm_hits: int = 3            # detections before a track becomes a person...
    confirm_span_s: float = 0.4      # ...or two this far apart (the pose model runs only now and then)
    max_missed_s: float = 1.0        # a track survives misses this long, keeping its id
    gate_deg: float = 8.0            # association gate in world azimuth
    fast_turn_dps: float = 45.0      # detections while turning faster than this are discounted
    # Micro-motion (see tracker.py): a face whose head has not yet shifted by motion_spans eye spans
    # (or not for static_hold_s) is published as static (a poster, a photo on the wall) and the policy
    # does not turn to it.
    motion_spans: float = 0.10       # for faces placed by the detector's eye keypoints
    motion_spans_mesh: float = 0.07  # for faces the mesh fitted (its centroid is much steadier)
    static_hold_s: float = 20.0
    pose_every: int = 8              # run the pose model on every Nth frame (far or turned-away people)
    max_people: int = 6
    # Camera shutter switch (closes to ground with a pull-up: active low).
    shutter_pin: Optional[int] = 17
    shutter_active_low: bool = True
    camera_retry_s: float = 1.0      # how often a missing camera is tried again
