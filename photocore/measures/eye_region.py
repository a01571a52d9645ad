"""What is in front of the eyes: visibility, tinted lenses, glare and spectacle frames.

A dark lens and a shadow both darken the eyes; they differ in what else they darken. A lens
covers the eye region only, so the eye region is compared with skin no lens covers: the cheeks
and the ridge of the nose at eye level, whichever is darker, so that a shadow over the upper
face (a hat brim, light from above) darkens the reference with the eyes.
- ``eye_visibility``: a real eye at the iris landmarks: a dark iris between brighter sclera on
  both sides. The smaller of the two steps, over the reference. Mirrored lenses show the scene
  rather than that structure, dark lenses show it faintly, hair over the eye hides it.
- ``lens_darkness``: the bright part (75th percentile) of the spectacle-lens area around each
  eye, over the reference: the skin and sclera behind a tinted lens are darker. Brows, lashes
  and frames are dark with or without a tint and stay below that percentile.
- ``lens_glare``: share of near-white pixels in the lens areas outside the iris (where a small
  catch-light is normal), where spectacles are seen: a shiny forehead is no lens glare.
- ``glasses_frame``: horizontal-edge energy on the nose bridge between the eyes over that on
  the forehead: a spectacle bridge is a strong horizontal edge, bare skin is not.
"""

import cv2
import numpy as np

from ..analysis import Analysis
from ..analysis import landmarks as L
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure, median, percentile

NOSE_RIDGE = (6, 195)  # mesh points on the ridge of the nose, from eye level to mid-nose
# A bridge edge this many times the forehead's is a spectacle frame. Equal to the limit of
# glasses.present in profiles/capture.toml, so glare is judged exactly where glasses are reported.
FRAME_SEEN = 2.0


def _reference(analysis: Analysis) -> float:
    """Grey level of skin no lens covers: the darker of the cheeks (averaged) and the nose ridge."""
    ied = analysis.inter_eye
    half = max(2, int(0.15 * ied))
    cheeks = []
    for idx in (L.RIGHT_CHEEK, L.LEFT_CHEEK):
        x, y = analysis.point(idx).astype(int)
        patch = analysis.grey_at(slice(max(0, y - half), max(0, y + half + 1)),
                                 slice(max(0, x - half), max(0, x + half + 1)))
        if patch.size:
            cheeks.append(median(patch))
    top, bottom = analysis.point(NOSE_RIDGE[0]), analysis.point(NOSE_RIDGE[1])
    reach = max(1, int(0.05 * ied))
    x0, x1 = int(min(top[0], bottom[0])) - reach, int(max(top[0], bottom[0])) + reach + 1
    ridge = analysis.grey_at(slice(max(0, int(top[1])), max(0, int(bottom[1]) + 1)), slice(max(0, x0), max(0, x1)))
    levels = ([float(np.mean(cheeks))] if cheeks else []) + ([median(ridge)] if ridge.size else [])
    return max(min(levels, default=0.0), 1.0)


def _iris(analysis, iris) -> tuple[np.ndarray, float]:
    centre = analysis.point(iris[0])
    return centre, float(max(np.linalg.norm(analysis.point(i) - centre) for i in iris[1:]))


def _lens_boxes(analysis):
    """Rectangle of a typical spectacle lens around each eye, clipped to the image."""
    h, w = analysis.image.shape[:2]
    boxes = []
    for outer, inner, iris in ((L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER, L.RIGHT_IRIS[0]),
                               (L.LEFT_EYE_OUTER, L.LEFT_EYE_INNER, L.LEFT_IRIS[0])):
        cx, cy = analysis.point(iris)
        span = np.linalg.norm(analysis.point(outer) - analysis.point(inner))
        half_w, half_h = 0.8 * span, 0.5 * span
        x0, x1 = int(max(0, cx - half_w)), int(min(w, cx + half_w))
        y0, y1 = int(max(0, cy - half_h)), int(min(h, cy + half_h))
        boxes.append((x0, y0, x1, y1))
    return boxes


def _eye_step(analysis, contour, iris, corners) -> float | None:
    """Grey-level step from the iris up to the sclera, the smaller of the two sides of the iris
    along the eye; None when the opening shows too little of the iris or of either side."""
    outline = analysis.mesh[contour, :2]
    x, y, w, h = cv2.boundingRect(outline.astype(np.int32))
    x, y = max(0, x), max(0, y)
    roi = analysis.grey_at(slice(y, y + h), slice(x, x + w))
    if roi.size < 16:
        return None
    opening = np.zeros(roi.shape, np.uint8)
    cv2.fillPoly(opening, [(outline - (x, y)).astype(np.int32)], (255,))
    inside = opening > 0
    centre, radius = _iris(analysis, iris)
    axis = analysis.point(corners[0]) - analysis.point(corners[1])
    axis = axis / max(float(np.linalg.norm(axis)), 1e-6)
    rows = np.arange(roi.shape[0])[:, None] + (y - centre[1])  # offsets from the iris centre
    cols = np.arange(roi.shape[1])[None, :] + (x - centre[0])
    along = cols * axis[0] + rows * axis[1]
    disc = roi[inside & (cols * cols + rows * rows <= (0.8 * radius) ** 2)]
    outer, inner = roi[inside & (along > radius)], roi[inside & (along < -radius)]
    if disc.size < 4 or outer.size < 2 or inner.size < 2:
        return None
    return min(percentile(outer, 90), percentile(inner, 90)) - percentile(disc, 25)


