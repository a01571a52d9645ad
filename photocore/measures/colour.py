"""Natural colour: skin colour cast on the cheeks (OFIQ NaturalColour 0x4B), and greyscale.

Native value: distance in CIELAB (a*, b*) from the box of natural skin colours
a* in [5, 25], b* in [5, 35]. A greyscale capture (no colour channel in the file, or no
chroma anywhere) has no skin colour to read and is flagged in ``details``.
"""

import cv2
import numpy as np

from ..analysis import Analysis
from ..analysis import landmarks as L
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure

A_RANGE, B_RANGE = (5.0, 25.0), (5.0, 35.0)
GREY_CHROMA = 3.0  # mean chroma below this: the image carries no colour


def _distance(value: float, low: float, high: float) -> float:
    return max(low - value, 0.0, value - high)


def _every_eighth(image: np.ndarray) -> np.ndarray:
    """``image[::8, ::8]`` as a contiguous array; copied as whole 3-byte pixels, which numpy
    does several times faster than byte by byte."""
    if not image.flags.c_contiguous:
        return np.ascontiguousarray(image[::8, ::8])
    pixels = image.view(np.dtype((np.void, 3))).reshape(image.shape[:2])
    return np.ascontiguousarray(pixels[::8, ::8]).view(np.uint8).reshape(*pixels[::8, ::8].shape, 3)


@measure
def skin_colour(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    # Chroma over a sparse grid of the whole image is enough to tell a greyscale capture.
    sparse = cv2.cvtColor(_every_eighth(analysis.image), cv2.COLOR_RGB2LAB).astype(np.float32)
    a_star, b_star = sparse[..., 1] - 128, sparse[..., 2] - 128
    # sqrt(a² + b²) equals np.hypot here (checked for all 65 536 pairs of whole a*, b*), 2x faster
    mean_chroma = float(np.sqrt(a_star * a_star + b_star * b_star).mean())
    greyscale = analysis.greyscale_source or mean_chroma < GREY_CHROMA
    half = max(2, int(0.15 * analysis.inter_eye))
    samples = []
    for idx in (L.RIGHT_CHEEK, L.LEFT_CHEEK):
        x, y = analysis.point(idx).astype(int)
        patch = analysis.image[max(0, y - half): max(0, y + half + 1), max(0, x - half): max(0, x + half + 1)]
        if patch.size:
            samples.append(cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_RGB2LAB).reshape(-1, 3))
    if not samples:
        return NotAssessed("the cheeks are outside the image")
    mean = np.concatenate(samples).astype(np.float32).mean(axis=0)
    a, b = float(mean[1] - 128), float(mean[2] - 128)
    distance = 100.0 if (a < 0 or b < 0) else float(np.hypot(_distance(a, *A_RANGE), _distance(b, *B_RANGE)))
    if greyscale:
        distance = 0.0
    return Reading(distance, details={"a": round(a, 1), "b": round(b, 1), "greyscale": bool(greyscale),
                                      "mean_chroma": round(mean_chroma, 2)})
