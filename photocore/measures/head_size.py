"""Head size and crop of the capture, as OFIQ defines them (0x53-0x57).

``head_size`` is T/H (eye-to-chin length over image height; OFIQ's optimum 0.45). The four
crop measures say how much image there is beside and above/below the eyes, in inter-eye
distances (left/right) or in T (above/below). Reported for quality statistics; the master
capture judges the room around the head with ``frame.margins`` instead (see margins.py).
"""

from ..analysis import Analysis
from .base import NO_FACE, NotAssessed, Outcome, measure


@measure
def head_size(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    return analysis.eye_to_chin / analysis.image.shape[0]


@measure
def crop_left(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    return float(analysis.right_iris[0] / max(analysis.inter_eye, 1e-6))


@measure
def crop_right(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    return float((analysis.image.shape[1] - analysis.left_iris[0]) / max(analysis.inter_eye, 1e-6))


@measure
def margin_above(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    return float(analysis.eye_mid[1] / max(analysis.eye_to_chin, 1e-6))


@measure
def margin_below(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    return float((analysis.image.shape[0] - analysis.eye_mid[1]) / max(analysis.eye_to_chin, 1e-6))
