"""Sharpness of the face: variance of the Laplacian at a fixed face scale (cf. OFIQ 0x49).

The face is resampled so that the eyes are ``REFERENCE_IED`` pixels apart before measuring,
so the value means the same for a webcam frame and a 12-megapixel capture: it asks whether
the face is sharp at the size an ID photo uses, not at the sensor's size.
"""

import cv2
import numpy as np

from ..analysis import Analysis
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure, variance

REFERENCE_IED = 90.0  # ICAO's minimum inter-eye distance for a portrait


@measure
def sharpness(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    grey, mask = analysis.face_grey, analysis.face_mask  # the face oval's box
    if grey.size < 16:
        return NotAssessed("the face is too small to measure")
    factor = REFERENCE_IED / max(analysis.inter_eye, 1e-6)
    size = (max(8, int(grey.shape[1] * factor)), max(8, int(grey.shape[0] * factor)))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(grey, size, interpolation=interpolation)
    inside = cv2.erode(cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST), np.ones((5, 5), np.uint8))
    laplacian = cv2.Laplacian(scaled, cv2.CV_32F, ksize=3)  # whole numbers: exact from uint8 too
    values = laplacian[inside > 0].astype(np.float32, copy=False)
    if values.size < 16:
        return NotAssessed("the face is too small to measure")
    # values is a fresh copy: variance may overwrite it
    return Reading(variance(values), details={"upsampled": factor > 1})
