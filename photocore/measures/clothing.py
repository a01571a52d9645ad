"""The clothing at the shoulders, against the background it will be seen on.

A white top on a white background makes the shoulders vanish, so counters ask people to wear
dark clothes (GA 461: no white top; 社会保障卡: clothes distinct from the white background;
出入境 (北京): dark clothes, not blue or white). What vanishes is the top edge of the shoulders,
so that is what is read, once per capture, on ``Analysis.small`` (the image the segmenter saw):
in each column beside the neck (``COLUMNS``, in face widths from the face's centre line), the
first person pixel below the chin (looked for down to ``ROWS[1]`` eye-to-chin lengths) and the
``BAND`` below it. A column where the mask finds nobody is left out, never guessed: a shoulder
that has merged with the wall in the capture itself leaves too few columns, and the measure
says it cannot tell.

``contrast(measurement, colour)`` is the CIE76 distance from a background colour that the
nearest quarter of those pixels lie within (their 25th percentile): a quarter of the shoulder
line that close to the background and the outline is lost there. The native value is that
distance from white (#FFFFFF), the background most credentials use; each credential is judged
against its own colour, the chosen one or the capture's own wall where the background is kept
(``credentials.py``). Not assessed when the capture ends above the shoulders.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..analysis import Analysis
from .base import NO_FACE, Measurement, NotAssessed, Outcome, Reading, measure

ROWS = (0.1, 1.2)  # where the shoulder line is looked for, below the chin in eye-to-chin lengths
BAND = 0.12  # eye-to-chin lengths of clothing read below the shoulder line
COLUMNS = (0.45, 1.4)  # face widths either side of the centre line: the neck left out
MIN_ROWS = 0.4  # eye-to-chin lengths of ROWS that must lie inside the capture
MIN_COLUMNS = 0.3  # share of the columns that must show the shoulder line
NEAREST = 25  # percentile of the distances: the quarter of the shoulder line nearest the background
WHITE = (100.0, 0.0, 0.0)
STEP = 2  # every 2nd row and column of the small image: a few hundred pixels


def _lab(rgb: np.ndarray) -> np.ndarray:
    """(n, 3) float32 L*, a*, b* of (n, 3) uint8 RGB pixels."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb)[None], cv2.COLOR_RGB2LAB)[0].astype(np.float32)
    lab[:, 0] *= 100 / 255
    lab[:, 1:] -= 128
    return lab


def contrast(m: Measurement, colour) -> float:
    """CIE76 distance from ``colour`` (L*, a*, b*) of the nearest quarter of the shoulder line
    of the ``clothing`` measurement ``m``."""
    return _nearest_quarter(m.details["pixels"], colour)


def _nearest_quarter(pixels: np.ndarray, colour) -> float:
    """The lower 25th percentile of the distances from ``colour``: the value at that rank, no
    interpolation."""
    d: np.ndarray = pixels - np.asarray(colour, dtype=np.float32)
    squared = np.einsum("ij,ij->i", d, d)
    k = (len(squared) - 1) * NEAREST // 100
    return round(math.sqrt(float(np.partition(squared, k)[k])), 1)


def shoulder_pixels(analysis: Analysis) -> tuple[np.ndarray, None] | tuple[None, str]:
    """(n, 3) RGB pixels along the top of the shoulders in ``Analysis.small``, or (None, why)."""
    small, mask = analysis.small, analysis.person_mask_small
    h, w = mask.shape
    f = w / analysis.image.shape[1]
    t, fw = analysis.eye_to_chin * f, analysis.face_width * f
    cx, chin_y = float(analysis.eye_mid[0]) * f, float(analysis.chin[1]) * f
    top, bottom = max(0, int(round(chin_y + ROWS[0] * t))), min(h, int(round(chin_y + ROWS[1] * t)))
    band = max(1, int(round(BAND * t / STEP)))
    if bottom - top < max(2 * band * STEP, MIN_ROWS * t):
        return None, "the shoulders are not in the capture"
    offsets = np.concatenate([np.arange(-COLUMNS[1] * fw, -COLUMNS[0] * fw, STEP),
                              np.arange(COLUMNS[0] * fw, COLUMNS[1] * fw, STEP)])
    cols = np.round(cx + offsets).astype(np.intp)
    cols = cols[(cols >= 0) & (cols < w)]
    person = mask[top:bottom:STEP, cols] > 0.5  # (rows, columns)
    first = person.argmax(axis=0)  # the shoulder line: the first person row in each column
    keep = person.any(axis=0) & (first <= person.shape[0] - band)
    if np.count_nonzero(keep) < MIN_COLUMNS * len(offsets):
        return None, "too little of the shoulders is in the capture"
    rows = top + STEP * (first[keep][None] + np.arange(band)[:, None])
    return small[rows, cols[keep][None]].reshape(-1, 3), None


@measure
def clothing(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    found = shoulder_pixels(analysis)  # kept whole: checking its first part narrows the second
    if found[0] is None:
        return NotAssessed(found[1])
    pixels = _lab(found[0])
    pixels.flags.writeable = False
    mean = pixels.sum(axis=0) / len(pixels)
    details = {"pixels": pixels, "L": round(float(mean[0]), 1), "a": round(float(mean[1]), 1),
               "b": round(float(mean[2]), 1)}
    return Reading(_nearest_quarter(pixels, WHITE), details=details)
