"""Pictures the simulator never shows, for the vision benchmark and tests: LFW heads, round and animal decoys, posters.

Sources (all shipped inside installed wheels, nothing downloaded):
- scikit-image's `lfw_subset`: 100 face crops (25x25, grey) of 100 different people from Labeled Faces in
  the Wild: many ages, skin tones, glasses, beards, expressions. Drawn as heads without bodies.
- scikit-image's other photographs as decoys: coins, the moon, a clock, a retina (round and textured),
  the Shepp-Logan head phantom (a head-shaped disc), the Hubble deep field, a cat, a horse, a cup of
  coffee, a rocket.
Each kind is split into a tuning half (what thresholds were chosen on) and a report half (never looked
at while tuning): different people, different objects.
"""
from __future__ import annotations

import functools
import math
import os
from typing import Optional

import cv2
import numpy as np

from device.sim.camera_render import CAMERA_HEIGHT_M, micro_motion
from device.vision.camera_model import CameraModel

EYE_SPAN_M = 0.090                  # outer eye corners of an adult
# Measured once with the face mesh on the 8x enlarged crops (94 of 100 fitted): the outer eye corners
# span 0.494 of an LFW crop's width, and their midpoint sits at (0.43, 0.35) of it.
LFW_EYE_SPAN = 0.494
LFW_EYES_AT = (0.43, 0.35)
TUNING_LFW = tuple(range(0, 50))
REPORT_LFW = tuple(range(50, 100))
# Tones to tint the grey LFW crops with (B, G, R gains), light to dark: a grey photograph carries the
# face's shading, the tint gives the skin a colour a detector might react to.
SKIN_TONES = ((0.93, 1.00, 1.08), (0.78, 0.90, 1.02), (0.62, 0.75, 0.92), (0.45, 0.58, 0.78),
              (0.32, 0.42, 0.60), (0.24, 0.31, 0.45))


@functools.lru_cache(maxsize=1)
def _lfw() -> np.ndarray:
    from skimage import data
    path = os.path.join(os.path.dirname(data.__file__), "lfw_subset.npy")
    return np.load(path)[:100]                          # the first 100 are faces, the rest are not


def lfw_head(index: int, tone: int = 0, crop: str = "") -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """(BGR, alpha, eye-midpoint x, y, eye span) in the patch's pixels, of LFW face `index` tinted with
    SKIN_TONES[tone]. crop: "" whole, "top" (forehead and eyes cut off above the brows), "side" (the
    left third missing), "low" (everything below the nose missing): partial crops."""
    grey = (_lfw()[index] * 255).astype(np.float32)
    scale = 8                                             # enlarge once, smoothly; placement shrinks it
    big = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    gain = np.array(SKIN_TONES[tone % len(SKIN_TONES)], np.float32)
    bgr = np.clip(big[..., None] * gain[None, None, :], 0, 255).astype(np.uint8)
    n = big.shape[0]
    yy, xx = np.mgrid[:n, :n].astype(np.float32)
    # A soft oval the size of the crop: a head without a body, on whatever is behind it.
    r = np.hypot((xx - n / 2) / (0.50 * n), (yy - n * 0.52) / (0.56 * n))
    alpha = np.clip((1.0 - r) * 8.0, 0.0, 1.0)
    if crop == "top":
        alpha[: int(0.28 * n)] = 0.0
    elif crop == "side":
        alpha[:, : int(0.30 * n)] = 0.0
    elif crop == "low":
        alpha[int(0.62 * n):] = 0.0
    return bgr, alpha.astype(np.float32), LFW_EYES_AT[0] * n, LFW_EYES_AT[1] * n, LFW_EYE_SPAN * n


