"""Exposure: is the face neither too dark nor too bright, and is anything clipped?

Native value: mean grey level of the face oval (0 black, 1 white, sRGB-encoded). Linear
luminance (OFIQ LuminanceMean 0x44) reads a well-lit dark-skinned face as "underexposed"
(OFIQ issue #93), so the judge also looks at the brightest part of the whole image: a
correctly exposed capture has a light background or highlights whatever the skin tone.
``details``: shares of clipped face pixels (as OFIQ 0x46/0x47, on sRGB values) and the 99th
percentile of the whole image.
"""

import cv2
import numpy as np

from .base import NO_FACE, Measurement, clamp_score, not_assessed, register, sigmoid


@register("exposure")
def exposure(analysis) -> Measurement:
    if not analysis.has_face:
        return not_assessed("exposure", "grey", NO_FACE)
    x, y, w, h = cv2.boundingRect(analysis.face_polygon)  # the oval's box: the same pixels, 10x fewer tests
    x, y = max(0, x), max(0, y)
    values = analysis.grey[y: y + h, x: x + w][analysis.face_mask[y: y + h, x: x + w] > 0]
    if values.size == 0:
        return not_assessed("exposure", "grey", "the face region is empty")
    mean = float(values.mean()) / 255.0
    image_p99 = float(np.percentile(analysis.grey[::4, ::4], 99)) / 255.0
    score = 100 * sigmoid(mean, 0.15, 0.04) * (1 - sigmoid(mean, 0.9, 0.03)) * sigmoid(image_p99, 0.35, 0.05)
    return Measurement("exposure", round(mean, 3), clamp_score(score), "grey",
                       details={"dark_share": round(float(np.mean(values <= 8)), 4),
                                "bright_share": round(float(np.mean(values >= 250)), 4),
                                "image_p99": round(image_p99, 3)})
