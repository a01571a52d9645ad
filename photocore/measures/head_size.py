"""Head size and crop of the capture, as OFIQ defines them (0x53-0x57).

``head_size`` is T/H (eye-to-chin length over image height; OFIQ's optimum 0.45). The four
crop measures say how much image there is beside and above/below the eyes, in inter-eye
distances (left/right) or in T (above/below). Reported for quality statistics; the master
capture judges the room around the head with ``frame.margins`` instead (see margins.py).
"""

from .base import NO_FACE, MeasureFn, Measurement, clamp_score, not_assessed, register, sigmoid


@register("head_size")
def head_size(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("head_size", "ratio", NO_FACE)
    ratio = analysis.eye_to_chin / analysis.image.shape[0]
    return Measurement("head_size", round(ratio, 3),
                       clamp_score(200 * (1 - sigmoid(abs(ratio - 0.45), 0, 0.05))), "ratio")


def _crop(analysis, name: str) -> Measurement:
    if not analysis.has_face:
        return not_assessed(name, "ratio", NO_FACE)
    h, w = analysis.image.shape[:2]
    ied, t = max(analysis.inter_eye, 1e-6), max(analysis.eye_to_chin, 1e-6)
    value, x0 = {
        "crop_left": (analysis.right_iris[0] / ied, 0.9),
        "crop_right": ((w - analysis.left_iris[0]) / ied, 0.9),
        "margin_above": (analysis.eye_mid[1] / t, 1.4),
        "margin_below": ((h - analysis.eye_mid[1]) / t, 1.8),
    }[name]
    return Measurement(name, round(float(value), 3), clamp_score(100 * sigmoid(value, x0, 0.1)), "ratio")


def _crop_measure(name: str) -> MeasureFn:
    def measure(analysis) -> Measurement:
        return _crop(analysis, name)
    return measure


for _name in ("crop_left", "crop_right", "margin_above", "margin_below"):
    register(_name)(_crop_measure(_name))
