"""Per-frame work of the vision service: schedule the detectors, follow known faces, scrub the frame."""
from __future__ import annotations

import math
import time
from typing import Iterable, Optional

import cv2
import numpy as np

from .camera_model import CameraModel
from .detector import Detector, Observation, Region, _iou, _same_head, zoom_regions
from .people import PersonEstimate, estimate


class FramePipeline:
    """One BGR frame in, observations out; every pixel buffer is overwritten before `process` returns.

    Each frame runs the face detector on one region of a schedule that alternates the full frame
    with the three zoom tiles (near faces are looked for every other frame, far faces every sixth),
    the face mesh on every face found or followed, and the pose model every `pose_every` frames.
    Faces already tracked are followed by running the mesh on their predicted box, so a far face
    found once by a zoom tile stays seen on every frame.
    """

    def __init__(self, detector: Detector, model: CameraModel, pose_every: int = 8):
        self.detector, self.pose_every = detector, max(1, pose_every)
        self.frame_index = 0
        self.timings_ms: dict[str, float] = {}
        self._configure(model)

    def _configure(self, model: CameraModel) -> None:
        self.model = model
        full, *tiles = zoom_regions(model.width, model.height)
        self.full, self.tiles = full, tiles
        self.schedule: list[Region] = [r for tile in tiles for r in (full, tile)]
        self._rgb = np.zeros((model.height, model.width, 3), np.uint8)
        self._lost: list[tuple[float, float]] = []     # centres of followed faces the mesh lost

    def region_for_this_frame(self) -> Region:
        """Full frame on even frames; on odd ones the zoom tile of a face the mesh just lost, if any,
        else the next tile in turn (a far face in blur or dim light is found again within 2 frames)."""
        region = self.schedule[self.frame_index % len(self.schedule)]
        if region is self.full or not self._lost:
            return region
        u, v = self._lost[(self.frame_index // 2) % len(self._lost)]
        return min(self.tiles, key=lambda t: abs((t.x0 + t.x1) / 2 - u) + abs((t.y0 + t.y1) / 2 - v))

    def process(self, bgr: np.ndarray, followed: Iterable[tuple[tuple, float]] = (),
                heading_change_deg: float = 0.0) -> list[tuple[PersonEstimate, tuple]]:
        """People in this frame with their pixel boxes. `followed`: (box, score) of tracked faces.

        The caller's frame is overwritten (zeros) as soon as it has been converted.
        """
        t0 = time.perf_counter()
        h, w = bgr.shape[:2]
        if (w, h) != (self.model.width, self.model.height):
            self._configure(self.model.rescaled(w, h))
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=self._rgb)
        bgr.fill(0)
        rgb = self._rgb
        t1 = time.perf_counter()
        found = self.detector.find_faces(rgb, [self.region_for_this_frame()])
        t2 = time.perf_counter()
        boxes: list[tuple[tuple, float, Optional[list]]] = list(found)
        # The image moves right by fx * pi/180 pixels per degree the device turned left.
        du = heading_change_deg * self.model.fx * math.pi / 180.0
        for box, score in followed:
            moved = (box[0] + du, box[1], box[2] + du, box[3])
            if moved[2] < 0 or moved[0] > w:
                continue
            if all(_iou(moved, b[0]) < 0.2 for b in boxes):
                boxes.append((moved, score, None))
        observations: list[Observation] = []
        self._lost = []
        for box, score, kps in boxes:
            obs = self.detector.describe_face(rgb, box, score, kps)
            if obs is not None:
                observations.append(obs)
            else:
                self._lost.append(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
        t3 = time.perf_counter()
        if self.detector.pose is not None and self.frame_index % self.pose_every == self.pose_every - 1:
            body = self.detector.find_pose(rgb)
            if body is not None and not any(_same_head(body, o) for o in observations):
                observations.append(body)
        t4 = time.perf_counter()
        rgb.fill(0)
        self.frame_index += 1
        self.timings_ms = {"convert": (t1 - t0) * 1e3, "detect": (t2 - t1) * 1e3, "mesh": (t3 - t2) * 1e3,
                           "pose": (t4 - t3) * 1e3, "total": (time.perf_counter() - t0) * 1e3}
        return [(estimate(o, self.model), o.box) for o in observations]
