"""What is in front of the eyes: visibility, tinted lenses, glare and spectacle frames.

All four read the same eye regions, compared with the person's own cheek skin so that skin
tone and exposure cancel out:
- ``eye_visibility``: contrast of the sclera against the iris, over the cheeks' brightness
  (sunglasses, mirrored lenses and hair over the eyes flatten it).
- ``lens_darkness``: brightness of the spectacle-lens area around each eye over the cheeks'.
- ``lens_glare``: share of near-white pixels in the lens areas, outside the iris (where a
  small catch-light is normal).
- ``glasses_frame``: horizontal-edge energy on the nose bridge between the eyes over that on
  the forehead: a spectacle bridge is a strong horizontal edge, bare skin is not.
"""

import cv2
import numpy as np

from ..analysis import landmarks as L
from .base import NO_FACE, Measurement, clamp_score, median, not_assessed, percentile, register


def _cheek_level(analysis) -> float:
    """Median grey of the two cheek patches, averaged; read once per analysis."""
    key = "_cheek_level"
    if key in analysis.__dict__:
        return analysis.__dict__[key]
    half = max(2, int(0.15 * analysis.inter_eye))
    values = []
    for idx in (L.RIGHT_CHEEK, L.LEFT_CHEEK):
        x, y = analysis.point(idx).astype(int)
        patch = analysis.grey_at(slice(max(0, y - half), max(0, y + half + 1)), slice(max(0, x - half), max(0, x + half + 1)))
        if patch.size:
            values.append(median(patch))
    level = analysis.__dict__[key] = max(np.mean(values) if values else 0.0, 1.0)
    return level


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


@register("eye_visibility")
def eye_visibility(analysis) -> Measurement:
    """Contrast between the sclera and the iris, over the cheeks' brightness.

    A visible open eye shows a dark iris in a bright sclera; behind dark or mirrored lenses,
    or under hair, the eye opening reads as one flat tone and the contrast falls towards 0.
    """
    if not analysis.has_face:
        return not_assessed("eye_visibility", "ratio", NO_FACE)
    contrasts = []
    for contour, iris in ((L.RIGHT_EYE_CONTOUR, L.RIGHT_IRIS), (L.LEFT_EYE_CONTOUR, L.LEFT_IRIS)):
        outline = analysis.landmarks[contour, :2].astype(np.int32)
        x, y, w, h = cv2.boundingRect(outline)
        x, y = max(0, x), max(0, y)
        roi = analysis.grey_at(slice(y, y + h), slice(x, x + w))
        if roi.size < 16:
            continue
        eye = np.zeros(roi.shape, np.uint8)
        cv2.fillPoly(eye, [outline - (x, y)], 255)
        centre = analysis.point(iris[0])
        radius = max(np.linalg.norm(analysis.point(i) - centre) for i in iris[1:])
        iris_disc = np.zeros(roi.shape, np.uint8)
        cv2.circle(iris_disc, (int(centre[0] - x), int(centre[1] - y)), max(1, int(radius)), 255, -1)
        sclera = (eye > 0) & (cv2.dilate(iris_disc, np.ones((3, 3), np.uint8)) == 0)
        iris_px = roi[(iris_disc > 0) & (eye > 0)]
        if sclera.sum() < 4 or iris_px.size < 4:
            continue
        contrasts.append(percentile(roi[sclera], 75) - percentile(iris_px, 25))
    if not contrasts:
        return not_assessed("eye_visibility", "ratio", "the eye openings are too small to read")
    value = min(contrasts) / _cheek_level(analysis)
    return Measurement("eye_visibility", round(value, 3), clamp_score(100 * min(1.0, max(0.0, value) / 0.4)),
                       "ratio", details={"right": round(contrasts[0], 1), "left": round(contrasts[-1], 1)})


@register("lens_darkness")
def lens_darkness(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("lens_darkness", "ratio", NO_FACE)
    means = [float(np.mean(analysis.grey_at(slice(y0, y1), slice(x0, x1))))
             for x0, y0, x1, y1 in _lens_boxes(analysis) if x1 > x0 and y1 > y0]
    if not means:
        return not_assessed("lens_darkness", "ratio", "the eyes are outside the image")
    value = min(means) / _cheek_level(analysis)
    return Measurement("lens_darkness", round(value, 3), clamp_score(100 * min(1.0, value / 0.8)), "ratio")


@register("lens_glare")
def lens_glare(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("lens_glare", "share", NO_FACE)
    boxes = [b for b in _lens_boxes(analysis) if b[2] > b[0] and b[3] > b[1]]
    if not boxes:
        return not_assessed("lens_glare", "share", "the eyes are outside the image")
    # work inside the two lenses' bounding box only: the same pixels, a fraction of the image
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    grey = analysis.grey_at(slice(top, max(b[3] for b in boxes)), slice(left, max(b[2] for b in boxes)))
    keep = np.zeros(grey.shape, np.uint8)
    for x0, y0, x1, y1 in boxes:
        keep[y0 - top:y1 - top, x0 - left:x1 - left] = 255
    for iris in (L.RIGHT_IRIS, L.LEFT_IRIS):
        centre = analysis.point(iris[0])
        radius = max(np.linalg.norm(analysis.point(i) - centre) for i in iris[1:])
        cv2.circle(keep, (int(centre[0]) - left, int(centre[1]) - top), int(radius * 1.3) + 1, 0, -1)
    region = grey[keep > 0]
    if region.size == 0:
        return not_assessed("lens_glare", "share", "the eyes are outside the image")
    value = float(np.mean(region >= 250))
    return Measurement("lens_glare", round(value, 4), clamp_score(round(1 / (value + 0.01))), "share")


@register("glasses_frame")
def glasses_frame(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("glasses_frame", "ratio", NO_FACE)
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
        return not_assessed("glasses_frame", "ratio", "the nose bridge or forehead is outside the image")
    value = bridge_energy / max(forehead_energy, 4.0)
    return Measurement("glasses_frame", round(value, 2), clamp_score(100 - 25 * max(0.0, value - 1)), "ratio")
