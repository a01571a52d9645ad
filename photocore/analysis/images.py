"""Image helpers the analysis and the measures share: linear luminance, shrinking."""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np

from ..decode import Pixels

_SRGB = np.arange(256, dtype=np.float64) / 255.0
_LINEAR_LUT = np.round(255 * np.where(_SRGB <= 0.04045, _SRGB / 12.92, ((_SRGB + 0.055) / 1.055) ** 2.4)
                       ).astype(np.uint8)
_Y_WEIGHTS = np.array([[0.2126, 0.7152, 0.0722]], dtype=np.float32)  # R, G, B (IEC 61966-2-1)


def linear_luminance(rgb: Pixels) -> Pixels:
    """uint8 linear luminance of an sRGB image: linearise each channel, then Y = 0.2126R + ..."""
    if rgb.size == 0:  # OpenCV refuses empty arrays; an empty region has an empty luminance
        return np.zeros(rgb.shape[:2], np.uint8)
    return cast(Pixels, cv2.transform(cv2.LUT(rgb, _LINEAR_LUT), _Y_WEIGHTS))


SMALL_SIDE = 384


def shrink(image: Pixels, side: int) -> Pixels:
    """``image`` with its long side at most ``side``: Gaussian pyramid, then one linear step."""
    while max(image.shape[:2]) >= 2 * side:
        image = cast(Pixels, cv2.pyrDown(image))
    h, w = image.shape[:2]
    factor = side / max(h, w)
    if factor >= 1:
        return np.ascontiguousarray(image)
    return cast(Pixels, cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))),
                                   interpolation=cv2.INTER_LINEAR))
