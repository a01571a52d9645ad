"""Uniform lighting across the face (OFIQ IlluminationUniformity 0x43).

Two square zones under the eyes, side 0.3 x inter-eye distance; the native value is the
intersection of their normalised luminance histograms (1: identical light on both sides,
0: one side in shadow).
"""

import numpy as np

from ..analysis import Analysis, linear_luminance
from ..analysis import landmarks as L
from .base import NO_FACE, NotAssessed, Outcome, measure


@measure
def illumination_uniformity(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    half = max(2, int(0.15 * analysis.inter_eye))
    hists = []
    for idx in (L.RIGHT_CHEEK, L.LEFT_CHEEK):
        x, y = analysis.point(idx).astype(int)
        region = analysis.image[max(0, y - half): max(0, y + half + 1), max(0, x - half): max(0, x + half + 1)]
        if region.shape[0] < 2 or region.shape[1] < 2:  # a cheek at or beyond the image's edge
            return NotAssessed("a cheek is outside the image")
        patch = linear_luminance(np.ascontiguousarray(region))
        hist = np.bincount(patch.ravel(), minlength=256).astype(np.float64)
        hists.append(hist / hist.sum())
    return float(np.minimum(*hists).sum())
