"""mediapipe on one frame: face detection (full frame and zoom tiles), face mesh per face, scheduled pose."""
from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable, Optional

# mediapipe logs through absl/glog to stderr at import and graph start; keep the console readable.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from . import geometry as g

MESH_CROP_PX = 192          # face crops are resized to this square before the mesh runs
MESH_CROP_SCALE = 2.0       # crop side relative to the detection box's larger side
MAX_FOLLOWED_MESHES = 4     # tracking-mode meshes kept for followed faces
PLAUSIBLE_PRESENCE = 0.5   # the mesh's face-presence score a face needs to be confirmed
CASCADE_FILE = "haarcascade_frontalface_alt2.xml"   # 20x20 windows: faces down to 20 px (the default's are 24)
CASCADE_MIN_PX = 20         # smallest face the Haar cascade looks for (about 3.5 m at 640x480, 66 deg)
CASCADE_MAX_PX = 140        # larger faces are the full-frame detector's, which never misses them
CASCADE_NEIGHBOURS = 3      # overlapping hits a cascade box needs
CASCADE_SCORE = 0.6         # the cascade gives no score: what its boxes count as until verified
AGREE_CROP_PX = 96          # the second detector's zoomed crop around a face box (face about 48 px)


@dataclass
class Region:
    """A part of the frame the face detector looks at (zoom tiles make far faces big enough)."""
    name: str
    x0: int
    y0: int
    x1: int
    y1: int
    kind: str = "face"          # "face": mediapipe's full-range detector; "cascade": OpenCV's Haar cascade


@dataclass
class Observation:
    """One person seen in one frame, in frame pixels; no pixels of the frame itself."""
    source: str                                  # "face" or "pose"
    score: float
    head_u: float                                # head position (eye midpoint) in pixels
    head_v: float
    box: tuple[float, float, float, float]       # x0, y0, x1, y1 in pixels
    span_px: Optional[float] = None              # width of the anthropometric span used for distance
    span_m: float = g.EYE_OUTER_SPAN_M
    yaw_deg: Optional[float] = None
    pitch_deg: Optional[float] = None
    engagement: float = 0.0
    landmarks: list[tuple[float, float]] = field(default_factory=list)   # normalized to the frame
    verified: bool = False                       # a second model agreed that this is a face (or body)
    # Which face detectors found this face in this frame ("face": mediapipe's full-range detector,
    # "cascade": OpenCV's Haar cascade). Both at once is independent evidence of a face.
    found_by: frozenset = frozenset()
    # Where the whole mesh is and how big (centroid and RMS radius of its points in the image, pixels):
    # what micro-motion compares. Averaged over hundreds of points it jitters far less on a print than
    # the eye corners or the head axis, which hangs 10 cm behind the eyes on the mesh's orientation.
    shape_px: Optional[tuple[float, float, float]] = None


