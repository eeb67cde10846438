"""What the simulated camera sees: real photographs of people placed at their bearings in a synthetic room.

The room is a 360-degree cylindrical panorama fixed to the world, so the image shifts as the turntable
turns. Each person is a real photograph (scikit-image's astronaut, matplotlib's Grace Hopper, the
cameraman), cut out with mediapipe's selfie segmentation, scaled with a pinhole camera model so that
the eye-corner span is an adult's 90 mm at their distance, with the head turned in 3D by their facing
angle (a person turned more than 90 degrees away shows the back of a head, never a face). Given the
scene time, a person is alive: the head sways and breathes by a few millimetres (seeded per person), as
a real person sitting still does; a poster (a framed photograph of a face on the wall) never moves.
Called inside the vision process only, so the pixels never exist outside it.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Iterable, Optional

import cv2
import numpy as np

from ..vision.camera_model import CameraModel, wrap_deg
from ..vision.geometry import (EYE_OUTER_SPAN_M, MESH_LEFT_EYE_OUTER, MESH_RIGHT_EYE_OUTER, eye_span_px,
                               head_centre)

CAMERA_HEIGHT_M = 1.0          # camera above the floor: a kitchen counter plus the screen's top edge
EYE_BELOW_TOP = 0.07           # eyes sit this fraction of body height below the top of the head
PANO_PX_PER_DEG = 10.0         # room panorama resolution (a 66-degree view spans 660 columns)
PANO_HALF_HEIGHT = 0.8         # panorama covers heights -0.8..0.8 on the unit cylinder (about +-39 deg)


class PhotoError(ValueError):
    """An unknown photo name (the message lists the known ones)."""


# ---- photographs of people --------------------------------------------------------------------------

def _astronaut() -> np.ndarray:
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def _hopper() -> np.ndarray:
    import matplotlib
    path = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise PhotoError(f"matplotlib's sample photograph is missing: {path}")
    return image


def _cameraman() -> np.ndarray:
    from skimage import data
    return cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR)


PHOTO_SOURCES = {"astronaut": _astronaut, "hopper": _hopper, "cameraman": _cameraman}
PHOTO_ALIASES = {"grace_hopper": "hopper", "camera": "cameraman"}


def photo_names() -> list[str]:
    return sorted(PHOTO_SOURCES) + [n + "_mirror" for n in sorted(PHOTO_SOURCES)]


@dataclass
class Cutout:
    """A person cut from a photograph: BGR, alpha 0..1, where the head's turning axis crosses eye
    height (the point placed at the person's position) and the eye-corner span, in pixels."""
    bgr: np.ndarray
    alpha: np.ndarray
    anchor_x: float
    anchor_y: float
    eye_span_px: float
    key: tuple = ()             # (photo, mirror, back, head yaw): what the pyramid cache is keyed on

    def pyramid_level(self, scale: float) -> tuple["Cutout", float]:
        """A pre-shrunk copy for large reductions (warping alone aliases), and the scale left to apply."""
        level = 0
        while scale * (2 ** (level + 1)) <= 1.0 and level < 4:
            level += 1
        if level == 0:
            return self, scale
        return _shrunk(self.key, level), scale * (2 ** level)


@functools.lru_cache(maxsize=32)
def _shrunk(key: tuple, level: int) -> Cutout:
    base = cutout(*key)
    f = 0.5 ** level
    size = (max(1, round(base.bgr.shape[1] * f)), max(1, round(base.bgr.shape[0] * f)))
    return Cutout(cv2.resize(base.bgr, size, interpolation=cv2.INTER_AREA),
                  cv2.resize(base.alpha, size, interpolation=cv2.INTER_AREA),
                  base.anchor_x * f, base.anchor_y * f, base.eye_span_px * f, key)


def resolve_photo(name: str) -> tuple[str, bool]:
    """'hopper_mirror' -> ('hopper', True); raises PhotoError for an unknown name."""
    mirror = name.endswith("_mirror")
    base = name[: -len("_mirror")] if mirror else name
    base = PHOTO_ALIASES.get(base, base)
    if base not in PHOTO_SOURCES:
        raise PhotoError(f"unknown photo {name!r}; known: {', '.join(photo_names())}")
    return base, mirror


@functools.lru_cache(maxsize=16)
def _analysed(base: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(BGR photo, person alpha, 468x3 face mesh points in photo pixels) of a base photograph.

    mediapipe annotates the photo once: selfie segmentation cuts the person out, and the face mesh
    finds the eyes that fix the photograph's scale in metres.
    """
    import mediapipe as mp
    from ..vision.quiet import native_stderr_silenced
    bgr = PHOTO_SOURCES[base]()
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    with native_stderr_silenced():
        with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
            mask = seg.process(rgb).segmentation_mask.astype(np.float32)
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
            found = mesh.process(rgb).multi_face_landmarks
    if not found:
        raise PhotoError(f"no face found in photograph {base!r}; it cannot be scaled")
    pts = np.array([(p.x * w, p.y * h, p.z * w) for p in found[0].landmark], np.float64)
    # Keep what segmentation is sure of, with a soft edge; fade out the photo's bottom edge so a
    # waist-up portrait does not end in a hard line.
    alpha = np.clip((mask - 0.3) / 0.4, 0.0, 1.0)
    fade = np.clip((h - np.arange(h)) / (0.08 * h), 0.0, 1.0)[:, None]
    # Segmentation also keeps things near the person (a flag, a wall chart): keep only the region
    # connected to the face.
    eyes = ((pts[MESH_RIGHT_EYE_OUTER, :2] + pts[MESH_LEFT_EYE_OUTER, :2]) / 2).astype(int)
    _, labels = cv2.connectedComponents((alpha > 0.5).astype(np.uint8))
    person = (labels == labels[eyes[1], eyes[0]]).astype(np.uint8)
    person = cv2.dilate(person, np.ones((5, 5), np.uint8)).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha * fade * person, (0, 0), 1.0)
    return bgr, alpha.astype(np.float32), pts


HEAD_YAW_STEP_DEG = 5           # turned heads are drawn (and cached) in steps of this many degrees


@functools.lru_cache(maxsize=8)
def _alpha(base: str, flipped: bool) -> np.ndarray:
    alpha = _analysed(base)[1]
    alpha = alpha[:, ::-1].copy() if flipped else alpha
    alpha.setflags(write=False)
    return alpha


@functools.lru_cache(maxsize=96)        # about 1 MB each: a head-turn step per photo and side
def cutout(base: str, mirror: bool, back: bool, head_yaw_deg: int = 0) -> Cutout:
    """The person of a photograph, optionally mirrored, seen from behind (no face), or with the head
    turned by head_yaw_deg (positive: the face turns towards image right, the person's left)."""
    bgr, _, pts = _analysed(base)
    bgr, pts = bgr.copy(), pts.copy()
    flipped = mirror != back            # a back view is the mirror image of the front's silhouette
    alpha = _alpha(base, flipped)       # shared by every head turn (read-only)
    # Before any mirroring: the mesh's left/right landmark labels only make sense on the original.
    axis, span = head_centre(pts), eye_span_px(pts)
    if back:
        bgr = _paint_back_of_head(bgr, _analysed(base)[1], pts)
    if flipped:
        bgr = bgr[:, ::-1].copy()
        pts[:, 0] = bgr.shape[1] - 1 - pts[:, 0]
        axis[0] = bgr.shape[1] - 1 - axis[0]
    if head_yaw_deg and not back:
        bgr = _turn_head(bgr, pts, axis, head_yaw_deg)
    return Cutout(bgr, alpha, float(axis[0]), float(axis[1]), span, (base, mirror, back, head_yaw_deg))


def _turn_head(bgr: np.ndarray, pts: np.ndarray, axis: np.ndarray, yaw_deg: float) -> np.ndarray:
    """Turn the face in 3D: rotate the mesh's 468 points about a vertical axis through the middle of
    the head, then warp each mesh triangle of the photograph to its new place, far ones first.

    The mesh's depth makes the nose swing ahead of the cheeks as a real head's does, so a landmark
    model reads the yaw from the picture. What the face uncovers is painted with its own skin tone.
    """
    from scipy.spatial import Delaunay
    tris = Delaunay(pts[:, :2]).simplices
    cx, cz = float(axis[0]), float(axis[2])
    t = math.radians(yaw_deg)
    new = pts.copy()
    new[:, 0] = cx + (pts[:, 0] - cx) * math.cos(t) - (pts[:, 2] - cz) * math.sin(t)
    new[:, 2] = cz + (pts[:, 0] - cx) * math.sin(t) + (pts[:, 2] - cz) * math.cos(t)
    out = bgr.copy()
    hull = cv2.convexHull(pts[:, :2].astype(np.float32)).astype(np.int32)
    region = np.zeros(bgr.shape[:2], np.uint8)
    cv2.fillConvexPoly(region, hull, 255)
    # What the turning face uncovers is the side of the head: painted in the face's own skin tone.
    skin = np.median(bgr[region > 0], axis=0)
    soft = cv2.GaussianBlur(region.astype(np.float32) / 255.0, (0, 0), 3.0)[..., None]
    out = (out * (1 - soft) + skin[None, None, :] * 0.92 * soft).astype(np.uint8)
    def signed_area(p):
        return (p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[2, 0] - p[0, 0]) * (p[1, 1] - p[0, 1])
    for tri in sorted(tris, key=lambda tr: -new[tr, 2].mean()):      # far triangles first
        src, dst = pts[tri, :2].astype(np.float32), new[tri, :2].astype(np.float32)
        if signed_area(src) * signed_area(dst) <= 0:
            continue                                                  # turned away from the camera
        sx, sy, sw, sh = cv2.boundingRect(src)
        dx, dy, dw, dh = cv2.boundingRect(dst)
        if sw < 1 or sh < 1 or dw < 1 or dh < 1:
            continue
        patch = bgr[sy:sy + sh, sx:sx + sw]
        m = cv2.getAffineTransform(src - np.float32([sx, sy]), dst - np.float32([dx, dy]))
        warped = cv2.warpAffine(patch, m, (dw, dh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        mask = np.zeros((dh, dw), np.uint8)
        cv2.fillConvexPoly(mask, np.round(dst - [dx, dy]).astype(np.int32), 1)
        view = out[dy:dy + dh, dx:dx + dw]
        if view.shape[:2] != mask.shape:
            continue
        view[mask > 0] = warped[mask > 0]
    return out


def _hair_colour(bgr: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Median colour of the band just above the face mesh (hair, or a cap)."""
    face_h = float(np.ptp(pts[:, 1]))
    top, bottom = int(max(0, pts[:, 1].min() - 0.2 * face_h)), int(pts[:, 1].min())
    left, right = int(pts[:, 0].min()), int(pts[:, 0].max())
    band = bgr[top:bottom, left:right].reshape(-1, 3)
    return np.median(band, axis=0) if len(band) else np.array([40.0, 45.0, 55.0])


def _paint_back_of_head(bgr: np.ndarray, alpha: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Cover the whole head with hair of the colour found above the face: the back of a head."""
    hull = cv2.convexHull(pts[:, :2].astype(np.float32)).reshape(-1, 2)
    centre = hull.mean(axis=0)
    face_h = float(np.ptp(pts[:, 1]))
    head = (hull - centre) * 1.15 + centre
    head = np.vstack([head, head[head[:, 1] < centre[1]] - [0, 0.25 * face_h]])   # crown above the brow
    head = cv2.convexHull(head.astype(np.float32)).reshape(-1, 2).astype(np.int32)
    region = np.zeros(bgr.shape[:2], np.uint8)
    cv2.fillPoly(region, [head], 255)
    hair = _hair_colour(bgr, pts)
    rng = np.random.default_rng(7)
    texture = rng.normal(0.0, 10.0, bgr.shape[:2]).astype(np.float32)
    texture = cv2.GaussianBlur(texture, (0, 0), sigmaX=0.6, sigmaY=4.0)          # strands run downward
    painted = np.clip(hair[None, None, :] + texture[..., None], 0, 255).astype(np.uint8)
    soft = cv2.GaussianBlur(region.astype(np.float32) / 255.0, (0, 0), 2.0)[..., None]
    return (bgr * (1 - soft) + painted * soft).astype(np.uint8)


# ---- the room ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RoomBox:
    """An axis-aligned room around the device (metres; +x is world azimuth 0, +y is azimuth 90)."""
    x_min: float = -0.4
    x_max: float = 4.0
    y_min: float = -2.5
    y_max: float = 2.2
    ceiling_m: float = 2.5

    def wall_distance(self, az_rad: np.ndarray) -> np.ndarray:
        c, s = np.cos(az_rad), np.sin(az_rad)
        with np.errstate(divide="ignore"):
            tx = np.where(c > 0, self.x_max / c, np.where(c < 0, self.x_min / c, np.inf))
            ty = np.where(s > 0, self.y_max / s, np.where(s < 0, self.y_min / s, np.inf))
        return np.minimum(tx, ty)


@functools.lru_cache(maxsize=4)
def room_panorama(variant: int = 0) -> np.ndarray:
    """The room as a cylindrical panorama: column = world azimuth (decreasing to the right), row = height."""
    rng = np.random.default_rng(1000 + variant)
    width = int(360 * PANO_PX_PER_DEG)
    px_per_unit = width / (2 * math.pi)
    height = int(2 * PANO_HALF_HEIGHT * px_per_unit)
    room = RoomBox(x_max=rng.uniform(3.5, 5.0), y_max=rng.uniform(1.8, 3.0), y_min=-rng.uniform(1.8, 3.0))
    az = np.radians(-(np.arange(width) + 0.5) / PANO_PX_PER_DEG)
    dist = room.wall_distance(az)
    h_floor = -CAMERA_HEIGHT_M / dist                         # wall meets floor (unit-cylinder height)
    h_ceiling = (room.ceiling_m - CAMERA_HEIGHT_M) / dist
    rows = PANO_HALF_HEIGHT - (np.arange(height) + 0.5) / px_per_unit     # height of each row
    hh = rows[:, None]
    wall_colour = rng.uniform(150, 225, 3)
    pano = np.empty((height, width, 3), np.float32)
    pano[:] = wall_colour
    # Paint texture and a soft vertical light gradient on the walls.
    pano *= (0.85 + 0.15 * np.clip(hh / PANO_HALF_HEIGHT + 0.5, 0, 1))[..., None]
    floor = hh < h_floor[None, :]
    ceiling = hh > h_ceiling[None, :]
    floor_colour = rng.uniform(60, 140, 3)
    planks = np.broadcast_to(0.85 + 0.15 * np.sin(np.arange(width) / 9.0)[None, :], floor.shape)
    pano[floor] = floor_colour[None, :] * planks[floor][:, None]
    pano[ceiling] = rng.uniform(215, 245)
    corners = np.abs(np.diff(np.sign(np.cos(az)) + 2 * np.sign(np.sin(az)), prepend=0)) > 0
    pano[:, corners] *= 0.7
    _add_furniture(pano, rng, dist, px_per_unit)
    pano += rng.normal(0.0, 3.0, pano.shape[:2])[..., None]          # paint and plaster texture
    return np.clip(pano, 0, 255).astype(np.uint8)


def _add_furniture(pano: np.ndarray, rng: np.random.Generator, dist: np.ndarray, px_per_unit: float) -> None:
    """Cabinets, a dark TV, a bright window, a door and framed pictures (real photographs, no people)."""
    from skimage import data
    pictures = [cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR),
                cv2.cvtColor(data.rocket(), cv2.COLOR_RGB2BGR)]
    height, width = pano.shape[:2]

    def rect(az_deg: float, width_m: float, bottom_m: float, top_m: float):
        col = int((-az_deg % 360) * PANO_PX_PER_DEG)
        d = float(dist[col % width])
        half_cols = int(math.degrees(math.atan2(width_m / 2, d)) * PANO_PX_PER_DEG)
        r_top = int((PANO_HALF_HEIGHT - (top_m - CAMERA_HEIGHT_M) / d) * px_per_unit)
        r_bot = int((PANO_HALF_HEIGHT - (bottom_m - CAMERA_HEIGHT_M) / d) * px_per_unit)
        cols = np.arange(col - half_cols, col + half_cols) % width
        return cols, max(0, r_top), min(height, r_bot)

    for _ in range(int(rng.integers(3, 6))):              # cabinets and a sofa along the walls
        cols, r0, r1 = rect(rng.uniform(-180, 180), rng.uniform(0.8, 2.0), 0.0, rng.uniform(0.5, 1.0))
        pano[r0:r1, cols] = rng.uniform(40, 200, 3)
        pano[r0:r0 + 3, cols] *= 0.6
    cols, r0, r1 = rect(rng.uniform(-60, 60), 1.1, 1.0, 1.65)            # a switched-off TV
    pano[r0:r1, cols] = (25, 25, 28)
    cols, r0, r1 = rect(rng.uniform(100, 160) * rng.choice([-1, 1]), 1.2, 0.9, 2.1)   # a window
    pano[r0:r1, cols] = (235, 225, 205)
    cols, r0, r1 = rect(rng.uniform(-170, -120), 0.9, 0.0, 2.05)         # a door
    pano[r0:r1, cols] = rng.uniform(90, 170, 3)
    for pic in pictures:
        cols, r0, r1 = rect(rng.uniform(-180, 180), rng.uniform(0.4, 0.7), 1.3, 1.8)
        if r1 - r0 < 4 or len(cols) < 4:
            continue
        pano[r0:r1, cols] = 30                                          # the frame
        inner = cols[2:-2]
        pano[r0 + 2:r1 - 2, inner] = cv2.resize(pic, (len(inner), r1 - r0 - 4), interpolation=cv2.INTER_AREA)


@functools.lru_cache(maxsize=8)
def _view_maps(width: int, height: int, fx: float, fy: float, cx: float, cy: float):
    """Panorama column offset (at heading 0) and row of every image pixel."""
    x = (np.arange(width, dtype=np.float64) + 0.5 - cx) / fx
    y = (np.arange(height, dtype=np.float64) + 0.5 - cy) / fy
    xx, yy = np.meshgrid(x, y)
    bearing_deg = np.degrees(np.arctan2(-xx, 1.0))
    col = (-bearing_deg * PANO_PX_PER_DEG).astype(np.float32)
    px_per_unit = 360 * PANO_PX_PER_DEG / (2 * math.pi)
    row = ((PANO_HALF_HEIGHT + yy / np.hypot(xx, 1.0)) * px_per_unit).astype(np.float32)
    return col, row


# ---- compositing --------------------------------------------------------------------------------------

def _field(p, name, default=None):
    return p.get(name, default) if isinstance(p, dict) else getattr(p, name, default)


# A seated person's head is never still: slow sway (centimetres over seconds), breathing (a few
# millimetres up and down, and to and fro), small quick corrections. Amplitudes in metres, periods in s.
SWAY = ((0.012, 5.3), (0.005, 2.1))          # sideways
BOB = ((0.004, 3.7), (0.002, 1.3))           # up and down (breathing)
SURGE = ((0.010, 4.4),)                      # to and fro (changes the head's size in the picture)


def micro_motion(key: int, t_s: float) -> tuple[float, float, float]:
    """(sideways, up, towards) head offsets in metres of a living person at scene time t_s;
    the phases are seeded by `key` (the person's id), so each person moves on their own."""
    rng = np.random.default_rng(7919 + int(key))
    phases = rng.uniform(0.0, 2 * math.pi, 8)
    stretch = rng.uniform(0.85, 1.15, 8)          # each person's own rhythm

    def wave(terms, k0):
        return sum(a * math.sin(2 * math.pi * t_s / (p * stretch[k0 + i]) + phases[k0 + i])
                   for i, (a, p) in enumerate(terms))
    return wave(SWAY, 0), wave(BOB, 2), wave(SURGE, 4)


def _place_person(frame: np.ndarray, model: CameraModel, person, heading_deg: float,
                  t_s: Optional[float] = None) -> None:
    p = person
    bearing = wrap_deg(float(_field(p, "azimuth_world_deg")) - heading_deg)
    distance = float(_field(p, "distance_m"))
    rise = 0.0
    if t_s is not None:
        side, rise, toward = micro_motion(int(_field(p, "id", 0)), t_s)
        distance -= toward
        bearing += math.degrees(side / max(distance, 0.2))
    if abs(bearing) >= 80.0 or distance <= 0.2:
        return                                            # behind the camera or inside the device
    base, mirror = resolve_photo(str(_field(p, "photo", "astronaut")))
    facing = wrap_deg(float(_field(p, "facing_deg", 0.0)))
    # Up to 90 degrees the person turns their head (the body stays square to the camera); beyond,
    # they have turned their back.
    back = abs(facing) > 90.0
    yaw = 0 if back else int(round(max(-85.0, min(85.0, facing)) / HEAD_YAW_STEP_DEG) * HEAD_YAW_STEP_DEG)
    eye_height = float(_field(p, "height_m", 1.6)) * (1.0 - EYE_BELOW_TOP) + rise
    u_eye, v_eye, depth = model.project(bearing, distance, eye_height - CAMERA_HEIGHT_M)
    full = cutout(base, mirror, back, yaw)
    metres_per_px = EYE_OUTER_SPAN_M / full.eye_span_px
    c, _ = full.pyramid_level(model.fx * metres_per_px / depth)
    m_per_px = metres_per_px * full.eye_span_px / c.eye_span_px
    # The photograph is a flat board through the eyes, square to the camera at the person's depth.
    h, w = c.bgr.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    k = model.fx * m_per_px / depth
    dst = np.float32([(u_eye + k * (sx - c.anchor_x), v_eye + k * (sy - c.anchor_y) * model.fy / model.fx)
                      for sx, sy in src])
    x0, y0 = np.floor(dst.min(axis=0)).astype(int)
    x1, y1 = np.ceil(dst.max(axis=0)).astype(int)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return
    homography = cv2.getPerspectiveTransform(src, dst - np.float32([fx0, fy0]))
    size = (fx1 - fx0, fy1 - fy0)
    bgr = cv2.warpPerspective(c.bgr, homography, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpPerspective(c.alpha, homography, size, flags=cv2.INTER_LINEAR, borderValue=0)
    roi = frame[fy0:fy1, fx0:fx1]
    roi[:] = cv2.blendLinear(bgr, roi, alpha, 1.0 - alpha)


@functools.lru_cache(maxsize=8)
def _framed(photo: str) -> np.ndarray:
    """A whole photograph (background and all) in a dark frame, as printed and hung on a wall."""
    base, mirror = resolve_photo(photo)
    bgr = _analysed(base)[0]
    bgr = bgr[:, ::-1] if mirror else bgr
    border = max(4, bgr.shape[1] // 30)
    out = cv2.copyMakeBorder(bgr, border, border, border, border, cv2.BORDER_CONSTANT, value=(28, 26, 24))
    out.setflags(write=False)
    return out


def _place_poster(frame: np.ndarray, model: CameraModel, poster, heading_deg: float) -> None:
    """A framed photograph square to the camera at its bearing and distance: it never moves."""
    bearing = wrap_deg(float(_field(poster, "azimuth_world_deg")) - heading_deg)
    distance = float(_field(poster, "distance_m"))
    if abs(bearing) >= 80.0 or distance <= 0.2:
        return
    pic = _framed(str(_field(poster, "photo", "astronaut")))
    h, w = pic.shape[:2]
    width_m = float(_field(poster, "width_m", 0.4))
    height_m = width_m * h / w
    u, v, depth = model.project(bearing, distance, float(_field(poster, "height_m", 1.5)) - CAMERA_HEIGHT_M)
    k = model.fx * width_m / w / depth                    # frame pixels per picture pixel
    x0, y0 = u - k * w / 2, v - k * h / 2 * model.fy / model.fx
    fx0, fy0 = max(int(math.floor(x0)), 0), max(int(math.floor(y0)), 0)
    fx1 = min(int(math.ceil(x0 + k * w)), frame.shape[1])
    fy1 = min(int(math.ceil(y0 + k * h * model.fy / model.fx)), frame.shape[0])
    if fx1 <= fx0 or fy1 <= fy0 or height_m <= 0:
        return
    src = pic
    while k * 2 <= 1.0 and min(src.shape[:2]) > 8:      # shrink in steps first: warping alone aliases
        src, k = cv2.resize(src, (src.shape[1] // 2, src.shape[0] // 2), interpolation=cv2.INTER_AREA), k * 2
    m = np.float32([[k, 0, x0 - fx0], [0, k * model.fy / model.fx, y0 - fy0]])
    size = (fx1 - fx0, fy1 - fy0)
    warped = cv2.warpAffine(src, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inside = cv2.warpAffine(np.ones(src.shape[:2], np.float32), m, size, flags=cv2.INTER_LINEAR)
    roi = frame[fy0:fy1, fx0:fx1]
    roi[:] = cv2.blendLinear(warped, roi, inside, 1.0 - inside)


def render_frame(people: Iterable, heading_deg: float, hfov_deg: float = 66.0, width: int = 640,
                 height: int = 480, lighting: float = 1.0, seed: int = 0, room: int = 0,
                 motion_blur_px: float = 0.0, model: Optional[CameraModel] = None,
                 posters: Iterable = (), t_s: Optional[float] = None) -> np.ndarray:
    """One BGR camera frame of the simulated room.

    people: SimPerson structs or dicts with azimuth_world_deg, distance_m (horizontal, metres),
    height_m, facing_deg (0 = facing the device) and photo. heading_deg: world azimuth of the screen
    normal. lighting: 1.0 normal, lower is darker (and noisier). seed: sensor noise of this frame.
    room: which synthetic room. motion_blur_px: horizontal smear (the turntable turning during exposure).
    posters: SimPoster structs or dicts (azimuth_world_deg, distance_m, height_m, width_m, photo).
    t_s: scene time; given, people show a living head's micro-motion (`micro_motion`, keyed by their id).
    """
    model = model or CameraModel.from_hfov(width, height, hfov_deg)
    col, row = _view_maps(model.width, model.height, model.fx, model.fy, model.cx, model.cy)
    pano = room_panorama(room)
    shift = (-heading_deg % 360.0) * PANO_PX_PER_DEG
    map_x = col + np.float32(shift)
    np.remainder(map_x, pano.shape[1], out=map_x)
    frame = cv2.remap(pano, map_x, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    for poster in posters:                                # on the walls, behind everyone
        _place_poster(frame, model, poster, heading_deg)
    order = sorted(people, key=lambda p: -float(_field(p, "distance_m")))   # far first, near on top
    for person in order:
        _place_person(frame, model, person, heading_deg, t_s)
    if motion_blur_px >= 1.0:
        k = int(round(motion_blur_px)) | 1
        frame = cv2.blur(frame, (k, 1))
    light = max(0.02, float(lighting))
    noise_sigma = 1.5 / math.sqrt(light)                  # less light, more gain, more noise
    cv2.setRNGSeed(int(seed) & 0x7FFFFFFF)
    noise = np.empty(frame.shape[:2], np.int16)
    cv2.randn(noise, 0.0, noise_sigma)
    dimmed = cv2.convertScaleAbs(frame, alpha=light).astype(np.int16)
    return cv2.add(dimmed, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U)
