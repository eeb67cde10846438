"""Landmark geometry: head yaw and pitch, engagement, and distance from anthropometric spans."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

# Adult anthropometry (population means). Distances are only as good as these spans; a child or a
# wide-set face reads farther or nearer by the ratio of its span to these.
EYE_OUTER_SPAN_M = 0.090        # outer eye corners (face mesh 33 and 263; biocular breadth)
PUPIL_SPAN_M = 0.063            # interpupillary distance (face detection's eye keypoints)
SHOULDER_SPAN_M = 0.35          # shoulder joint centres (pose landmarks 11 and 12)

# Face mesh indices (MediaPipe's canonical 468-point topology).
MESH_RIGHT_EYE_OUTER = 33       # the subject's right eye: image left when they face the camera
MESH_LEFT_EYE_OUTER = 263
MESH_FOREHEAD = 10
MESH_CHIN = 152
MESH_NOSE_TIP = 1
# The points published per face: eyes, brows, nose, mouth, jaw outline (a sketch, never a picture).
MESH_PUBLISHED = (33, 133, 362, 263, 70, 300, 1, 4, 61, 291, 13, 14, 152, 10, 234, 454,
                  172, 397, 58, 288, 168, 6)
# Pose indices.
POSE_NOSE, POSE_LEFT_EYE, POSE_RIGHT_EYE, POSE_LEFT_EAR, POSE_RIGHT_EAR = 0, 2, 5, 7, 8
POSE_LEFT_EYE_OUTER, POSE_RIGHT_EYE_OUTER = 3, 6
POSE_LEFT_SHOULDER, POSE_RIGHT_SHOULDER = 11, 12
POSE_MIN_NECK_PER_SHOULDER = 0.4     # eyes above the shoulder line, in shoulder widths (people: ~0.6)
POSE_PUBLISHED = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24)

# The mesh's forehead-chin line leans back about 10 degrees from the plane of the eyes and mouth, so
# a face looking straight at the camera reads this pitch; it is removed.
MESH_PITCH_BIAS_DEG = -10.0

# Engagement falls to one half at about 30 degrees of yaw (or 24 of pitch) away from the camera.
ENGAGEMENT_SIGMA_YAW_DEG = 25.0
ENGAGEMENT_SIGMA_PITCH_DEG = 20.0


def head_pose_from_mesh(points_px: np.ndarray) -> tuple[float, float]:
    """(yaw_deg, pitch_deg) of a face from its 3D mesh landmarks in pixel units (x right, y down, z away).

    Yaw is positive when the face turns towards image right, pitch positive when it tilts up; both
    are zero for a face looking straight down the line of sight.
    """
    across = points_px[MESH_LEFT_EYE_OUTER] - points_px[MESH_RIGHT_EYE_OUTER]
    down = points_px[MESH_CHIN] - points_px[MESH_FOREHEAD]
    # Orthogonalize so a long or short face does not bias the normal.
    across = across / (np.linalg.norm(across) + 1e-9)
    down = down - across * float(down @ across)
    down = down / (np.linalg.norm(down) + 1e-9)
    toward_camera = -np.cross(across, down)           # across x down points away from the viewer
    yaw = math.degrees(math.atan2(toward_camera[0], -toward_camera[2]))
    pitch = math.degrees(math.atan2(-toward_camera[1], math.hypot(toward_camera[0], toward_camera[2])))
    return yaw, pitch - MESH_PITCH_BIAS_DEG


# The nose tip stands about 0.55 eye-spacings in front of the eyes' plane, so turning the head by
# yaw moves it sideways from the eyes' midpoint by 0.55 * tan(yaw) of the (foreshortened) eye spacing.
NOSE_DEPTH_PER_EYE_SPAN = 0.55


def yaw_from_keypoints(right_eye, left_eye, nose) -> float:
    """Head yaw (deg, positive towards image right) from face detection's eye and nose keypoints."""
    dx, dy = left_eye[0] - right_eye[0], left_eye[1] - right_eye[1]
    span = math.hypot(dx, dy)
    if span < 1e-6:
        return 90.0
    mid = ((left_eye[0] + right_eye[0]) / 2, (left_eye[1] + right_eye[1]) / 2)
    offset = ((nose[0] - mid[0]) * dx + (nose[1] - mid[1]) * dy) / span     # along the eye line
    return math.degrees(math.atan2(offset / span, NOSE_DEPTH_PER_EYE_SPAN))


# The head turns about a vertical axis about 9 cm behind the eyes (through the neck), so a turned
# face swings sideways; a person's position is that axis at eye height, not the eyes themselves.
HEAD_AXIS_BEHIND_EYES_M = 0.09


def head_centre(points_px: np.ndarray) -> np.ndarray:
    """3D point (pixel units) on the head's turning axis at eye height, from the mesh landmarks."""
    across = points_px[MESH_LEFT_EYE_OUTER] - points_px[MESH_RIGHT_EYE_OUTER]
    down = points_px[MESH_CHIN] - points_px[MESH_FOREHEAD]
    across_u = across / (np.linalg.norm(across) + 1e-9)
    down = down - across_u * float(down @ across_u)
    toward_camera = -np.cross(across_u, down / (np.linalg.norm(down) + 1e-9))
    eyes = (points_px[MESH_LEFT_EYE_OUTER] + points_px[MESH_RIGHT_EYE_OUTER]) / 2
    behind_px = HEAD_AXIS_BEHIND_EYES_M * eye_span_px(points_px) / EYE_OUTER_SPAN_M
    return eyes - toward_camera * behind_px


def engagement_from_pose(yaw_deg: float, pitch_deg: float) -> float:
    """0..1: how squarely a head faces the camera (1 = straight at it)."""
    q = (yaw_deg / ENGAGEMENT_SIGMA_YAW_DEG) ** 2 + (pitch_deg / ENGAGEMENT_SIGMA_PITCH_DEG) ** 2
    return float(math.exp(-0.5 * q))


def eye_span_px(points_px: np.ndarray) -> float:
    """3D distance between the outer eye corners in pixels: the mesh's depth undoes head yaw."""
    return float(np.linalg.norm(points_px[MESH_LEFT_EYE_OUTER] - points_px[MESH_RIGHT_EYE_OUTER]))


def range_from_span(span_px: float, span_m: float, focal_px: float) -> Optional[float]:
    """Depth along the optical axis of an object whose known width span_m spans span_px pixels."""
    if span_px <= 1e-6:
        return None
    return focal_px * span_m / span_px


def ground_distance(depth_m: float, bearing_deg: float) -> float:
    """Horizontal distance from the camera of a point at this optical-axis depth, bearing and elevation."""
    # For the ray (x, y, 1): horizontal distance = depth * sqrt(1 + x^2) = depth / cos(bearing),
    # whatever the elevation.
    return depth_m / max(math.cos(math.radians(bearing_deg)), 1e-3)
