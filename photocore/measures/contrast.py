"""Contrast of the face: luminance variance (OFIQ 0x45) and dynamic range (OFIQ 0x48).

Both read the linear luminance histogram of the face oval. They are reported with every
check (``CheckReport.measurements``) for quality statistics; the master capture has no limit
on them, since a washed-out face also fails ``image.exposure``.
"""

import math

import cv2
import numpy as np

from ..analysis import linear_luminance
from .base import NO_FACE, Measurement, clamp_score, not_assessed, register

_LEVELS = np.arange(256) / 255.0  # luminance levels as shares of white


def _face_histogram(analysis) -> np.ndarray:
    """Counts of the 256 linear-luminance levels in the face oval, once per analysis: both
    measures are functions of it (``Analysis.shared``), so the pixels are never gathered or
    widened to floats."""
    x0, y0, x1, y1 = analysis.face_box
    roi = analysis.image[y0:y1, x0:x1]
    if not roi.size:
        return np.zeros(256, np.int64)
    return cv2.calcHist([linear_luminance(roi)], [0], analysis.face_mask, [256], [0, 256]).ravel().astype(np.int64)


def _counts_or_reason(analysis, name: str, unit: str):
    """(face luminance histogram, None), or (None, a not-assessed measurement saying why)."""
    if not analysis.has_face:
        return None, not_assessed(name, unit, NO_FACE)
    counts = analysis.shared(_face_histogram)
    if not counts.any():
        return None, not_assessed(name, unit, "the face region is empty")
    return counts, None


@register("luminance_variance")
def luminance_variance(analysis) -> Measurement:
    counts, missing = _counts_or_reason(analysis, "luminance_variance", "variance")
    if missing:
        return missing
    n = counts.sum()
    mean = counts @ _LEVELS / n
    v = float(counts @ (_LEVELS - mean) ** 2 / n)
    return Measurement("luminance_variance", round(v, 5),
                       clamp_score(100 * math.sin(math.pi * 60 * v / (60 * v + 1))), "variance")


@register("dynamic_range")
def dynamic_range(analysis) -> Measurement:
    counts, missing = _counts_or_reason(analysis, "dynamic_range", "bits")
    if missing:
        return missing
    p = counts / counts.sum()
    p = p[p > 0]
    entropy = float(-(p * np.log2(p)).sum())
    return Measurement("dynamic_range", round(entropy, 3), clamp_score(12.5 * entropy), "bits")