def place_patch(frame: np.ndarray, model: CameraModel, bgr: np.ndarray, alpha: np.ndarray, anchor_x: float,
                anchor_y: float, px_per_m: float, bearing_deg: float, distance_m: float, height_m: float) -> None:
    """Draw a flat picture square to the camera so that its anchor lies at a bearing, horizontal
    distance and height above the floor; px_per_m: the picture's pixels per metre of the real thing."""
    u, v, depth = model.project(bearing_deg, distance_m, height_m - CAMERA_HEIGHT_M)
    k = model.fx / depth / px_per_m                      # frame pixels per picture pixel
    src, a = bgr, alpha
    while k * 2 <= 1.0 and min(src.shape[:2]) > 8:     # shrink in steps first: warping alone aliases
        src = cv2.resize(src, (src.shape[1] // 2, src.shape[0] // 2), interpolation=cv2.INTER_AREA)
        a = cv2.resize(a, (a.shape[1] // 2, a.shape[0] // 2), interpolation=cv2.INTER_AREA)
        k, anchor_x, anchor_y = k * 2, anchor_x / 2, anchor_y / 2
    h, w = src.shape[:2]
    x0, y0 = u - k * anchor_x, v - k * anchor_y
    fx0, fy0 = max(int(math.floor(x0)), 0), max(int(math.floor(y0)), 0)
    fx1, fy1 = min(int(math.ceil(x0 + k * w)), frame.shape[1]), min(int(math.ceil(y0 + k * h)), frame.shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return
    m = np.float32([[k, 0, x0 - fx0], [0, k, y0 - fy0]])
    size = (fx1 - fx0, fy1 - fy0)
    warped = cv2.warpAffine(src, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    wa = cv2.warpAffine(a, m, size, flags=cv2.INTER_LINEAR, borderValue=0)
    roi = frame[fy0:fy1, fx0:fx1]
    roi[:] = cv2.blendLinear(warped, roi, wa, 1.0 - wa)


def place_head(frame: np.ndarray, model: CameraModel, head, bearing_deg: float, distance_m: float,
               eye_height_m: float, t_s: Optional[float] = None, key: int = 0) -> None:
    """An LFW head (from `lfw_head`) with its eyes at a bearing, distance and height; given the scene
    time it moves as a living head does (the simulator's `micro_motion`), else it is a rigid print."""
    bgr, alpha, ex, ey, span = head
    if t_s is not None:
        side, rise, toward = micro_motion(key, t_s)
        distance_m -= toward
        eye_height_m += rise
        bearing_deg += math.degrees(side / max(distance_m, 0.2))
    place_patch(frame, model, bgr, alpha, ex, ey, span / EYE_SPAN_M, bearing_deg, distance_m, eye_height_m)


def _bgr(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR)


def _disc(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest centred disc of an image (a coin, the moon) on nothing."""
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    yy, xx = np.mgrid[:s, :s]
    alpha = np.clip((s / 2 - np.hypot(xx - s / 2, yy - s / 2)) / 1.5, 0, 1).astype(np.float32)
    return np.ascontiguousarray(img), alpha


def _framed(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = max(3, img.shape[1] // 30)
    out = cv2.copyMakeBorder(img, b, b, b, b, cv2.BORDER_CONSTANT, value=(30, 28, 26))
    return out, np.ones(out.shape[:2], np.float32)


@functools.lru_cache(maxsize=1)
def decoys() -> dict[str, tuple[str, np.ndarray, np.ndarray, float]]:
    """name -> (set, BGR, alpha, real width in metres): things that are not people."""
    from skimage import data
    coins = data.coins()
    moon = data.moon()
    out = {
        # tuning half
        "head phantom": ("tuning", *_disc(_bgr(data.shepp_logan_phantom())), 0.35),
        "coin": ("tuning", *_disc(_bgr(coins[8:92, 238:322])), 0.12),
        "moon disc": ("tuning", *_disc(_bgr(moon[60:360, 80:380])), 0.40),
        "cat": ("tuning", *_framed(_bgr(data.chelsea())), 0.50),
        "coffee": ("tuning", *_framed(_bgr(data.coffee())), 0.45),
        # report half
        "another coin": ("report", *_disc(_bgr(coins[158:252, 148:242])), 0.14),
        "another moon disc": ("report", *_disc(_bgr(moon[200:500, 180:480])), 0.35),
        "clock": ("report", *_disc(_bgr(data.clock())), 0.30),
        "retina": ("report", *_disc(_bgr(data.retina())), 0.35),
        "deep field": ("report", *_framed(_bgr(data.hubble_deep_field())), 0.50),
        "horse": ("report", *_framed(_bgr(data.horse())), 0.45),
        "rocket": ("report", *_framed(_bgr(data.rocket())), 0.40),
        "cat, close": ("report", *_disc(_bgr(data.chelsea()[20:280, 100:360])), 0.30),
    }
    return out


def place_decoy(frame: np.ndarray, model: CameraModel, name: str, bearing_deg: float, distance_m: float,
                height_m: float) -> None:
    _, bgr, alpha, width_m = decoys()[name]
    h, w = bgr.shape[:2]
    place_patch(frame, model, bgr, alpha, w / 2, h / 2, w / width_m, bearing_deg, distance_m, height_m)


def plain_wall(width: int = 640, height: int = 480, colour=(196, 204, 210), seed: int = 0) -> np.ndarray:
    """A plain painted wall filling the view, with a camera's sensor noise."""
    rng = np.random.default_rng(seed)
    wall = np.empty((height, width, 3), np.float32)
    wall[:] = colour
    wall *= np.linspace(1.04, 0.92, height, dtype=np.float32)[:, None, None]   # light from above
    wall += rng.normal(0.0, 2.0, (height, width, 1)).astype(np.float32)
    return np.clip(wall, 0, 255).astype(np.uint8)


def poster_of_head(frame: np.ndarray, model: CameraModel, head, bearing_deg: float, distance_m: float,
                   eye_height_m: float) -> None:
    """An LFW face printed life size in a frame and hung on the wall: perfectly rigid."""
    bgr, alpha, ex, ey, span = head
    b = int(0.12 * bgr.shape[1])
    framed = cv2.copyMakeBorder(bgr, b, b, b, b, cv2.BORDER_CONSTANT, value=(30, 28, 26))
    place_patch(frame, model, framed, np.ones(framed.shape[:2], np.float32), ex + b, ey + b, span / EYE_SPAN_M,
                bearing_deg, distance_m, eye_height_m)
