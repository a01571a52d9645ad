"""How many faces the capture holds (OFIQ SingleFacePresent, 0x4C)."""

from ..analysis import Analysis
from .base import Outcome, Reading, measure


@measure
def face_count(analysis: Analysis) -> Outcome:
    faces = analysis.faces
    ratio = faces[1].area / faces[0].area if len(faces) > 1 else 0.0
    return Reading(float(len(faces)), details={"second_face_area_ratio": round(ratio, 3),
                                               "scores": [round(f.score, 2) for f in faces]},
                   inputs={"second_face_area_ratio": ratio})  # the score reads it unrounded
