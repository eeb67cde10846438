"""Per-frame work of the vision service: schedule the detectors, follow known faces, scrub the frame."""
from __future__ import annotations

import math
import time
from typing import Iterable, Optional

import cv2
import numpy as np

from .camera_model import CameraModel
from .detector import (Detector, Observation, Region, cascade_regions, iou, merge_body, same_face,
                       scan_windows, window_around)

# Scan windows per frame: the short-range model costs under half the full-range one. With 4 a cycle of
# the schedule is 15 frames (about 1 s at 15 fps); with 3, 19, and tuning heads found within 1.3 s
# went from 91 % to 86 % (up to 2 m).
WINDOWS_PER_TURN = 4
LOST_ZOOM = 4.0          # a lost face is looked for in a window this many times its box
from .people import PersonEstimate, estimate


class FramePipeline:
    """One BGR frame in, observations out; every pixel buffer is overwritten before `process` returns.

    Detection runs one turn per frame, from a schedule: mediapipe's full-range detector on the full
    frame (twice a cycle: people with a body round them, at any distance), OpenCV's Haar cascade on
    each half of the frame (once each: a second, independent detector), and in between a scan of
    windows by the short-range detector, `WINDOWS_PER_TURN` at a time (`scan_windows`): at the zoom
    of a window a few times a face's size it finds heads the full frame hides (far, dim, dark, partly
    cropped, without a body). A face followed from frame to frame gets a tracking-mode mesh, whose
    face-presence check is one second opinion a track can get before it becomes a person (it refuses
    coins, discs and phantoms); a face the mesh does not verify is shown to the face detector that did
    not find it (`_second_opinion`), and the pose model's body under a face verifies it too. Faces
    already tracked are followed by running the mesh on their predicted box, so a far face found once
    stays seen on every frame, and a face the mesh loses is looked for again in a window around it in
    place of the next scan turn. Like mediapipe's own face pipelines, detection is only needed to find
    newcomers: while every followed face was found again, it runs on every other frame. The pose model
    runs every `pose_every` frames, in place of that frame's face detection.
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
        w, h = model.width, model.height
        self.full = Region("full", 0, 0, w, h)
        cascades = cascade_regions(w, h)
        scan = scan_windows(w, h)
        turns = [scan[i:i + WINDOWS_PER_TURN] for i in range(0, len(scan), WINDOWS_PER_TURN)]
        half = (len(turns) + 1) // 2
        self.schedule: list[list[Region]] = [[self.full], *turns[:half], [cascades[0]],
                                             [self.full], *turns[half:], [cascades[1]]]
        self._rgb = np.zeros((h, w, 3), np.uint8)
        self._lost: list[tuple] = []     # boxes of followed faces the mesh lost

    def turn_for_this_frame(self) -> list[Region]:
        """The next turn of the schedule; a scan turn gives way to windows around faces the mesh just
        lost, at the zoom that suits each one's size (a far face in blur or dim light is found again)."""
        turn = self.schedule[self.detect_index % len(self.schedule)]
        if turn[0].kind != "short" or not self._lost:
            return turn
        windows = [window_around(self.model.width, self.model.height, box, LOST_ZOOM)
                   for box in self._lost[:WINDOWS_PER_TURN]]
        return [r for r in windows if r is not None] or turn

    def _find_again(self, rgb: np.ndarray, box, verified: bool) -> Optional[Observation]:
        """A followed face the mesh could not fit (turned far, half hidden): look for it with the
        short-range detector in a window three times its size around where it was."""
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
        zoomed crop around every such face (a fraction of a millisecond); mediapipe's detector only on
        a window around a face the cascade has just found."""
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
            turn = self.turn_for_this_frame()
            if turn[0].kind == "cascade":
                found = self.detector.find_faces_cascade(rgb, turn[0])
            else:
                found = self.detector.find_faces(rgb, turn)
            self.detect_index += 1
        t2, c2 = time.perf_counter(), time.process_time()
        boxes: list[tuple[tuple, float, Optional[list]]] = list(found)
        # The image moves right by fx * pi/180 pixels per degree the device turned left.
        du = heading_change_deg * self.model.fx * math.pi / 180.0
        keys: dict[int, object] = {}                 # index in boxes -> the followed face it is
        trusted: set[int] = set()                    # boxes of faces followed as verified
        for entry in followed:
            box, score = entry[0], entry[1]
            key = entry[2] if len(entry) > 2 else None
            moved = (box[0] + du, box[1], box[2] + du, box[3])
            if moved[2] < 0 or moved[0] > w:
                continue
            # A box found this frame is this face if it overlaps it or one's centre lies in the other
            # (a scan window that held part of a near face boxed its eyes or chin: not a second face).
            overlaps = [i for i, b in enumerate(boxes) if iou(moved, b[0]) >= 0.2 or same_face(moved, b[0])]
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
                self._lost.append(box)
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
