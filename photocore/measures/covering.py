"""Head covering: not assessed.

None of the models bundled in mediapipe 0.10.21 separates hair from a hat, a cap or a scarf
(the selfie segmenter marks them all as "person"). A guess would pass hats silently, so the
measure reports not assessed and the clerk checks by eye.
"""

from ..analysis import Analysis
from .base import NotAssessed, Outcome, measure


@measure
def head_covering(analysis: Analysis) -> Outcome:
    return NotAssessed("no bundled model tells hair from a hat or scarf; check by eye")
