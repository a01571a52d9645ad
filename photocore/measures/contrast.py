"""Contrast of the face: luminance variance (OFIQ 0x45) and dynamic range (OFIQ 0x48).

Both read the linear luminance histogram of the face oval. They are reported with every
check (``CheckReport.measurements``) for quality statistics; the master capture has no limit
on them, since a washed-out face also fails ``image.exposure``.
"""

import math

import cv2
import numpy as np

from ..analysis import linear_luminance
from .base import NO_FACE, Measurement, clamp_score, not_assessed, register, variance


def _face_luminance(analysis):
    key = "_face_luminance"
    if key not in analysis.__dict__:
        x0, y0, x1, y1 = analysis.face_box
        roi = analysis.image[y0:y1, x0:x1]
        values = linear_luminance(roi)[analysis.face_mask > 0] if roi.size else np.empty(0)
        analysis.__dict__[key] = values
    return analysis.__dict__[key]


def _values_or_reason(analysis, name: str, unit: str):
    """(face luminance values, None), or (None, a not-assessed measurement saying why)."""
    if not analysis.has_face:
        return None, not_assessed(name, unit, NO_FACE)
    values = _face_luminance(analysis)
    if values.size == 0:
        return None, not_assessed(name, unit, "the face region is empty")
    return values, None


@register("luminance_variance")
def luminance_variance(analysis) -> Measurement:
    values, missing = _values_or_reason(analysis, "luminance_variance", "variance")
    if missing:
        return missing
    v = variance(values / 255.0)
    return Measurement("luminance_variance", round(v, 5),
                       clamp_score(100 * math.sin(math.pi * 60 * v / (60 * v + 1))), "variance")


@register("dynamic_range")
def dynamic_range(analysis) -> Measurement:
    values, missing = _values_or_reason(analysis, "dynamic_range", "bits")
    if missing:
        return missing
    # the histogram as np.bincount gives it, without widening every value to 64 bits first
    p = cv2.calcHist([values], [0], None, [256], [0, 256]).ravel().astype(np.int64) / values.size
    p = p[p > 0]
    entropy = float(-(p * np.log2(p)).sum())
    return Measurement("dynamic_range", round(entropy, 3), clamp_score(12.5 * entropy), "bits")
