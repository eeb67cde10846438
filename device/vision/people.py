"""From observations in pixels to people in the device frame: bearing, elevation, distance, engagement."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from . import geometry as g
from .camera_model import CameraModel
from .detector import Observation


@dataclass
class PersonEstimate:
    """One person in one frame, in the device frame. Numbers only: this is what may leave the process."""
    bearing_deg: float
    elevation_deg: float
    distance_m: float
    engagement: float
    confidence: float
    source: str
    landmarks: list[tuple[float, float]] = field(default_factory=list)
    verified: bool = True           # the mesh's face-presence check agreed (see Detector.plausible)
    head_px: tuple[float, float] = (float("nan"), float("nan"))   # where in the frame (for micro-motion)
    span_px: float = float("nan")   # the eye span it was measured by, in pixels
    shape_px: Optional[tuple[float, float, float]] = None   # the mesh's centroid and radius (micro-motion)
    found_by: frozenset = frozenset()   # the face detectors that found it in this frame ("face", "cascade")

    def as_dict(self) -> dict:
        return {"bearing_deg": round(self.bearing_deg, 2), "elevation_deg": round(self.elevation_deg, 2),
                "distance_m": None if math.isnan(self.distance_m) else round(self.distance_m, 3), "engagement": round(self.engagement, 3),
                "confidence": round(self.confidence, 3)}


def estimate(obs: Observation, model: CameraModel) -> PersonEstimate:
    bearing, elevation = model.bearing_elevation(obs.head_u, obs.head_v)
    depth = g.range_from_span(obs.span_px or 0.0, obs.span_m, model.fx)
    distance = g.ground_distance(depth, bearing) if depth is not None else float("nan")
    return PersonEstimate(bearing, elevation, distance, obs.engagement, obs.score, obs.source, obs.landmarks,
                          verified=obs.verified, head_px=(obs.head_u, obs.head_v),
                          span_px=obs.span_px if obs.span_px else float("nan"), shape_px=obs.shape_px,
                          found_by=obs.found_by)
