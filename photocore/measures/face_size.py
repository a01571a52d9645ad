"""Resolution of the face: distance between the iris centres in capture pixels (OFIQ 0x52).

Corrected for yaw (1/cos) as OFIQ does, so a turned head is not mistaken for a small face.
"""

import math

from .base import NO_FACE, Measurement, clamp_score, not_assessed, register, sigmoid


@register("inter_eye_distance")
def inter_eye_distance(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("inter_eye_distance", "px", NO_FACE)
    yaw = analysis.pose[0]
    ied = analysis.inter_eye * analysis.scale / max(math.cos(math.radians(yaw)), 0.2)
    return Measurement("inter_eye_distance", round(ied, 1), clamp_score(100 * sigmoid(ied, 70, 20)), "px")
