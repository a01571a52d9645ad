"""Exposure: is the face neither too dark nor too bright, and is anything clipped?

Native value: mean grey level of the face oval (0 black, 1 white, sRGB-encoded). Linear
luminance (OFIQ LuminanceMean 0x44) reads a well-lit dark-skinned face as "underexposed"
(OFIQ issue #93), so the judge also looks at the brightest part of the whole image: a
correctly exposed capture has a light background or highlights whatever the skin tone.
``details``: shares of clipped face pixels (as OFIQ 0x46/0x47, on sRGB values) and the 99th
percentile of the whole image.

Everything is read from 256-bin histograms: sums and counts of whole grey levels are exact,
so the numbers equal those of the pixel arrays, without gathering or sorting the pixels.
"""

import cv2
import numpy as np

from ..analysis import Analysis
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure, percentile

_LEVELS = np.arange(256, dtype=np.int64)


def _percentile_99(grey: np.ndarray) -> float:
    """``np.percentile(grey, 99)`` of a uint8 array, from its histogram.

    The percentile interpolates between two neighbouring order statistics; when the ones
    around it are equal (nearly always with 256 levels), it is that level; otherwise sort.
    """
    cumulative = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    k = int(0.99 * (grey.size - 1))
    low, high = np.searchsorted(cumulative, [k - 1, k + 2], side="right")  # sorted[k - 1], sorted[k + 2]
    if low == high:
        return float(low)
    return percentile(grey, 99)


@measure
def exposure(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    grey = analysis.face_grey
    counts = (cv2.calcHist([grey], [0], analysis.face_mask, [256], [0, 256]).ravel().astype(np.int64)
              if grey.size else np.zeros(256, np.int64))
    n = int(counts.sum())
    if n == 0:
        return NotAssessed("the face region is empty")
    mean = int(counts @ _LEVELS) / n / 255.0
    image_p99 = _percentile_99(analysis.grey_at(slice(None, None, 4), slice(None, None, 4))) / 255.0
    return Reading(mean, details={"dark_share": round(int(counts[:9].sum()) / n, 4),
                                  "bright_share": round(int(counts[250:].sum()) / n, 4),
                                  "image_p99": round(image_p99, 3)},
                   inputs={"image_p99": image_p99})  # scored unrounded