@measure
def eye_visibility(analysis: Analysis) -> Outcome:
    """The weaker eye's iris-to-sclera step over the brightness of uncovered skin.

    An open eye shows a dark iris with bright sclera on both sides; behind a mirrored lens the
    pixels at the iris landmarks are the scene's, behind a dark lens the step shrinks with the
    light the lens lets through, under hair it vanishes.
    """
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    steps = [_eye_step(analysis, L.RIGHT_EYE_CONTOUR, L.RIGHT_IRIS, (L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER)),
             _eye_step(analysis, L.LEFT_EYE_CONTOUR, L.LEFT_IRIS, (L.LEFT_EYE_OUTER, L.LEFT_EYE_INNER))]
    seen = [s for s in steps if s is not None]
    if not seen:
        return NotAssessed("neither eye shows its iris with sclera on both sides "
                           "(a turned head, or eyes too small to read)")
    reference = analysis.shared(_reference)
    return Reading(min(seen) / reference, details={"right": None if steps[0] is None else round(steps[0], 1),
                                                   "left": None if steps[1] is None else round(steps[1], 1),
                                                   "reference": round(reference, 1)})


@measure
def lens_darkness(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    levels = [percentile(analysis.grey_at(slice(y0, y1), slice(x0, x1)), 75)
              for x0, y0, x1, y1 in _lens_boxes(analysis) if x1 > x0 and y1 > y0]
    if not levels:
        return NotAssessed("the eyes are outside the image")
    return min(levels) / analysis.shared(_reference)


@measure
def lens_glare(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    frame = analysis.shared(_frame_ratio)
    if frame is not None and frame <= FRAME_SEEN:  # no spectacles, so no lenses to reflect
        return Reading(0.0, details={"frame": round(frame, 2)})
    boxes = [b for b in _lens_boxes(analysis) if b[2] > b[0] and b[3] > b[1]]
    if not boxes:
        return NotAssessed("the eyes are outside the image")
    # work inside the two lenses' bounding box only: the same pixels, a fraction of the image
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    grey = analysis.grey_at(slice(top, max(b[3] for b in boxes)), slice(left, max(b[2] for b in boxes)))
    keep = np.zeros(grey.shape, np.uint8)
    for x0, y0, x1, y1 in boxes:
        keep[y0 - top:y1 - top, x0 - left:x1 - left] = 255
    for iris in (L.RIGHT_IRIS, L.LEFT_IRIS):
        centre, radius = _iris(analysis, iris)
        cv2.circle(keep, (int(centre[0]) - left, int(centre[1]) - top), int(radius * 1.3) + 1, (0,), -1)
    region = grey[keep > 0]
    if region.size == 0:
        return NotAssessed("the eyes are outside the image")
    return Reading(float(np.mean(region >= 250)), details={"frame": None if frame is None else round(frame, 2)})


def _frame_ratio(analysis: Analysis) -> float | None:
    """Strongest horizontal edge on the nose bridge over that on the forehead; None when
    either lies outside the image."""
    height, width = analysis.image.shape[:2]
    ied = analysis.inter_eye
    bridge = analysis.point(L.NOSE_BRIDGE)
    inner_y = (analysis.point(L.RIGHT_EYE_INNER)[1] + analysis.point(L.LEFT_EYE_INNER)[1]) / 2
    half_w = max(2, int(0.12 * ied))

    def edge_energy(y_top, y_bottom):
        x0, x1 = int(bridge[0] - half_w), int(bridge[0] + half_w)
        y0, y1 = int(y_top), int(y_bottom)
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height or y1 - y0 < 3:
            return None
        patch = analysis.grey_at(slice(y0, y1), slice(x0, x1)).astype(np.float32)
        gy = cv2.Sobel(patch, cv2.CV_32F, 0, 1, ksize=3)
        return float(np.mean(np.abs(gy), axis=1).max())  # strongest horizontal line

    span = 0.35 * ied
    bridge_energy = edge_energy(inner_y - span, inner_y + 0.1 * ied)
    forehead_energy = edge_energy(inner_y - 0.9 * ied, inner_y - 0.9 * ied + span + 0.1 * ied)
    if bridge_energy is None or forehead_energy is None:
        return None
    return bridge_energy / max(forehead_energy, 4.0)


@measure
def glasses_frame(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    value = analysis.shared(_frame_ratio)
    if value is None:
        return NotAssessed("the nose bridge or forehead is outside the image")
    return value
