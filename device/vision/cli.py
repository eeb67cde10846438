"""`swivel vision detect IMAGE`: run the device's vision pipeline on one photograph, offline."""
from __future__ import annotations

import argparse
import json
import os

from ..errors import UserError


def add_parser(subparsers) -> None:
    vision = subparsers.add_parser("vision", help="vision tools (offline)")
    sub = vision.add_subparsers(dest="vision_command", required=True, metavar="TOOL")
    p = sub.add_parser("detect", help="find people in an image: bearing, elevation, distance, engagement")
    p.add_argument("image", metavar="IMAGE", help="a photograph (any format OpenCV reads)")
    p.add_argument("--hfov", type=float, default=66.0, metavar="DEG",
                   help="horizontal field of view of the camera that took it (default 66)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_detect)


def load_image(path: str):
    """BGR pixels of an image file, or a UserError that says what is wrong with it."""
    import cv2
    if not os.path.exists(path):
        raise UserError(f"image {path} does not exist")
    if os.path.isdir(path):
        raise UserError(f"image {path} is a directory, not an image file")
    if not os.access(path, os.R_OK):
        raise UserError(f"image {path} cannot be read (permission denied)")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"{path} is not an image OpenCV can read")
    return image


def detect_people(image_bgr, hfov_deg: float, detector=None) -> list:
    """Every person in a still image: all zoom regions and the cascade, checked by a second model,
    plus the pose model."""
    import cv2
    import numpy as np
    from .camera_model import CameraModel
    from .detector import Detector, cascade_regions, zoom_regions
    from .people import estimate
    h, w = image_bgr.shape[:2]
    model = CameraModel.from_hfov(w, h, hfov_deg)
    own = detector is None
    detector = Detector() if own else detector
    try:
        rgb = np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        observations = detector.observe(rgb, zoom_regions(w, h) + cascade_regions(w, h), with_pose=True)
        rgb.fill(0)
    finally:
        if own:
            detector.close()
    # A face only one model saw (a coin, a head-shaped disc) is not reported as a person.
    people = [estimate(o, model) for o in observations if o.verified]
    return sorted(people, key=lambda p: -p.bearing_deg)


def cmd_detect(args: argparse.Namespace) -> int:
    if not 1.0 <= args.hfov < 179.0:
        raise UserError(f"--hfov must be between 1 and 179 degrees, got {args.hfov:g}")
    from .quiet import native_stderr_silenced
    with native_stderr_silenced():
        image = load_image(args.image)
        people = detect_people(image, args.hfov)
    image.fill(0)
    if args.json:
        print(json.dumps({"people": [p.as_dict() for p in people]}))
        return 0
    if not people:
        print("nobody found")
        return 0
    print(f"{'bearing':>8} {'elev':>6} {'dist m':>7} {'engaged':>8} {'conf':>5}  seen by")
    for p in people:
        print(f"{p.bearing_deg:8.1f} {p.elevation_deg:6.1f} {p.distance_m:7.2f} {p.engagement:8.2f} "
              f"{p.confidence:5.2f}  {p.source}")
    return 0