def zoom_regions(width: int, height: int) -> list[Region]:
    """The full frame, then three half-size tiles along the band where far faces appear.

    A far person's eyes sit within about +20..-10 degrees of the horizon, so the tiles cover rows
    h/10..7h/10; adjacent tiles overlap by half so any face narrower than w/4 lies wholly in one.
    The detector letterboxes its input to a square, so a 320x288 tile zooms as much as 320x240.
    """
    tw, th = width // 2, (height * 3) // 5
    y0 = height // 10
    tiles = [Region(f"tile{i}", x, y0, x + tw, y0 + th) for i, x in enumerate((0, width // 4, width // 2))]
    return [Region("full", 0, 0, width, height)] + tiles


def zoom_windows(width: int, height: int) -> list[Region]:
    """Squares about a third of the frame wide, overlapping by half, in two rows over the band where the
    eyes of a person 1.5 to 3.5 m away appear: a closer zoom than the tiles'.

    A face the full-range detector misses on a tile (a head without shoulders, a dark or partly cropped
    one, a far one) is often found at this zoom: of 93 tuning heads in single frames, 57 on such a window
    against 50 on a tile. Too small to hold a near face whole, so they add to the tiles, not replace them.
    """
    side = (width * 7) // 20
    xs = list(range(0, width - side + 1, side // 2))
    if xs[-1] + side < width:
        xs.append(width - side)
    return [Region(f"window{i}", x, y, x + side, y + side)
            for i, (y, x) in enumerate((y, x) for y in (height // 10, (height * 3) // 10) for x in xs)]


def cascade_regions(width: int, height: int) -> list[Region]:
    """Two overlapping halves of the upper three quarters of the frame, for the Haar cascade: where
    faces too near for the zoom tiles and too small for the full frame stand (eyes above the floor)."""
    half, overlap = width // 2, width // 10
    bottom = (height * 3) // 4
    return [Region("cascade0", 0, 0, half + overlap, bottom, "cascade"),
            Region("cascade1", half - overlap, 0, width, bottom, "cascade")]


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def contains_centre(a, b) -> bool:
    """True when the centre of box b lies inside box a (a face found twice at different zooms)."""
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return a[0] <= cx <= a[2] and a[1] <= cy <= a[3]


def suppress_duplicates(boxes: list[tuple[tuple, float, object]]) -> list[tuple[tuple, float, object]]:
    """Keep the best-scoring of boxes that overlap (the same face seen in the full frame and a tile)."""
    kept: list[tuple[tuple, float, object]] = []
    for item in sorted(boxes, key=lambda b: -b[1]):
        if all(iou(item[0], k[0]) < 0.3 and not contains_centre(k[0], item[0])
               and not contains_centre(item[0], k[0]) for k in kept):
            kept.append(item)
    return kept


class Detector:
    """The mediapipe models this device runs, built once per process (graphs take ~50 ms to start)."""

    def __init__(self, min_face_score: float = 0.6, with_pose: bool = True):
        import mediapipe as mp
        sol = mp.solutions
        # model_selection=1 is the full-range model (faces to ~5 m); it costs the same on a tile.
        self.face = sol.face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_face_score)
        # Static mode on a crop around one face: the mesh graph's own short-range face detector
        # (the model for faces filling much of the image) re-finds the face in the crop first.
        self.mesh = sol.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                                           min_detection_confidence=0.3)
        self.pose = (sol.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False,
                                   min_detection_confidence=0.5) if with_pose else None)
        # A second opinion before a track becomes a person: face-mesh landmark plausibility. A
        # tracking-mode mesh keeps its landmarks only while its own face-presence score stays above
        # min_tracking_confidence (a static-mode mesh fits a face to anything it is handed). It has
        # refused every round, textured thing (a coin, a head phantom, a moon) the full-range detector
        # took for a face in the tuning set, and accepts most real faces in a frame or two.
        self.checker = sol.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=False,
                                              min_detection_confidence=0.3,
                                              min_tracking_confidence=PLAUSIBLE_PRESENCE)
        # An independent detector for faces BlazeFace misses when there is no head and shoulders around
        # them (a face on a plain wall, a cut-out head): OpenCV's frontal Haar cascade, shipped in the wheel.
        self.cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, CASCADE_FILE))
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV's frontal face cascade {CASCADE_FILE} is missing from cv2.data.haarcascades")
        # Contrast equalized per tile before the cascade: a dim or washed-out face keeps the light and
        # dark bands (brows, eyes, nose bridge) its features compare.
        self.clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self.clahe_crop = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
        # The second opinion's crop, colour and grey: reused, scrubbed after use.
        self._agree_rgb = np.zeros((AGREE_CROP_PX, AGREE_CROP_PX, 3), np.uint8)
        self._agree_gray = np.zeros((AGREE_CROP_PX, AGREE_CROP_PX), np.uint8)
        self.min_face_score = min_face_score
        self._crop = np.zeros((MESH_CROP_PX, MESH_CROP_PX, 3), np.uint8)   # reused, scrubbed after use
        # Faces followed from frame to frame get a mesh in tracking mode: it starts from the last
        # frame's landmarks instead of re-detecting the face in the crop (about 40 % cheaper).
        # Built now (a graph takes ~50 ms to start), handed to followed faces least recently used
        # first; one inherited from a face that left starts from stale landmarks, fails its presence
        # check and finds the new face in the crop by itself.
        self._followers: "OrderedDict[object, object]" = OrderedDict(
            ((None, i), sol.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=False,
                                               min_detection_confidence=0.3, min_tracking_confidence=0.5))
            for i in range(MAX_FOLLOWED_MESHES))

    def warm_up(self) -> None:
        """Run every graph once on a blank image: mediapipe starts its calculators (and prints its
        start-up chatter) on the first frame, so do it while the caller silences stderr."""
        blank = np.zeros((128, 128, 3), np.uint8)
        self.face.process(blank)
        self.checker.process(self._crop)
        self.mesh.process(self._crop)
        for mesh in self._followers.values():
            mesh.process(self._crop)
        if self.pose is not None:
            self.pose.process(blank)

    def close(self) -> None:
        for m in (self.face, self.checker, self.mesh, self.pose, *self._followers.values()):
            if m is not None:
                m.close()
        self._followers.clear()

    def _mesh_for(self, key):
        """The tracking-mode mesh of one followed face (or the static one for a face not followed)."""
        if key is None:
            return self.mesh
        if key not in self._followers:
            _, mesh = self._followers.popitem(last=False)
            self._followers[key] = mesh
        self._followers.move_to_end(key)
        return self._followers[key]

    # -- stages -------------------------------------------------------------------------------------
    def find_faces(self, rgb: np.ndarray, regions: Iterable[Region]) -> list[tuple[tuple, float, object]]:
        """Face boxes (pixels, score, detection keypoints in pixels) found in the given regions."""
        found = []
        for r in regions:
            view = rgb if (r.x0, r.y0, r.x1, r.y1) == (0, 0, rgb.shape[1], rgb.shape[0]) \
                else np.ascontiguousarray(rgb[r.y0:r.y1, r.x0:r.x1])
            result = self.face.process(view)
            rw, rh = r.x1 - r.x0, r.y1 - r.y0
            for det in result.detections or ():
                bb = det.location_data.relative_bounding_box
                box = (r.x0 + bb.xmin * rw, r.y0 + bb.ymin * rh,
                       r.x0 + (bb.xmin + bb.width) * rw, r.y0 + (bb.ymin + bb.height) * rh)
                kps = [(r.x0 + k.x * rw, r.y0 + k.y * rh) for k in det.location_data.relative_keypoints]
                found.append((box, float(det.score[0]), kps))
            if view is not rgb:
                view.fill(0)
        return suppress_duplicates(found)

    def find_faces_cascade(self, rgb: np.ndarray, region: Region) -> list[tuple[tuple, float, None]]:
        """Face boxes the Haar cascade finds in a region (no keypoints; they must be verified)."""
        view = np.ascontiguousarray(rgb[region.y0:region.y1, region.x0:region.x1])
        gray = cv2.cvtColor(view, cv2.COLOR_RGB2GRAY)
        view.fill(0)
        equal = self.clahe.apply(gray)
        gray.fill(0)
        found = self.cascade.detectMultiScale(equal, scaleFactor=1.15, minNeighbors=CASCADE_NEIGHBOURS,
                                              minSize=(CASCADE_MIN_PX, CASCADE_MIN_PX),
                                              maxSize=(CASCADE_MAX_PX, CASCADE_MAX_PX))
        equal.fill(0)
        # The cascade's box runs from the brows to the mouth; the detector's from forehead to chin.
        return [((region.x0 + x - 0.05 * w, region.y0 + y, region.x0 + x + 1.05 * w, region.y0 + y + 1.15 * h),
                 CASCADE_SCORE, None) for x, y, w, h in found]

    def cascade_agrees(self, rgb: np.ndarray, box) -> bool:
        """Does the Haar cascade, on a zoomed crop twice the box's size, find a face centred where the
        box is? A second opinion on a face the full-range detector found, from a detector that shares
        nothing with it (Haar features and boosting, not a neural network)."""
        side = 2.0 * max(box[2] - box[0], box[3] - box[1], 8.0)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        k = AGREE_CROP_PX / side
        m = np.array([[k, 0, -(cx - side / 2) * k], [0, k, -(cy - side / 2) * k]], np.float32)
        crop, gray = self._agree_rgb, self._agree_gray
        cv2.warpAffine(rgb, m, (AGREE_CROP_PX, AGREE_CROP_PX), dst=crop, flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
        cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY, dst=gray)
        crop.fill(0)
        equal = self.clahe_crop.apply(gray)
        gray.fill(0)
        lo, hi = int(0.28 * AGREE_CROP_PX), int(0.8 * AGREE_CROP_PX)
        half = AGREE_CROP_PX / 2
        found = self.cascade.detectMultiScale(equal, scaleFactor=1.1, minNeighbors=CASCADE_NEIGHBOURS,
                                              minSize=(lo, lo), maxSize=(hi, hi))
        equal.fill(0)
        return any(abs(x + w / 2 - half) < 0.2 * AGREE_CROP_PX and abs(y + h / 2 - half) < 0.25 * AGREE_CROP_PX
                   for x, y, w, h in found)

    def detector_agrees(self, rgb: np.ndarray, box) -> Optional[tuple[tuple, float, list]]:
        """The full-range detector on a window three times a box's size: the face it finds there
        overlapping the box (box, score, keypoints), or None."""
        h, w = rgb.shape[:2]
        side = 3.0 * max(box[2] - box[0], box[3] - box[1], 32.0)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        window = Region("window", max(0, int(cx - side / 2)), max(0, int(cy - side / 2)),
                        min(w, int(cx + side / 2)), min(h, int(cy + side / 2)))
        if window.x1 - window.x0 < 16 or window.y1 - window.y0 < 16:
            return None
        found = [f for f in self.find_faces(rgb, [window]) if iou(f[0], box) > 0.2]
        return max(found, key=lambda f: iou(f[0], box)) if found else None

    def _warp_crop(self, rgb: np.ndarray, box) -> tuple[float, float, float]:
        """Crop, scale and pad (faces at the image edge) the square around a face box into self._crop."""
        side = MESH_CROP_SCALE * max(box[2] - box[0], box[3] - box[1])
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0, y0 = cx - side / 2, cy - side / 2
        scale = MESH_CROP_PX / side
        m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float32)
        cv2.warpAffine(rgb, m, (MESH_CROP_PX, MESH_CROP_PX), dst=self._crop, flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return x0, y0, side

    def plausible(self, rgb: np.ndarray, box) -> bool:
        """Does the mesh, with its face-presence check, find a face at this box (one still image)?"""
        self._crop.fill(0)
        self.checker.process(self._crop)          # forget the last face: the next call detects afresh
        x0, y0, side = self._warp_crop(rgb, box)
        found = self.checker.process(self._crop).multi_face_landmarks
        self._crop.fill(0)
        if not found:
            return False
        nose = found[0].landmark[g.MESH_NOSE_TIP]
        u, v = x0 + nose.x * side, y0 + nose.y * side
        return box[0] <= u <= box[2] and box[1] <= v <= box[3]

    def describe_face(self, rgb: np.ndarray, box, score: float, keypoints=None,
                      try_mesh: bool = True, follow_key=None) -> Optional[Observation]:
        """Face mesh on a crop around a face box: landmarks, head pose, engagement, eye span.

        With the detector's keypoints a face the mesh cannot fit is still reported (eye keypoints
        give its distance); without them (a box predicted from a track) it is None.
        """
        h, w = rgb.shape[:2]
        side = MESH_CROP_SCALE * max(box[2] - box[0], box[3] - box[1])
        x0 = y0 = 0.0
        landmarks = None
        if try_mesh:
            x0, y0, side = self._warp_crop(rgb, box)
            found = self._mesh_for(follow_key).process(self._crop).multi_face_landmarks
            self._crop.fill(0)
            landmarks = found[0].landmark if found else None
            if landmarks is not None:
                # The crop is twice the face: the mesh may have fitted a neighbour's face instead.
                nose = landmarks[g.MESH_NOSE_TIP]
                u, v = x0 + nose.x * side, y0 + nose.y * side
                if not (box[0] <= u <= box[2] and box[1] <= v <= box[3]):
                    landmarks = None
        if keypoints is None and landmarks is None:
            return None
        if keypoints is None:
            keypoints = [((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)] * 2
        (rex, rey), (lex, ley) = keypoints[0], keypoints[1]
        obs = Observation("face", score, (rex + lex) / 2, (rey + ley) / 2, tuple(box),
                          span_px=math.hypot(lex - rex, ley - rey), span_m=g.PUPIL_SPAN_M,
                          engagement=0.5)
        if landmarks is None:
            # The mesh gives up on strongly turned faces; the detector's nose and eyes still tell yaw.
            if len(keypoints) >= 3:
                obs.yaw_deg = g.yaw_from_keypoints(keypoints[0], keypoints[1], keypoints[2])
                obs.engagement = g.engagement_from_pose(obs.yaw_deg, 0.0)
                # Position: from the eyes back to the head's turning axis, as for the mesh.
                yaw = math.radians(obs.yaw_deg)
                obs.span_px = obs.span_px / max(math.cos(yaw), 0.3)      # undo the eyes' foreshortening
                behind_px = g.HEAD_AXIS_BEHIND_EYES_M * obs.span_px / g.PUPIL_SPAN_M
                obs.head_u -= math.sin(yaw) * behind_px
            obs.landmarks = [(x / w, y / h) for x, y in keypoints]
            return obs
        pts = np.array([(p.x, p.y, p.z) for p in landmarks], np.float64) * side
        pts[:, 0] += x0
        pts[:, 1] += y0
        yaw, pitch = g.head_pose_from_mesh(pts)
        head = g.head_centre(pts)
        obs.head_u, obs.head_v = float(head[0]), float(head[1])
        obs.span_px, obs.span_m = g.eye_span_px(pts), g.EYE_OUTER_SPAN_M
        obs.yaw_deg, obs.pitch_deg = yaw, pitch
        obs.engagement = g.engagement_from_pose(yaw, pitch)
        obs.landmarks = [(float(pts[i, 0] / w), float(pts[i, 1] / h)) for i in g.MESH_PUBLISHED]
        centre = pts[:, :2].mean(axis=0)
        obs.shape_px = (float(centre[0]), float(centre[1]),
                        float(np.sqrt(((pts[:, :2] - centre) ** 2).sum(axis=1).mean())))
        # A followed face's mesh runs in tracking mode, whose landmarks pass its face-presence check.
        obs.verified = follow_key is not None
        return obs

    def find_pose(self, rgb: np.ndarray) -> Optional[Observation]:
        """The pose model's one most prominent person: found when the face is too small or turned away."""
        if self.pose is None:
            return None
        result = self.pose.process(rgb)
        if result.pose_landmarks is None:
            return None
        h, w = rgb.shape[:2]
        lm = result.pose_landmarks.landmark
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lm])
        vis = np.array([p.visibility for p in lm])
        ls, rs = pts[g.POSE_LEFT_SHOULDER], pts[g.POSE_RIGHT_SHOULDER]
        if min(vis[g.POSE_LEFT_SHOULDER], vis[g.POSE_RIGHT_SHOULDER]) < 0.5:
            return None
        head_ids = [g.POSE_NOSE, g.POSE_LEFT_EYE, g.POSE_RIGHT_EYE, g.POSE_LEFT_EAR, g.POSE_RIGHT_EAR]
        head = pts[head_ids, :2].mean(axis=0)
        # A person's eyes sit well above the shoulder line (about 0.6 shoulder widths); a cup on a
        # saucer in a framed photo that the pose model takes for a body does not.
        shoulder_span = float(np.linalg.norm(ls[:2] - rs[:2]))
        if (ls[1] + rs[1]) / 2 - head[1] < g.POSE_MIN_NECK_PER_SHOULDER * shoulder_span:
            return None
        # Facing the camera, the left shoulder is on image right; turned away, the order flips.
        facing = ls[0] > rs[0]
        face_vis = float(vis[[g.POSE_NOSE, g.POSE_LEFT_EYE, g.POSE_RIGHT_EYE]].mean())
        engagement = 0.5 * face_vis if facing else 0.0
        xs, ys = pts[:, 0][vis > 0.5], pts[:, 1][vis > 0.5]
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        # Shoulder width varies with build and clothing (a space suit!); the eye corners do not, so
        # they set the distance whenever the pose model sees them.
        if facing and min(vis[g.POSE_LEFT_EYE_OUTER], vis[g.POSE_RIGHT_EYE_OUTER]) > 0.8:
            span_px = float(np.linalg.norm(pts[g.POSE_LEFT_EYE_OUTER] - pts[g.POSE_RIGHT_EYE_OUTER]))
            span_m = g.EYE_OUTER_SPAN_M
        else:
            span_px, span_m = float(np.linalg.norm(ls - rs)), g.SHOULDER_SPAN_M
        return Observation("pose", float(vis[[11, 12]].mean()), float(head[0]), float(head[1]), box,
                           span_px=span_px, span_m=span_m,
                           engagement=engagement,
                           landmarks=[(float(pts[i, 0] / w), float(pts[i, 1] / h)) for i in g.POSE_PUBLISHED])

    # -- whole frames ---------------------------------------------------------------------------------
    def observe(self, rgb: np.ndarray, regions: Iterable[Region], with_pose: bool = False) -> list[Observation]:
        """Everything found in the given regions (and by the pose model when asked) in one frame."""
        regions = list(regions)
        found = self.find_faces(rgb, [r for r in regions if r.kind == "face"])
        for r in regions:
            if r.kind != "cascade":
                continue
            found += [c for c in self.find_faces_cascade(rgb, r)
                      if not any(iou(c[0], f[0]) > 0.2 or contains_centre(f[0], c[0]) for f in found)]
        faces = []
        for box, score, kps in suppress_duplicates(found):
            face = self.describe_face(rgb, box, score, kps)
            if face is not None:
                # Verified: the mesh's presence check, or both face detectors on the same face.
                by = {"face"} if kps is not None else {"cascade"}
                if "cascade" not in by and self.cascade_agrees(rgb, box):
                    by.add("cascade")
                if "face" not in by and self.detector_agrees(rgb, box) is not None:
                    by.add("face")
                face.found_by = frozenset(by)
                face.verified = len(by) == 2 or self.plausible(rgb, box)
                faces.append(face)
        if with_pose:
            body = self.find_pose(rgb)
            if body is not None:
                merge_body(body, faces)
        return faces


def merge_body(body: Observation, faces: list[Observation]) -> None:
    """The pose model sees one person. Its neck-above-shoulders check is its own plausibility test: a face
    with that body under it is verified by a model that shares nothing with the face detectors (a face the
    mesh cannot fit: blurred, turned, a mug before the mouth); a body under no face is a person of its own."""
    heads = [f for f in faces if same_head(body, f)]
    for f in heads:
        f.verified = True
        f.found_by = f.found_by | {"pose"}
    if not heads:
        body.verified = True
        faces.append(body)


def same_head(body: Observation, face: Observation) -> bool:
    """The pose model's head lies within a face box's size of a detected face: one person, not two."""
    size = max(face.box[2] - face.box[0], face.box[3] - face.box[1])
    return math.hypot(body.head_u - face.head_u, body.head_v - face.head_v) < 1.5 * size
