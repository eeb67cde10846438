"""Spatiotemporal filter: detections persist before they are people, tracks keep ids through misses."""
from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .camera_model import wrap_deg
from .people import PersonEstimate

STILL_DPS = 1.0                # frames captured while the device turns slower than this judge micro-motion
# Per kind of sighting: (sightings before micro-motion counts, sightings per block). A block's median
# cancels frame-to-frame jitter. The whole mesh's centroid ("mesh") is steady on a print from its third
# fit on (its block medians moved at most 0.023 eye spans on the tuning prints), so it is judged on short
# blocks; the detector's eye keypoints ("keypoints", far or strongly turned faces) jitter more and need
# longer ones.
MOTION_SETTLE = {"mesh": 3, "keypoints": 8}
MOTION_BLOCK = {"mesh": 4, "keypoints": 6}
# Both placements wobble by about a pixel from frame to frame whatever the face's size, and block medians
# do not cancel all of it: on a small face (a face in a poster, a photo across the room) that is a large
# part of an eye span. Between blocks of a living head the mesh's centroid moved 2.5 px or more (most
# by 5 px), the keypoints 5 px or more; on prints of the tuning set at most 1.6 and 2 px. So a shift must
# also exceed these many pixels.
JITTER_PX = {"mesh": 1.5, "keypoints": 2.5}
MESH_GLITCH = 0.06             # a mesh whose size jumps by this fraction is re-fitting, not a moving head
MOTION_BLOCKS = 8              # blocks compared with each other...
MOTION_MAX_SPAN_NS = 4_000_000_000   # ...within this time (two blocks even at the idle 2 fps)
RATE_GAIN = 0.35               # alpha-beta filter: how much of a bearing surprise goes into the track's speed
MAX_RATE_DPS = 120.0           # nobody walks round the device faster than this (world degrees per second)
MAX_PREDICT_S = 0.6            # coast a prediction at most this long (past it, the speed is a guess)
WALKED_DEG = 4.0               # a face this far (world frame) from where it stood still is a walker, not a print
WALKING_DPS = 6.0              # a track's box is carried along with its bearing only faster than this
AGREE_FRAMES = 2               # frames in which both face detectors found the face verify it
# A person's track that went unseen for a few frames (a walker the mesh lost as they set off) is looked
# for as far as someone can have walked since: a brisk walk round the device at 1.5-2 m is 40-55 deg/s.
REACQUIRE_DPS = 45.0
MAX_GATE_DEG = 30.0            # the widest that gate gets (then someone else is likelier than them)


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
    verified: bool = False          # a second model (or the pose model's own check) agreed, at least once
    agreements: int = 0             # frames in which both face detectors found it (independent evidence)
    # Micro-motion: (capture ns, head u, v, eye span in px) of sightings while the device stood still,
    # and the medians of the last few blocks of them.
    # Per kind of sighting ("mesh" or "keypoints": they place a head differently, so each is compared
    # only with its own kind).
    motion: dict = field(default_factory=dict)
    blocks: dict = field(default_factory=dict)
    motion_heading_deg: float = 0.0  # heading of those sightings (pixels move when the device turns)
    moved_ns: Optional[int] = None  # last time the head was seen to move (None: not yet)
    moves_seen: int = 0
    exceed_run: dict = field(default_factory=dict)   # per kind: blocks running that differed from an earlier one
    rate_dps: float = 0.0           # how fast world_az_deg moves (a walking person), from the alpha-beta filter
    still_anchor_deg: Optional[float] = None   # world bearing when first seen with the device standing still

    def predicted_az(self, t_ns: int) -> float:
        """Where the track should be at t_ns: its bearing carried on at its speed (a walker keeps walking)."""
        dt = min(max(t_ns - self.last_ns, 0) / 1e9, MAX_PREDICT_S)
        return wrap_deg(self.world_az_deg + self.rate_dps * dt)

    def predicted_box(self, t_ns: int, px_per_deg: float) -> Optional[tuple]:
        """The last box carried along with a walker's bearing to t_ns (left in the world is left in the
        image): the mesh's crop must be where the face is now. At 5 fps a walker crossing at 30 deg/s
        moves 50 px a frame, further than a face box is wide at 2 m, and a crop where they were loses them."""
        if self.box is None or abs(self.rate_dps) < WALKING_DPS:
            return self.box               # standing (its bearing's jitter is no walk)
        du = -wrap_deg(self.predicted_az(t_ns) - self.world_az_deg) * px_per_deg
        x0, y0, x1, y1 = self.box
        return (x0 + du, y0, x1 + du, y1)

    def static(self, t_ns: int, hold_ns: int) -> bool:
        """A face that has not shown a living head's micro-motion (sway, breathing, nodding) yet, or
        not for hold_ns: a poster or a photograph on a wall, until it moves. A living head shows it
        within a second or two of being seen. Pose tracks (a back, a body) are never static."""
        if self.source != "face":
            return False
        return self.moved_ns is None or t_ns - self.moved_ns > hold_ns


