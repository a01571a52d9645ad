"""Mouth openness: largest inner-lip gap over eye-to-chin length T (OFIQ MouthClosed 0x4E)."""

from .base import NO_FACE, Measurement, clamp_score, not_assessed, register, sigmoid


@register("mouth_open")
def mouth_open(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("mouth_open", "ratio", NO_FACE)
    value = analysis.mouth_openness
    return Measurement("mouth_open", round(value, 3), clamp_score(100 * (1 - sigmoid(value, 0.2, 0.06))), "ratio")
