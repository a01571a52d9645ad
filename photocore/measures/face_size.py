"""Resolution of the face: distance between the iris centres in capture pixels (OFIQ 0x52).

Corrected for yaw (1/cos) as OFIQ does, so a turned head is not mistaken for a small face.
"""

import math

from ..analysis import Analysis
from .base import NO_FACE, NotAssessed, Outcome, measure


@measure
def inter_eye_distance(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    yaw = analysis.pose[0]
    return analysis.inter_eye * analysis.scale / max(math.cos(math.radians(yaw)), 0.2)
