"""Eye openness: lid opening over eye width for the less open eye (cf. OFIQ EyesOpen 0x4D).

The smaller of the two eyes is reported, so a wink fails as a closed eye does.
"""

from ..analysis import Analysis
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure


@measure
def eyes_open(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    right, left = analysis.eye_openness
    return Reading(min(right, left), details={"right": round(right, 3), "left": round(left, 3)})
