"""Unified quality score (OFIQ 0x41): not assessed.

OFIQ derives it from a MagFace recognition network, which is not among the models bundled in
mediapipe 0.10.21; a stand-in number would look like the standard's score without being it.
"""

from ..analysis import Analysis
from .base import NotAssessed, Outcome, measure


@measure
def unified_quality(analysis: Analysis) -> Outcome:
    return NotAssessed("needs the MagFace recognition model, which is not bundled")
