"""Neutral expression: how far the mouth is drawn into a smile, from mesh geometry.

Native value: a smile index in standard units, the sum of two z-scores measured against the
51 neutral faces of the London set (median and spread of each feature):
- mouth width over outer-eye-corner distance (neutral median 0.55, spread 0.04);
- lift of the mouth corners above the lips' mid-line, over eye-to-chin length T
  (neutral median 0.005, spread 0.03).
0 is a typical neutral face; a broad smile scores 5 or more. Closed-mouth half smiles overlap
with neutral faces in geometry, which limits detection (see benchmarks/accuracy.py).
"""

import math

import numpy as np

from ..analysis import landmarks as L
from .base import NO_FACE, Measurement, clamp_score, not_assessed, register, sigmoid

WIDTH_MEDIAN, WIDTH_SPREAD = 0.55, 0.04
LIFT_MEDIAN, LIFT_SPREAD = 0.005, 0.03


@register("smile")
def smile(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("smile", "z", NO_FACE)
    p = analysis.landmarks[:, :2]
    across = p[L.LEFT_EYE_OUTER] - p[L.RIGHT_EYE_OUTER]
    angle = -math.atan2(across[1], across[0])
    c, s = math.cos(angle), math.sin(angle)
    q = p @ np.array([[c, -s], [s, c]]).T  # eye line made level
    eye_span = float(np.linalg.norm(across))
    width = float(np.linalg.norm(q[L.MOUTH_LEFT] - q[L.MOUTH_RIGHT])) / max(eye_span, 1e-6)
    mid_line = (q[L.UPPER_LIP_OUTER, 1] + q[L.LOWER_LIP_OUTER, 1]) / 2
    corners = (q[L.MOUTH_LEFT, 1] + q[L.MOUTH_RIGHT, 1]) / 2
    lift = float(mid_line - corners) / max(analysis.eye_to_chin, 1e-6)
    index = (width - WIDTH_MEDIAN) / WIDTH_SPREAD + (lift - LIFT_MEDIAN) / LIFT_SPREAD
    return Measurement("smile", round(index, 2), clamp_score(100 * (1 - sigmoid(index, 3.0, 1.0))), "z",
                       details={"mouth_width": round(width, 3), "corner_lift": round(lift, 3)})
