"""Mouth openness: largest inner-lip gap over eye-to-chin length T (OFIQ MouthClosed 0x4E)."""

from ..analysis import Analysis
from .base import NO_FACE, NotAssessed, Outcome, measure


@measure
def mouth_open(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    return analysis.mouth_openness
