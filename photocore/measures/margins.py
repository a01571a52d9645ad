"""Room around the head: crown, chin and both ears inside the frame with space to crop.

Native value: the smallest of four margins, each in units of the eye-to-chin length T:
above the crown, below the chin, and outside each side of the face at ear level. A crown
cut off by the top edge gives 0. The margins needed are set by the judge; the details give
each margin so the clerk knows which way to move the camera.
"""

import numpy as np

from ..analysis import Analysis
from ..analysis import landmarks as L
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure


@measure
def margins(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    h, w = analysis.image.shape[:2]
    t = max(analysis.eye_to_chin, 1e-6)
    (crown_x, crown_y), crown_inside = analysis.crown
    sides = analysis.mesh[[L.RIGHT_CHEEK_EDGE, L.LEFT_CHEEK_EDGE], 0]
    values = {
        "top": (crown_y if crown_inside else 0.0) / t,
        "bottom": (h - analysis.chin[1]) / t,
        "left": float(np.min(sides)) / t,
        "right": (w - float(np.max(sides))) / t,
    }
    values = {k: round(max(0.0, v), 3) for k, v in values.items()}
    return Reading(min(values.values()), details={**values, "crown_inside": crown_inside})
