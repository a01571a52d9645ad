"""How many faces the capture holds (OFIQ SingleFacePresent, 0x4C)."""

from .base import Measurement, clamp_score, register


@register("face_count")
def face_count(analysis) -> Measurement:
    faces = analysis.faces
    ratio = faces[1].area / faces[0].area if len(faces) > 1 else 0.0
    return Measurement("face_count", float(len(faces)), clamp_score(100 * (1 - ratio)), "faces",
                       details={"second_face_area_ratio": round(ratio, 3),
                                "scores": [round(f.score, 2) for f in faces]})
