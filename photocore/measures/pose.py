"""Head pose: yaw, pitch and roll in degrees (OFIQ 0x58-0x5A), from the analysis."""

from ..analysis import Analysis
from .base import NO_FACE, NotAssessed, Outcome, measure


@measure
def yaw(analysis: Analysis) -> Outcome:
    return analysis.pose[0] if analysis.has_face else NotAssessed(NO_FACE)


@measure
def pitch(analysis: Analysis) -> Outcome:
    return analysis.pose[1] if analysis.has_face else NotAssessed(NO_FACE)


@measure
def roll(analysis: Analysis) -> Outcome:
    return analysis.pose[2] if analysis.has_face else NotAssessed(NO_FACE)
