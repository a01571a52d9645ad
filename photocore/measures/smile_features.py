"""What a smile changes in one face, as the numbers the smile model (``expression.py``) reads.

Why these: a smile draws the mouth corners up and out, bends the line where the lips meet
and stretches them thin; the cheeks rise and lift the lower lids; a broad smile shows teeth.
People differ in all of these at rest, so no single one separates a closed-mouth smile from
a mouth that turns up by nature; together they do better. Geometry comes from the mesh; the
teeth from a small upright grey crop of the lower face at a fixed scale, so neither the
capture's resolution nor the cost depends on the camera. Lengths are in inter-iris
distances (IED); image y grows downwards.

Left out on evidence: the depth of the nasolabial fold found more of the London smiles (42
of 51 against 38), but older and bearded faces have deep folds at rest, and with it 8 of the
14 neutral Yale faces failed; the mesh's depth of the mouth corners is inferred from shading
and moved with the light on one unchanged face (Yale subject 02).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..analysis import landmarks as L

FEATURES = ("mouth_width", "corner_lift", "mouth_curve", "corner_height", "lip_thickness", "cheek_depth",
            "lower_lid", "teeth", "mouth_open")

PX = 56  # crop pixels per IED: teeth show as a band a few pixels tall; the crop is 112 x 78
CROP_X, CROP_TOP, CROP_BOTTOM = 1.0, 0.1, 1.5  # crop edges in IED from the iris midpoint: inside the face oval
_UPPER_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
_LOWER_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
_CHEEK_SKIN = ([205, 50, 118, 119, 47, 142, 203], [425, 280, 347, 348, 277, 371, 423])  # below each eye
_CHEEK_APPLES = [205, 425, 50, 280]
_MIDLINE_DEPTH = [168, 6]  # between the eyes: the depth reference
_LOWER_LIDS = [L.RIGHT_EYE_LOWER, L.LEFT_EYE_LOWER]


def features(analysis) -> dict[str, float] | None:
    """The smile features of the main face, or None when the lower face lies outside the image."""
    right, left = analysis.right_iris, analysis.left_iris
    ied = analysis.inter_eye
    if ied < 1e-6:
        return None
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    c, s = math.cos(angle), math.sin(angle)
    level = np.array([[c, s], [-s, c]]) / ied  # image -> eye line level, IED units, origin at the iris midpoint
    q = (analysis.landmarks[:, :2] - analysis.eye_mid) @ level.T
    z = analysis.landmarks[:, 2] / ied
    image = _crop(analysis, level)
    if image is None:
        return None
    width = float(np.linalg.norm(q[L.MOUTH_LEFT] - q[L.MOUTH_RIGHT]))
    corners_y = (q[L.MOUTH_LEFT, 1] + q[L.MOUTH_RIGHT, 1]) / 2
    closure = (q[_UPPER_INNER] + q[_LOWER_INNER]) / 2  # where the lips meet
    cheeks = _mask(image, *(_to_crop(q[side]) for side in _CHEEK_SKIN))
    skin = float(np.median(image[cheeks] if cheeks.any() else image)) + 1.0
    return {
        "mouth_width": width / float(np.linalg.norm(q[L.LEFT_EYE_OUTER] - q[L.RIGHT_EYE_OUTER])),
        "corner_lift": float((q[L.UPPER_LIP_OUTER, 1] + q[L.LOWER_LIP_OUTER, 1]) / 2 - corners_y),
        "mouth_curve": _curvature(closure, width),
        "corner_height": float(corners_y),
        "lip_thickness": float(q[L.LOWER_LIP_OUTER, 1] - q[L.UPPER_LIP_OUTER, 1]) / max(width, 1e-6),
        "cheek_depth": float(z[_CHEEK_APPLES].mean() - z[_MIDLINE_DEPTH].mean()),
        "lower_lid": float(q[_LOWER_LIDS, 1].mean()),
        "teeth": math.log1p(100 * _bright_share(image, _to_crop(q[L.MOUTH_INNER_CONTOUR]), 0.95 * skin)),
        "mouth_open": math.log1p(20 * analysis.mouth_openness),
    }


def _to_crop(points: np.ndarray) -> np.ndarray:
    """Level IED units -> pixels of the upright crop."""
    return (points - [-CROP_X, CROP_TOP]) * PX


def _crop(analysis, level: np.ndarray) -> np.ndarray | None:
    """The lower face, upright at ``PX`` pixels per IED (float32 grey), or None if outside the image.

    Shrinks by area averaging first (a plain warp would sample single pixels of a large
    capture), then rotates: both on the crop's bounding box only.
    """
    height, width = analysis.image.shape[:2]
    corners = np.array([[x, y] for x in (-CROP_X, CROP_X) for y in (CROP_TOP, CROP_BOTTOM)])
    to_image = np.linalg.inv(level)
    box = corners @ to_image.T + analysis.eye_mid
    x0, y0 = np.maximum(np.floor(box.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(box.max(0)).astype(int) + 1, (width, height))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    grey = analysis.grey_at(slice(y0, y1), slice(x0, x1))
    shrink = min(1.0, PX / analysis.inter_eye)
    if shrink < 1.0:
        grey = cv2.resize(grey, (max(2, round(grey.shape[1] * shrink)), max(2, round(grey.shape[0] * shrink))),
                          interpolation=cv2.INTER_AREA)
    sx, sy = grey.shape[1] / (x1 - x0), grey.shape[0] / (y1 - y0)
    # crop pixels -> pixels of the shrunk bounding box: the inverse of _to_crop, then of ``level``
    inverse = np.zeros((2, 3))
    inverse[:, :2] = np.diag([sx, sy]) @ to_image / PX
    inverse[:, 2] = np.diag([sx, sy]) @ (to_image @ [-CROP_X, CROP_TOP] + analysis.eye_mid - [x0, y0])
    size = (round(2 * CROP_X * PX), round((CROP_BOTTOM - CROP_TOP) * PX))
    upright = cv2.warpAffine(np.ascontiguousarray(grey), inverse, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)
    return upright.astype(np.float32)


def _curvature(points: np.ndarray, width: float) -> float:
    """How far the line through ``points`` bends up at its ends: the quadratic term of a fit
    over half-widths (positive: a U, corners higher than the middle)."""
    half = max(width / 2, 1e-6)
    x = (points[:, 0] - points[:, 0].mean()) / half
    return float(-np.polyfit(x, points[:, 1] / half, 2)[0])


def _mask(image: np.ndarray, *polygons: np.ndarray) -> np.ndarray:
    mask = np.zeros(image.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in polygons], (1,))
    return mask.astype(bool)


def _bright_share(image: np.ndarray, polygon: np.ndarray, level: float) -> float:
    """Pixels inside ``polygon`` brighter than ``level``, per square IED: teeth between parted lips."""
    return float(np.count_nonzero(image[_mask(image, polygon)] > level)) / PX ** 2

