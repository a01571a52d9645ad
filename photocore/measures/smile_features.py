"""What a smile changes in one face, as the numbers the smile model (``expression.py``) reads.

Why these: a smile draws the mouth corners up and out, bends the line where the lips meet
and stretches the lips thin; the corners rise between the nose and the chin; the cheeks
rise, which lifts the lower lids, deepens the fold that runs from the nose wing past the
mouth corner and rounds the skin below and beside the corner; a broad smile shows teeth.
People differ in all of these at rest, so no single one separates a closed-mouth smile from
a mouth that turns up by nature; together they do better. Geometry comes from the mesh; the
appearance (the fold, the teeth) from a small upright grey crop of the lower face at a fixed
scale, so neither the capture's resolution nor the cost depends on the camera. Lengths are
in inter-iris distances (IED); image y grows downwards.

The fold is read as a contrast of brightness at mesh points, not as an edge: the skin
between the fold and the jaw beside the mouth corner (``_BULGE``) against the fold itself
and the upper lip's corners (``_FOLD``), over the cheek skin's level. Both sit on the same
anatomy in every face, so the light and the skin tone largely cancel, and a fold that is
deep at rest darkens one side only. For 49 of the 51 London people the contrast is larger
in the smiling photo than in the neutral one.

Left out on evidence: the mesh's depth of the cheeks against the nose bridge (the former
``cheek_depth``) follows the head's pitch (correlation 0.98 with the pose's pitch over the
51 London neutral faces), so it made a raised chin look like a smile; the depth of the
nasolabial fold as an edge (a valley across the fold) found 42 of the 51 London smiles
(then 38) but failed 8 of the 14 neutral Yale faces, whose older and bearded faces have
deep folds at rest; the mesh's depth of the mouth corners is inferred from shading and
moved with the light on one unchanged face (Yale subject 02); the eye opening found one
more London smile but failed both neutral photos of Yale subject 06: how open eyes are at
rest differs between people and peoples far more than a smile narrows them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..analysis import Analysis
from ..analysis import landmarks as L

FEATURES = ("mouth_width", "corner_lift", "mouth_curve", "corner_height", "corner_level", "lip_thickness",
            "lip_height", "fold_contrast", "cheek_height", "lower_lid", "teeth", "mouth_open")

PX = 56  # crop pixels per IED: teeth show as a band a few pixels tall; the crop is 112 x 78
CROP_X, CROP_TOP, CROP_BOTTOM = 1.0, 0.1, 1.5  # crop edges in IED from the iris midpoint: inside the face oval
_UPPER_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
_LOWER_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
_CHEEK_SKIN = ([205, 50, 118, 119, 47, 142, 203], [425, 280, 347, 348, 277, 371, 423])  # below each eye
_CHEEK_APPLES = [205, 425, 50, 280]  # the round of each cheek, below the eye
_LOWER_LIDS = [L.RIGHT_EYE_LOWER, L.LEFT_EYE_LOWER]
_SUBNASALE = 2  # where the nose meets the upper lip
_VERMILION = [(0, 13), (37, 82), (267, 312), (17, 14), (84, 87), (314, 317)]  # (outer, inner) edge; upper, lower
_FOLD = [203, 206, 423, 426, 92, 322, 165, 391, 186, 410]  # the fold by each nose wing; the upper lip's corners
_BULGE = [422, 432, 212, 202, 424, 204]  # the skin beside and below each mouth corner
BLUR = 2.0  # crop pixels: the fold is read at a scale of a few hundredths of an IED, not in pores


def features(analysis: Analysis) -> dict[str, float] | None:
    """The smile features of the main face, or None when the lower face lies outside the image."""
    right, left = analysis.right_iris, analysis.left_iris
    ied = analysis.inter_eye
    if ied < 1e-6:
        return None
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    c, s = math.cos(angle), math.sin(angle)
    level = np.array([[c, s], [-s, c]]) / ied  # image -> eye line level, IED units, origin at the iris midpoint
    q = (analysis.mesh[:, :2] - analysis.eye_mid) @ level.T
    image = _crop(analysis, level)
    if image is None:
        return None
    width = float(np.linalg.norm(q[L.MOUTH_LEFT] - q[L.MOUTH_RIGHT]))
    corners_y = (q[L.MOUTH_LEFT, 1] + q[L.MOUTH_RIGHT, 1]) / 2
    closure = (q[_UPPER_INNER] + q[_LOWER_INNER]) / 2  # where the lips meet
    cheeks = _mask(image, *(_to_crop(q[side]) for side in _CHEEK_SKIN))
    skin = float(np.median(image[cheeks] if cheeks.any() else image)) + 1.0
    vermilion = np.array([q[inner, 1] - q[outer, 1] for outer, inner in _VERMILION])
    vermilion[3:] *= -1  # the lower lip's red lies below its inner edge
    lower_face = float(q[L.CHIN, 1] - q[_SUBNASALE, 1])
    shading = _sample(image, _to_crop(q[_FOLD + _BULGE]))
    fold, bulge = float(shading[:len(_FOLD)].mean()), float(shading[len(_FOLD):].mean())
    return {
        "mouth_width": width / float(np.linalg.norm(q[L.LEFT_EYE_OUTER] - q[L.RIGHT_EYE_OUTER])),
        "corner_lift": float((q[L.UPPER_LIP_OUTER, 1] + q[L.LOWER_LIP_OUTER, 1]) / 2 - corners_y),
        "mouth_curve": _curvature(closure, width),
        "corner_height": float(corners_y),
        "corner_level": float(corners_y - q[_SUBNASALE, 1]) / max(lower_face, 1e-6),
        "lip_thickness": float(q[L.LOWER_LIP_OUTER, 1] - q[L.UPPER_LIP_OUTER, 1]) / max(width, 1e-6),
        "lip_height": float(vermilion[:3].mean() + vermilion[3:].mean()) / max(width, 1e-6),
        "fold_contrast": (bulge - fold) / skin,
        "cheek_height": float(q[_CHEEK_APPLES, 1].mean()),
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
    capture), then rotates and scales the rest of the way: both on the crop's bounding box only.
    """
    height, width = analysis.image.shape[:2]
    corners = np.array([[x, y] for x in (-CROP_X, CROP_X) for y in (CROP_TOP, CROP_BOTTOM)])
    to_image = np.linalg.inv(level)
    box = corners @ to_image.T + analysis.eye_mid
    x0, y0 = np.maximum(np.floor(box.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(box.max(0)).astype(int) + 1, (width, height))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    # Area averaging by a whole factor: OpenCV's fast path, 70 against 200 us for any factor on
    # a London portrait's lower face; the warp does the last step, of less than 2x.
    k = max(1, int(analysis.inter_eye // PX))
    if k > 1 and min(x1 - x0, y1 - y0) >= 2 * k:
        x1, y1 = x0 + (x1 - x0) // k * k, y0 + (y1 - y0) // k * k
    else:
        k = 1
    grey = analysis.grey_at(slice(y0, y1), slice(x0, x1))
    if k > 1:
        grey = cv2.resize(grey, ((x1 - x0) // k, (y1 - y0) // k), interpolation=cv2.INTER_AREA)
    # crop pixels -> pixels of the shrunk bounding box: the inverse of _to_crop, then of ``level``,
    # then of the area averaging (block i of k pixels has its centre at k * i + (k - 1) / 2)
    inverse = np.zeros((2, 3))
    inverse[:, :2] = to_image / PX / k
    inverse[:, 2] = (to_image @ [-CROP_X, CROP_TOP] + analysis.eye_mid - [x0, y0]) / k + (0.5 / k - 0.5)
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


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Brightness of ``image`` at ``points`` (crop pixels) after a Gaussian blur of ``BLUR`` pixels."""
    smooth = cv2.GaussianBlur(image, (0, 0), BLUR)
    xy = points.astype(np.float32)
    return cv2.remap(smooth, xy[:, :1].copy(), xy[:, 1:].copy(), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE).ravel()
