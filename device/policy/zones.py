"""Dead, holding and motion zones of the camera's view, their distance-dependent widths, and the dwell timer."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from .angles import diff
from .config import ZonesConfig

DEAD, HOLDING, MOTION, OUTSIDE = "dead", "holding", "motion", "outside"


@dataclass(frozen=True)
class ZoneEdges:
    dead_deg: float        # |offset| <= dead_deg: dead zone
    motion_deg: float      # |offset| >= motion_deg: motion zone (up to half the view)
    half_view_deg: float   # |offset| > half_view_deg: outside the view


def _lateral_to_deg(lateral_m: float, distance_m: float) -> float:
    return math.degrees(math.atan2(lateral_m, max(distance_m, 0.1)))


def edges(cfg: ZonesConfig, distance_m: Optional[float]) -> ZoneEdges:
    """Zone edges for a person at this distance (None = unknown: the configured default)."""
    d = distance_m if distance_m and distance_m > 0 else cfg.default_distance_m
    half = cfg.hfov_deg / 2
    dead = min(max(_lateral_to_deg(cfg.dead_lateral_m, d), cfg.dead_min_deg), cfg.dead_max_deg)
    edge = min(max(_lateral_to_deg(cfg.edge_lateral_m, d), cfg.edge_min_deg), cfg.edge_max_deg)
    # Keep a holding zone of at least a few degrees between the two, whatever the distance.
    motion = max(half - edge, dead + 3.0)
    return ZoneEdges(dead_deg=dead, motion_deg=min(motion, half), half_view_deg=half)


def classify(offset_deg: float, e: ZoneEdges) -> str:
    a = abs(offset_deg)
    if a <= e.dead_deg:
        return DEAD
    if a > e.half_view_deg:
        return OUTSIDE
    if a >= e.motion_deg:
        return MOTION
    return HOLDING


class Dwell:
    """Has the aim stayed put (within settle_tol_deg) for dwell_s? Restarts whenever it moves further."""

    def __init__(self, cfg: ZonesConfig):
        self.cfg = cfg
        self.anchor: Optional[float] = None
        self.since_ns = 0

    def reset(self) -> None:
        self.anchor = None

    def update(self, aim_deg: float, now_ns: int) -> float:
        """Feed the current aim; returns how long (s) it has been settled."""
        if self.anchor is None or abs(diff(aim_deg, self.anchor)) > self.cfg.settle_tol_deg:
            self.anchor = aim_deg
            self.since_ns = now_ns
        return (now_ns - self.since_ns) / 1e9

    def settled(self, aim_deg: float, now_ns: int) -> bool:
        return self.update(aim_deg, now_ns) >= self.cfg.dwell_s
