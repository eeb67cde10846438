"""Per-frame work of the vision service: schedule the detectors, follow known faces, scrub the frame."""
from __future__ import annotations

import time
from typing import Iterable, Optional

import cv2
import numpy as np

from .camera_model import CameraModel
from .detector import Detector, Observation, Region, cascade_regions, iou, merge_body, zoom_regions, zoom_windows
from .people import PersonEstimate, estimate


class FramePipeline:
    """One BGR frame in, observations out; every pixel buffer is overwritten before `process` returns.

    The face detector runs on one region at a time, from a schedule of ten: the full frame twice, each
    of the three zoom tiles twice, and OpenCV's Haar cascade once on each half of the frame: a second,
    independent detector for faces BlazeFace misses. Each turn of the full-range detector also looks
    through the next of ten closer zoom windows, where heads the tiles miss (bodiless, dark, far) are
    big enough for it. A face followed from frame to frame gets a
    tracking-mode mesh, whose face-presence check is one second opinion a track can get before it
    becomes a person (it refuses coins, discs and phantoms); a face the mesh does not verify is shown to
    the face detector that did not find it (`_second_opinion`), and the pose model's body under a face
    verifies it too. Faces already tracked are followed by running the mesh on their
    predicted box, so a far face found once by a zoom tile stays seen on every frame. Like
    mediapipe's own face pipelines, detection is only needed to find newcomers: while every
    followed face was found again, it runs on every other frame. The pose model runs every
    `pose_every` frames, in place of that frame's face detection.
    """

    def __init__(self, detector: Detector, model: CameraModel, pose_every: int = 8):
        self.detector, self.pose_every = detector, max(1, pose_every)
        self.frame_index = 0
        self.detect_index = 0
        self.timings_ms: dict[str, float] = {}
        self.cpu_ms: dict[str, float] = {}
        self._configure(model)

    def _configure(self, model: CameraModel) -> None:
        self.model = model
        full, *tiles = zoom_regions(model.width, model.height)
        self.full, self.tiles = full, tiles
        cascades = cascade_regions(model.width, model.height)
        # Heads without a body around them, small, dim or partly cropped, are found far more often in
        # a zoom tile or by the cascade than on the full frame (a full-frame face is big enough to be
        # found on either of its two turns), so the tiles get three turns in five.
        self.schedule: list[Region] = [r for cascade in cascades for r in (full, *tiles, cascade)]
        # Every turn of the full-range detector also looks through the next of the closer zoom windows.
        self.windows = zoom_windows(model.width, model.height)
        self.window_index = 0
        self._rgb = np.zeros((model.height, model.width, 3), np.uint8)
        self._lost: list[tuple[float, float]] = []     # centres of followed faces the mesh lost

    def region_for_this_frame(self) -> Region:
        """Full frame on even detections; on odd ones the zoom tile of a face the mesh just lost, if
        any, else the next tile in turn (a far face in blur or dim light is found again quickly)."""
        region = self.schedule[self.detect_index % len(self.schedule)]
        if region is self.full or region.kind == "cascade" or not self._lost:
            return region
        u, v = self._lost[(self.detect_index // 2) % len(self._lost)]
        return min(self.tiles, key=lambda t: abs((t.x0 + t.x1) / 2 - u) + abs((t.y0 + t.y1) / 2 - v))

    def _find_again(self, rgb: np.ndarray, box, verified: bool) -> Optional[Observation]:
        """A followed face the mesh could not fit (turned far, half hidden): look for it with the
        full-range detector in a window three times its size around where it was."""
        found = self.detector.detector_agrees(rgb, box)
        if found is None:
            return None
        best_box, score, kps = found
        obs = self.detector.describe_face(rgb, best_box, score, kps, try_mesh=False)
        if obs is not None:
            obs.verified = verified
            obs.found_by = frozenset({"face"})
        return obs

    def _second_opinion(self, rgb: np.ndarray, obs: Observation, fresh_cascade: bool) -> None:
        """A face the mesh has not verified: ask the detector that did not find it. The cascade runs on a
        zoomed crop around every such face (a fraction of a millisecond); the full-range detector only
        on a window around a face the cascade has just found."""
        by = set(obs.found_by)
        if "face" in by and "cascade" not in by and self.detector.cascade_agrees(rgb, obs.box):
            by.add("cascade")
        if fresh_cascade and "face" not in by and self.detector.detector_agrees(rgb, obs.box) is not None:
            by.add("face")
        obs.found_by = frozenset(by)

    def process(self, bgr: np.ndarray, followed: Iterable[tuple] = (),
                heading_change_deg: float = 0.0) -> list[tuple[PersonEstimate, tuple]]:
        """People in this frame with their pixel boxes. `followed`: (box, score[, track id[, verified]])
        of tracked faces; with an id the face's mesh runs in tracking mode; a face followed as verified
        is not checked again.

        The caller's frame is overwritten (zeros) as soon as it has been converted.
        """
        t0, c0 = time.perf_counter(), time.process_time()
        h, w = bgr.shape[:2]
        if (w, h) != (self.model.width, self.model.height):
            self._configure(self.model.rescaled(w, h))
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=self._rgb)
        bgr.fill(0)
        rgb = self._rgb
        t1, c1 = time.perf_counter(), time.process_time()
        followed = list(followed)
        pose_now = self.detector.pose is not None and self.frame_index % self.pose_every == self.pose_every - 1
        all_found = bool(followed) and not self._lost and self.frame_index % 2 == 1
        found = []
        if not (pose_now or all_found):
            region = self.region_for_this_frame()
            if region.kind == "cascade":
                found = self.detector.find_faces_cascade(rgb, region)
            else:
                window = self.windows[self.window_index % len(self.windows)]
                self.window_index += 1
                found = self.detector.find_faces(rgb, [region, window])
            self.detect_index += 1
        t2, c2 = time.perf_counter(), time.process_time()
        boxes: list[tuple[tuple, float, Optional[list]]] = list(found)
        # The image moves right by fx * pi/180 pixels per degree the device turned left.
        du = heading_change_deg * self.model.px_per_deg
        keys: dict[int, object] = {}                 # index in boxes -> the followed face it is
        trusted: set[int] = set()                    # boxes of faces followed as verified
        for entry in followed:
            box, score = entry[0], entry[1]
            key = entry[2] if len(entry) > 2 else None
            moved = (box[0] + du, box[1], box[2] + du, box[3])
            if moved[2] < 0 or moved[0] > w:
                continue
            overlaps = [i for i, b in enumerate(boxes) if iou(moved, b[0]) >= 0.2]
            i = overlaps[0] if overlaps else len(boxes)
            if overlaps:
                keys.setdefault(i, key)
                if iou(moved, boxes[i][0]) >= 0.5:
                    # Found where it was: the mesh keeps its crop (a tracking-mode mesh starts from
                    # the last frame's landmarks in crop coordinates; a shifted crop makes it jump).
                    boxes[i] = (moved, boxes[i][1], boxes[i][2])
            else:
                keys[i] = key
                boxes.append((moved, score, None))
            if len(entry) > 3 and entry[3]:
                trusted.add(i)
        observations: list[Observation] = []
        self._lost = []
        for i, (box, score, kps) in enumerate(boxes):
            verified = i in trusted
            # Which detector found this box in this frame (none: a followed face's predicted box).
            by = frozenset({"face"} if kps is not None else {"cascade"} if i < len(found) else ())
            obs = self.detector.describe_face(rgb, box, score, kps, follow_key=keys.get(i))
            if obs is not None:
                obs.found_by = by
            else:
                obs = self._find_again(rgb, box, verified)
            if obs is not None:
                obs.verified = obs.verified or verified
                if not obs.verified:
                    self._second_opinion(rgb, obs, fresh_cascade=by == {"cascade"})
                observations.append(obs)
            else:
                self._lost.append(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
        t3, c3 = time.perf_counter(), time.process_time()
        if pose_now:
            body = self.detector.find_pose(rgb)
            if body is not None:
                merge_body(body, observations)
        t4, c4 = time.perf_counter(), time.process_time()
        rgb.fill(0)
        self.frame_index += 1
        t5, c5 = time.perf_counter(), time.process_time()
        # Wall-clock and CPU time (all of this process's threads): on a busy machine the first
        # includes waiting for a core, the second is what the work itself costs.
        self.timings_ms = {"convert": (t1 - t0) * 1e3, "detect": (t2 - t1) * 1e3, "mesh": (t3 - t2) * 1e3,
                           "pose": (t4 - t3) * 1e3, "total": (t5 - t0) * 1e3}
        self.cpu_ms = {"convert": (c1 - c0) * 1e3, "detect": (c2 - c1) * 1e3, "mesh": (c3 - c2) * 1e3,
                       "pose": (c4 - c3) * 1e3, "total": (c5 - c0) * 1e3}
        return [(estimate(o, self.model), o.box) for o in observations]
