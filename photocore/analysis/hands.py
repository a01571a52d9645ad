"""Hands in front of the face: a cheap look for signs of one, then the hand model if there are any.

MediaPipe's palm detector costs about 9 ms on one core whatever it is given (it always sees
192 x 192 pixels), 15 ms when it finds a hand and the hand landmarks run too: more than the
whole analysis may grow by. So it runs only when one of four cheap cues (0.5 ms together, on
the face scaled to 80 pixels wide) says something may be in front of the face:

- ``edges``: the gradient energy of the bare-skin zones of the face (beside and below the nose,
  the chin; eyes, brows, nose and mouth left out) over that of the eyes. Fingers and the rim of
  a hand draw edges where a face has smooth skin.
- ``asymmetry``: the largest difference of that energy between the face's left and right
  halves, at cheek and at chin height. A hand is on one side; a face's own folds come in pairs.
- ``jaw_crossing``: gradient energy along the jaw line (ear to ear through the chin), in the
  direction of the line, over the face's grey level: the most in any eighth of the line. A jaw
  line is one edge across the line; fingers or an arm crossing it add edges along it.
- ``bulge``: the width of the person mask at eyebrow height over the face width. A hand or an
  arm beside the head widens the person there.

Each cue's limit is the largest value it takes on the 51 London neutral faces (no hand), so
none of them looks for a hand; held out one person at a time, 4 of the 51 would. On real hands
pasted on those faces the cues fire for 73% of one hand's fingertips at the chin and 98-100%
of every other placement; on the two real photos of a hand at the face, for both
(benchmarks/fit_occlusion.py). They fire on about half of the other photos (smiles, side light,
busy or greyscale pictures), which then cost the hand model's time. The hand model decides:
``measures/occlusion.py`` compares its hands with the face oval. When no cue fires the hand
model does not run, and the capture is not said to be free of hands (not assessed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from . import landmarks as L

FACE_WIDTH = 80.0  # the cues are computed on the face at this width (pixels, tragion to tragion)
# Largest value of each cue on the London neutral faces, rounded up (benchmarks/fit_occlusion.py).
LIMITS = {"edges": 0.533, "asymmetry": 0.090, "jaw_crossing": 0.113, "bulge": 1.44}
CROP_SIDE = 2.2  # the hand model sees the face box widened to this many face-box sides
CROP_MAX = 256  # ... at most this many pixels on its long side (its palm detector sees 192)

_OVAL = L.FACE_OVAL
_JAW = _OVAL[_OVAL.index(L.LEFT_CHEEK_EDGE): _OVAL.index(L.RIGHT_CHEEK_EDGE) + 1]  # ear to ear by the chin
_NOSE = [168, 6, 197, 195, 5, 4, 1, 98, 327, 2, 97, 326, 64, 294]
_FEATURES = (L.RIGHT_EYE_CONTOUR, L.LEFT_EYE_CONTOUR, L.MOUTH_OUTER_CONTOUR, L.RIGHT_BROW, L.LEFT_BROW, _NOSE)
_MIDLINE = [L.FOREHEAD_TOP, L.NOSE_BRIDGE, L.NOSE_TIP, L.UPPER_LIP_OUTER, L.LOWER_LIP_OUTER, L.CHIN]
_BROW_MIDDLE = (105, 334)  # the top of each eyebrow, half way along


@dataclass(frozen=True)
class HandSearch:
    """What was done to find hands near the face, and what was found."""

    cues: dict  # cue name -> value (see the module docstring)
    looked: bool  # the hand model ran (some cue passed its limit)
    hands: list = field(default_factory=list)  # (21, 2) landmark arrays in analysis pixels
    scores: list = field(default_factory=list)  # the model's confidence for each hand


def _polygon(shape, points) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], (255,))
    return mask


def _along_line(gx, gy, points, level: float, band: int = 4, window: float = 0.12) -> float:
    """Most gradient energy along ``points`` (in their direction) in any ``window`` share of the
    line, averaged over ``band`` pixels either side, over ``level``."""
    seg = np.diff(points, axis=0)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
    if cum[-1] < 6:
        return 0.0
    d = np.arange(0, cum[-1], 1.5)
    px, py = np.interp(d, cum, points[:, 0]), np.interp(d, cum, points[:, 1])
    tx, ty = np.gradient(px), np.gradient(py)  # the line's direction at each step
    norm = np.hypot(tx, ty) + 1e-6
    tx, ty = tx / norm, ty / norm
    offsets = np.arange(-band, band + 1, dtype=np.float32)
    sx = (px[:, None] - offsets[None] * ty[:, None]).astype(np.float32)
    sy = (py[:, None] + offsets[None] * tx[:, None]).astype(np.float32)
    gxs = cv2.remap(gx, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    gys = cv2.remap(gy, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    along = np.abs(gxs * tx[:, None] + gys * ty[:, None]).mean(axis=1)
    width = max(3, int(window * len(d)))
    return float(np.convolve(along, np.ones(width) / width, "valid").max() / level)


def cues(small: np.ndarray, points: np.ndarray, mask: np.ndarray) -> dict:
    """The four cues for a face whose landmarks ``points`` (x, y) are in the pixels of ``small``
    (RGB) and of ``mask`` (the person mask at the same size)."""
    face_width = float(np.linalg.norm(points[L.LEFT_CHEEK_EDGE] - points[L.RIGHT_CHEEK_EDGE]))
    if face_width < 4:
        return {}
    # the person mask's width at eyebrow height
    row = mask[int(np.clip(points[list(_BROW_MIDDLE), 1].mean(), 0, mask.shape[0] - 1))] > 0.5
    x = int(np.clip(points[L.NOSE_TIP, 0], 0, mask.shape[1] - 1))
    outside = np.flatnonzero(~row)
    left = outside[outside < x].max(initial=-1) + 1
    right = outside[outside > x].min(initial=row.size)
    out = {"bulge": float((right - left) / face_width)}

    scale = FACE_WIDTH / face_width
    lo = points.min(axis=0) - (0.35 * face_width, 0.2 * face_width)
    hi = points.max(axis=0) + (0.35 * face_width, 0.45 * face_width)
    x0, y0 = int(max(0, lo[0])), int(max(0, lo[1]))
    x1, y1 = int(min(small.shape[1], hi[0])), int(min(small.shape[0], hi[1]))
    if x1 - x0 < 4 or y1 - y0 < 4:  # the face lies (almost) outside the picture
        return out
    size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
    grey = cv2.cvtColor(np.ascontiguousarray(small[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR)
    p = (points - (x0, y0)) * (size[0] / (x1 - x0), size[1] / (y1 - y0))
    g = cv2.GaussianBlur(grey.astype(np.float32), (3, 3), 0)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0, scale=0.125), cv2.Sobel(g, cv2.CV_32F, 0, 1, scale=0.125)
    magnitude = cv2.magnitude(gx, gy)

    oval = _polygon(grey.shape, p[_OVAL])
    inner = cv2.erode(oval, np.ones((7, 7), np.uint8))
    features = np.zeros(grey.shape, np.uint8)
    for contour in _FEATURES:
        cv2.fillPoly(features, [cv2.convexHull(np.round(p[contour]).astype(np.int32))], (255,))
    eyes = np.zeros(grey.shape, np.uint8)
    for contour in (L.RIGHT_EYE_CONTOUR, L.LEFT_EYE_CONTOUR):
        cv2.fillPoly(eyes, [cv2.convexHull(np.round(p[contour]).astype(np.int32))], (255,))
    eye_energy = cv2.mean(magnitude, eyes)[0] + 1e-3 if cv2.countNonZero(eyes) else 1.0
    zone = cv2.bitwise_and(inner, cv2.bitwise_not(cv2.dilate(features, np.ones((5, 5), np.uint8))))
    mid = min(max(0, round(float(p[_MIDLINE, 0].mean()))), grey.shape[1])
    nose_y = min(max(0, round(float(p[L.NOSE_TIP, 1]))), grey.shape[0])
    eye_y = min(max(0, round(float(p[L.RIGHT_IRIS[0], 1] + p[L.LEFT_IRIS[0], 1]) / 2)), nose_y)
    energy = {}
    below, beside = slice(nose_y, None), slice(eye_y, nose_y)  # rows: below the nose tip; from the eyes to it
    for name, rows, cols in (("low_r", below, slice(0, mid)), ("low_l", below, slice(mid, None)),
                             ("mid_r", beside, slice(0, mid)), ("mid_l", beside, slice(mid, None))):
        region = zone[rows, cols]
        energy[name] = (cv2.mean(magnitude[rows, cols], region)[0] / eye_energy
                        if region.size and cv2.countNonZero(region) else 0.0)
    out["edges"] = max(energy.values())
    out["asymmetry"] = max(abs(energy["low_r"] - energy["low_l"]), abs(energy["mid_r"] - energy["mid_l"]))
    level = cv2.mean(grey, oval)[0] + 1
    out["jaw_crossing"] = _along_line(gx, gy, p[_JAW], level)
    return out


def suspicious(values: dict) -> bool:
    """Some cue passes its limit: something may be in front of the face."""
    return any(values.get(name, 0.0) > limit for name, limit in LIMITS.items())


def _crop(analysis) -> tuple[np.ndarray, float, float, float]:
    """The analysis image around the main face (widened, hands come from below), at most
    ``CROP_MAX`` pixels: (crop, x0, y0, analysis pixels per crop pixel)."""
    x, y, w, h = analysis.faces[0].box
    side = CROP_SIDE * max(w, h)
    cx, cy = x + w / 2, y + 0.65 * h
    height, width = analysis.image.shape[:2]
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    crop = analysis.image[y0:max(y0, y1), x0:max(x0, x1)]
    if min(crop.shape[:2]) < 8:
        return crop, x0, y0, 1.0
    factor = max(1.0, max(crop.shape[:2]) / CROP_MAX)
    if factor > 1:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] / factor)), max(1, round(crop.shape[0] / factor))),
                          interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop), x0, y0, (x1 - x0) / crop.shape[1]


def search(analysis, always: bool = False) -> HandSearch:
    """Look for hands at the main face of ``analysis`` if a cue says there may be one (``always``:
    whatever the cues say; for measuring the cues, benchmarks/fit_occlusion.py)."""
    from .models import models

    if not analysis.has_face or not analysis.faces:
        return HandSearch(cues={}, looked=False)
    fx = analysis.small_scale
    values = cues(analysis.small, analysis.landmarks[:, :2] * fx, analysis.person_mask_small)
    if not always and not suspicious(values):
        return HandSearch(cues=values, looked=False)
    crop, x0, y0, per_pixel = _crop(analysis)
    if min(crop.shape[:2]) < 8:
        return HandSearch(cues=values, looked=False)
    result = models().hands.process(crop)
    hands, scores = [], []
    ch, cw = crop.shape[:2]
    for landmarks, handedness in zip(result.multi_hand_landmarks or [], result.multi_handedness or [], strict=True):
        pts = np.array([(p.x * cw, p.y * ch) for p in landmarks.landmark], dtype=np.float64)
        hands.append(pts * per_pixel + (x0, y0))
        scores.append(float(handedness.classification[0].score))
    return HandSearch(cues=values, looked=True, hands=hands, scores=scores)