class Tracker:
    """Greedy nearest-neighbour association in world azimuth, with confirmation and coasting.

    - A track becomes a person after `confirm_hits` matched frames, or after two sightings at least
      `confirm_span_s` apart (the pose model runs only every few frames): ephemeral false positives
      from blur or a passing glimpse never get that far.
    - While the device turns faster than `fast_turn_dps`, detections only refresh tracks that are
      already confirmed, at reduced confidence, and cannot start or confirm a track: motion blur and
      rolling shutter make those frames unreliable.
    - A track is only confirmed once independent evidence agreed it is a face, at least once: the face
      mesh's presence check or the pose model's body (`PersonEstimate.verified`), or both face detectors
      on it in the same frame in `AGREE_FRAMES` frames (`PersonEstimate.found_by`). One detector's
      phantom on a coin or a head-shaped disc, however often it recurs, is not a person.
    - Micro-motion: while the device stands still, the head's position (the centroid of the face mesh,
      or the detector's eye keypoints) is summarized per block of a few sightings (medians, so
      frame-to-frame landmark jitter cancels) and the blocks of the last 4 s are compared. A shift of
      more than `motion_spans_mesh` (mesh) or `motion_spans` (keypoints) eye spans, and more than the
      placement's pixel jitter (`JITTER_PX`), in two blocks running is a living head. A face that has
      not moved yet (or not for `static_hold_s`) is `static`: a poster, not someone to turn to. A living head shows it within a second or two, so a print is
      never a target, not even at first sight.
    - A track that is not seen keeps its id for `max_missed_s`, then it is dropped. While it is unseen, a
      person's track takes a sighting as far from its predicted bearing as they can have walked since
      (`REACQUIRE_DPS`, at most `MAX_GATE_DEG`): a walker the mesh lost for a few frames is the same
      person when found again, not a new track to confirm.
    - Association gates on each track's predicted bearing (an alpha-beta filter on world azimuth), not on
      its smoothed last one: a smoothed bearing lags a walker by several degrees per frame, and at 7 fps
      someone crossing the room at 30 deg/s fell out of their own gate and came back as a new track (a
      new track is static until it moves, so the device stopped following them). For the same reason a
      face that has moved `WALKED_DEG` in the world frame while the device stood still is living: a
      poster does not walk.
    """

    def __init__(self, confirm_hits: int = 3, max_missed_s: float = 1.0, gate_deg: float = 8.0,
                 fast_turn_dps: float = 45.0, smoothing: float = 0.5, confirm_span_s: float = 0.4,
                 motion_spans: float = 0.10, static_hold_s: float = 20.0, motion_spans_mesh: float = 0.07):
        self.motion_spans, self.static_hold_ns = motion_spans, int(static_hold_s * 1e9)
        self.motion_spans_mesh = motion_spans_mesh
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
                d = abs(wrap_deg(az - track.predicted_az(t_ns)))
                de = abs(est.elevation_deg - track.elevation_deg)
                if d <= self._gate(track, t_ns) and de <= 2 * self.gate_deg:
                    pairs.append((d + 0.5 * de, i, track))
        used_obs, used_tracks = set(), set()
        for _, i, track in sorted(pairs, key=lambda p: p[0]):
            if i in used_obs or track.track_id in used_tracks:
                continue
            if fast and not track.confirmed:
                continue
            used_obs.add(i)
            used_tracks.add(track.track_id)
            self._refresh(track, t_ns, *seen[i], heading_deg, fast, turn_dps)
        if not fast:
            for i, (est, box) in enumerate(seen):
                if i not in used_obs:
                    track = self._start(t_ns, est, box, heading_deg)
                    track.motion_heading_deg = heading_deg
                    self._watch_motion(track, t_ns, est, turn_dps, heading_deg)
                    self.tracks.append(track)
        self.tracks = [t for t in self.tracks if t_ns - t.last_ns <= self.max_missed_ns]
        return [t for t in self.tracks if t.confirmed]

    def _gate(self, track: Track, t_ns: int) -> float:
        """How far (world degrees) from its predicted bearing a sighting may be to be this track: gate_deg,
        widened for a person's track by how far they can have walked while it went unseen. At 5 fps a
        walker who sets off at 30 deg/s is 12 deg on after two frames the mesh lost them, and came back
        as a new track that had to be confirmed again, while they walked out of the view. A track that
        is not a person yet (a glimpse, a phantom) gets no wider gate: it must earn its hits in place."""
        if not track.confirmed:
            return self.gate_deg
        unseen_s = max(t_ns - track.last_ns, 0) / 1e9
        return min(max(self.gate_deg, REACQUIRE_DPS * unseen_s), MAX_GATE_DEG)

    def _start(self, t_ns: int, est: PersonEstimate, box, heading_deg: float) -> Track:
        agreements = int(len(est.found_by) >= 2)
        verified = est.verified or agreements >= AGREE_FRAMES
        return Track(next(self._ids), wrap_deg(est.bearing_deg + heading_deg), est.elevation_deg,
                     est.distance_m, est.engagement, est.confidence, est.source, list(est.landmarks),
                     box, heading_deg, hits=1, first_ns=t_ns, last_ns=t_ns,
                     confirmed=self.confirm_hits <= 1 and verified, verified=verified, agreements=agreements)

    def followed_faces(self, t_ns: int, px_per_deg: float) -> list[tuple]:
        """What the frame pipeline follows this frame: (predicted box, confidence, track id, verified) of
        every face track with a box."""
        return [(t.predicted_box(t_ns, px_per_deg), t.confidence, t.track_id, t.verified) for t in self.tracks
                if t.box is not None and t.source == "face"]

    def is_static(self, track: Track, t_ns: int) -> bool:
        return track.static(t_ns, self.static_hold_ns)

    @staticmethod
    def _restart_motion(track: Track) -> None:
        track.motion.clear()
        track.blocks.clear()
        track.exceed_run.clear()

    def _watch_motion(self, track: Track, t_ns: int, est: PersonEstimate, turn_dps: float,
                      heading_deg: float) -> None:
        """Fold one sighting into the track's micro-motion window (see the class docstring)."""
        # A turn of the device starts the series over, and a track's first sightings do not count (a
        # tracking-mode mesh takes a few frames to settle on a face it has just been handed).
        if est.source != "face":
            return                        # a pose sighting of the same person says nothing here
        span = est.span_px
        if est.shape_px is not None:
            # The mesh: where its centroid is (hundreds of points averaged). Its size is left out: a
            # living head's centimetre to and fro changes it by under 1 % at 2 m, far below how much a
            # fit on a print breathes, so it would only add false movement.
            kind, (u, v, size) = "mesh", est.shape_px
        else:
            kind, (u, v), size = "keypoints", est.head_px, float("nan")
        turned = abs(wrap_deg(heading_deg - track.motion_heading_deg)) > 0.05
        track.motion_heading_deg = heading_deg
        if abs(turn_dps) > STILL_DPS or turned:
            self._restart_motion(track)
            return
        if track.hits < MOTION_SETTLE[kind] or not (span == span and u == u and span > 1.0):
            return
        if kind == "mesh":
            # A fit that suddenly grew or shrank is the mesh re-finding the face (a new crop, a fresh
            # detection), converging again over a few frames: its centroid is not the head's.
            sizes = track.motion.setdefault("mesh sizes", [])
            sizes.append(size)
            del sizes[:-8]
            if len(sizes) >= 3 and abs(size / float(np.median(sizes)) - 1.0) > MESH_GLITCH:
                return
        rows = track.motion.setdefault(kind, [])
        rows.append((u, v, span))
        if len(rows) < MOTION_BLOCK[kind]:
            return
        blocks = track.blocks.setdefault(kind, deque(maxlen=MOTION_BLOCKS))
        blocks.append((t_ns, *np.median(np.array(rows), axis=0)))
        rows.clear()
        while blocks and t_ns - blocks[0][0] > MOTION_MAX_SPAN_NS:
            blocks.popleft()
        _, u1, v1, s1 = blocks[-1]
        spans = self.motion_spans_mesh if kind == "mesh" else self.motion_spans
        threshold = max(spans * s1, JITTER_PX[kind])
        if kind == "mesh":
            moved = any(math.hypot(u1 - u0, v1 - v0) > threshold for _, u0, v0, _ in list(blocks)[:-1])
        else:
            moved = any(max(math.hypot(u1 - u0, v1 - v0), abs(s1 - s0)) > threshold
                        for _, u0, v0, s0 in list(blocks)[:-1])
        track.exceed_run[kind] = track.exceed_run.get(kind, 0) + 1 if moved else 0
        if track.exceed_run[kind] >= 2:            # one odd block is a glitch; two running are a head moving
            track.moved_ns = t_ns
            track.moves_seen += 1

    def _refresh(self, track: Track, t_ns: int, est: PersonEstimate, box, heading_deg: float, fast: bool,
                 turn_dps: float = 0.0) -> None:
        a = self.smoothing
        az = wrap_deg(est.bearing_deg + heading_deg)
        dt = (t_ns - track.last_ns) / 1e9
        predicted = track.predicted_az(t_ns)
        surprise = wrap_deg(az - predicted)
        if dt > 0 and abs(surprise) > self.gate_deg:
            # Found again beyond the usual gate (only a person's widened one let it in: see _gate): they
            # walked while unseen. Smoothing would leave them many degrees behind where they are; take
            # the sighting, and the walk since the last one as their speed.
            track.rate_dps = max(-MAX_RATE_DPS, min(MAX_RATE_DPS, wrap_deg(az - track.world_az_deg) / dt))
            track.world_az_deg = az
        elif 0 < dt <= MAX_PREDICT_S:
            # Alpha-beta: correct the prediction by part of the surprise, and the speed by part of it per second.
            track.world_az_deg = wrap_deg(predicted + (1 - a) * surprise)
            track.rate_dps = max(-MAX_RATE_DPS, min(MAX_RATE_DPS, track.rate_dps + RATE_GAIN * surprise / dt))
        else:
            track.world_az_deg = wrap_deg(track.world_az_deg + (1 - a) * wrap_deg(az - track.world_az_deg))
            track.rate_dps = 0.0
        if abs(turn_dps) <= STILL_DPS and not fast and est.source == "face":
            if track.still_anchor_deg is None:
                track.still_anchor_deg = az
            elif abs(wrap_deg(az - track.still_anchor_deg)) > WALKED_DEG and track.hits >= 3:
                track.moved_ns = t_ns                     # it walked: a living person, not a print
        else:
            track.still_anchor_deg = None                 # bearings taken while turning are not compared
        track.elevation_deg += (1 - a) * (est.elevation_deg - track.elevation_deg)
        if est.distance_m == est.distance_m:              # not NaN
            track.distance_m = est.distance_m if track.distance_m != track.distance_m else \
                track.distance_m + (1 - a) * (est.distance_m - track.distance_m)
        track.engagement += (1 - a) * (est.engagement - track.engagement)
        track.confidence = est.confidence * (0.5 if fast else 1.0)
        track.source, track.landmarks = est.source, list(est.landmarks)
        track.box, track.box_heading_deg = box, heading_deg
        track.last_ns = t_ns
        self._watch_motion(track, t_ns, est, turn_dps, heading_deg)
        if not fast:
            track.hits += 1
            track.agreements += len(est.found_by) >= 2
            track.verified = track.verified or est.verified or track.agreements >= AGREE_FRAMES
            track.confirmed = track.verified and (
                track.confirmed or track.hits >= self.confirm_hits
                or (track.hits >= 2 and t_ns - track.first_ns >= self.confirm_span_ns))
