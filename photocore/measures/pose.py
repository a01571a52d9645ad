"""Head pose: yaw, pitch and roll in degrees (OFIQ 0x58-0x5A), from the analysis."""

import math

from .base import NO_FACE, Measurement, clamp_score, not_assessed, register


def _angle(analysis, name: str, index: int) -> Measurement:
    if not analysis.has_face:
        return not_assessed(name, "deg", NO_FACE)
    angle = analysis.pose[index]
    score = clamp_score(100 * max(0.0, math.cos(math.radians(angle))) ** 2)
    return Measurement(name, round(angle, 1), score, "deg")


@register("yaw")
def yaw(analysis) -> Measurement:
    return _angle(analysis, "yaw", 0)


@register("pitch")
def pitch(analysis) -> Measurement:
    return _angle(analysis, "pitch", 1)


@register("roll")
def roll(analysis) -> Measurement:
    return _angle(analysis, "roll", 2)
