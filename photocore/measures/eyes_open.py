"""Eye openness: lid opening over eye width for the less open eye (cf. OFIQ EyesOpen 0x4D).

The smaller of the two eyes is reported, so a wink fails as a closed eye does.
"""

from .base import NO_FACE, Measurement, clamp_score, not_assessed, register, sigmoid


@register("eyes_open")
def eyes_open(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("eyes_open", "ratio", NO_FACE)
    right, left = analysis.eye_openness
    value = min(right, left)
    return Measurement("eyes_open", round(value, 3), clamp_score(100 * sigmoid(value, 0.15, 0.04)), "ratio",
                       details={"right": round(right, 3), "left": round(left, 3)})
