"""Spatiotemporal filter: detections persist before they are people, tracks keep ids through misses."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Optional

from .camera_model import wrap_deg
from .people import PersonEstimate


@dataclass
class Track:
    track_id: int
    world_az_deg: float             # bearing + heading at capture: stays put while the device turns
    elevation_deg: float
    distance_m: float
    engagement: float
    confidence: float
    source: str
    landmarks: list = field(default_factory=list)
    box: Optional[tuple] = None     # last box in pixels and the heading it was seen at (ROI tracking)
    box_heading_deg: float = 0.0
    hits: int = 1
    first_ns: int = 0
    last_ns: int = 0
    confirmed: bool = False


class Tracker:
    """Greedy nearest-neighbour association in world azimuth, with confirmation and coasting.

    - A track becomes a person after `confirm_hits` matched frames, or after two sightings at least
      `confirm_span_s` apart (the pose model runs only every few frames): ephemeral false positives
      from blur or a passing glimpse never get that far.
    - While the device turns faster than `fast_turn_dps`, detections only refresh tracks that are
      already confirmed, at reduced confidence, and cannot start or confirm a track: motion blur and
      rolling shutter make those frames unreliable.
    - A track that is not seen keeps its id for `max_missed_s`, then it is dropped.
    """

    def __init__(self, confirm_hits: int = 3, max_missed_s: float = 1.0, gate_deg: float = 8.0,
                 fast_turn_dps: float = 45.0, smoothing: float = 0.5, confirm_span_s: float = 0.4):
        self.confirm_hits, self.max_missed_ns = confirm_hits, int(max_missed_s * 1e9)
        self.confirm_span_ns = int(confirm_span_s * 1e9)
        self.gate_deg, self.fast_turn_dps, self.smoothing = gate_deg, fast_turn_dps, smoothing
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)

    def clear(self) -> None:
        self.tracks.clear()

    def update(self, t_ns: int, seen: list[tuple[PersonEstimate, Optional[tuple]]], heading_deg: float,
               turn_dps: float = 0.0) -> list[Track]:
        """Fold one frame's people (with their pixel boxes) in; return the confirmed, current tracks."""
        fast = abs(turn_dps) > self.fast_turn_dps
        pairs = []
        for i, (est, _box) in enumerate(seen):
            az = wrap_deg(est.bearing_deg + heading_deg)
            for track in self.tracks:
                d = abs(wrap_deg(az - track.world_az_deg))
                de = abs(est.elevation_deg - track.elevation_deg)
                if d <= self.gate_deg and de <= 2 * self.gate_deg:
                    pairs.append((d + 0.5 * de, i, track))
        used_obs, used_tracks = set(), set()
        for _, i, track in sorted(pairs, key=lambda p: p[0]):
            if i in used_obs or track.track_id in used_tracks:
                continue
            if fast and not track.confirmed:
                continue
            used_obs.add(i)
            used_tracks.add(track.track_id)
            self._refresh(track, t_ns, *seen[i], heading_deg, fast)
        if not fast:
            for i, (est, box) in enumerate(seen):
                if i not in used_obs:
                    self.tracks.append(self._start(t_ns, est, box, heading_deg))
        self.tracks = [t for t in self.tracks if t_ns - t.last_ns <= self.max_missed_ns]
        return [t for t in self.tracks if t.confirmed]

    def _start(self, t_ns: int, est: PersonEstimate, box, heading_deg: float) -> Track:
        return Track(next(self._ids), wrap_deg(est.bearing_deg + heading_deg), est.elevation_deg,
                     est.distance_m, est.engagement, est.confidence, est.source, list(est.landmarks),
                     box, heading_deg, hits=1, first_ns=t_ns, last_ns=t_ns,
                     confirmed=self.confirm_hits <= 1)

    def _refresh(self, track: Track, t_ns: int, est: PersonEstimate, box, heading_deg: float, fast: bool) -> None:
        a = self.smoothing
        az = wrap_deg(est.bearing_deg + heading_deg)
        track.world_az_deg = wrap_deg(track.world_az_deg + (1 - a) * wrap_deg(az - track.world_az_deg))
        track.elevation_deg += (1 - a) * (est.elevation_deg - track.elevation_deg)
        if est.distance_m == est.distance_m:              # not NaN
            track.distance_m = est.distance_m if track.distance_m != track.distance_m else \
                track.distance_m + (1 - a) * (est.distance_m - track.distance_m)
        track.engagement += (1 - a) * (est.engagement - track.engagement)
        track.confidence = est.confidence * (0.5 if fast else 1.0)
        track.source, track.landmarks = est.source, list(est.landmarks)
        track.box, track.box_heading_deg = box, heading_deg
        track.last_ns = t_ns
        if not fast:
            track.hits += 1
            track.confirmed = (track.confirmed or track.hits >= self.confirm_hits
                               or (track.hits >= 2 and t_ns - track.first_ns >= self.confirm_span_ns))
