"""Contrast of the face: luminance variance (OFIQ 0x45) and dynamic range (OFIQ 0x48).

Both read the linear luminance histogram of the face oval. They are reported with every
check (``CheckReport.measurements``) for quality statistics; the master capture has no limit
on them, since a washed-out face also fails ``image.exposure``.
"""

import cv2
import numpy as np

from ..analysis import Analysis, linear_luminance
from .base import NO_FACE, NotAssessed, Outcome, measure

_LEVELS = np.arange(256) / 255.0  # luminance levels as shares of white


def _face_histogram(analysis: Analysis) -> np.ndarray:
    """Counts of the 256 linear-luminance levels in the face oval, once per analysis: both
    measures are functions of it (``Analysis.shared``), so the pixels are never gathered or
    widened to floats."""
    x0, y0, x1, y1 = analysis.face_box
    roi = analysis.image[y0:y1, x0:x1]
    if not roi.size:
        return np.zeros(256, np.int64)
    return cv2.calcHist([linear_luminance(roi)], [0], analysis.face_mask, [256], [0, 256]).ravel().astype(np.int64)


def _counts(analysis: Analysis) -> np.ndarray | NotAssessed:
    """The face luminance histogram, or why there is none."""
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    counts = analysis.shared(_face_histogram)
    if not counts.any():
        return NotAssessed("the face region is empty")
    return counts


@measure
def luminance_variance(analysis: Analysis) -> Outcome:
    counts = _counts(analysis)
    if isinstance(counts, NotAssessed):
        return counts
    n = counts.sum()
    mean = counts @ _LEVELS / n
    return float(counts @ (_LEVELS - mean) ** 2 / n)


@measure
def dynamic_range(analysis: Analysis) -> Outcome:
    counts = _counts(analysis)
    if isinstance(counts, NotAssessed):
        return counts
    p = counts / counts.sum()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())
