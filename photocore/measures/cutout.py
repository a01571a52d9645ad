"""Whether the person can be cut out of the capture cleanly: the background requirement of
credentials whose background photocore replaces (``background.cutout``).

Their photo never shows the wall, so a busy, shaded or coloured wall does not matter; what
matters is that the matte (``render/matte.py``) finds the person's edge. The matte decides by
colour there: in the hair zone (above the chin, outside the face oval) a patch near the edge
within ``WALLISH`` of the wall's colour (carried in from where the wall is seen) is taken for
wall seen through the hair, and closed-form matting cannot tell hair from a wall of the hair's
own colour. Where the colours differ, a busy wall right behind the head is cut away cleanly.

``background_cutout`` is the share of the head's edge band (person, hair zone, within ``REACH``
face widths of the outline: hair, forehead, ears) whose colour lies within ``WALLISH`` of the
wall beside it: 0 when every part of the head's edge stands out from the wall, near 1 for hair
before a wall of its own colour. Measured against the matte's own error
(benchmarks/background_cutout.py): hair before a wall of its colour (blonde before cream, dark
hair before dark foliage) reads 0.3-1 and the matte leaves holes in the hair or the old wall in
it; plain and busy walls the person stands out from read 0-0.25 and cut cleanly. Missed: a
small patch, such as a bald forehead before a wall of the skin's colour or a clock touching
a shoulder, is too small a share to fail. Clothes are left out: the segmenter is sure of the
shoulders, and a white T-shirt before a white wall cuts out cleanly (how the clothes stand out
from the new colour is ``clothing.contrast``'s).

It is computed once per capture from what the segmenter saw (``Analysis.small`` and its
person mask), on a grid of ``CELLS`` to twice as many cells per face width over the photo's
region (30 x 40 to 65 x 80 cells), with the matte's own steps and constants, so that the check
judges what the renderer will do: about 0.2-0.4 ms.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..analysis import Analysis
from ..analysis import landmarks as L
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure

CELLS = 16  # grid cells per face width, at least
# The photo's region around the face, in face widths: the credentials' frames lie about inside it.
SIDE, ABOVE_EYES, BELOW_CHIN = 1.0, 1.4, 0.6
MIN_FACE = 24  # px: a face narrower than this in the segmenter's image has no edge to judge
MIN_WALL = 0.03  # share of the region the segmenter is sure is wall, below which there is nothing to compare
MIN_BAND = 0.05  # area of the head's edge band, in square face widths


@measure
def background_cutout(analysis: Analysis) -> Outcome:
    # the matte's own steps and constants; imported here, as the render package imports the
    # judge, which imports the measures
    from ..render.matte import REACH, UNSURE, WALLISH, extend, wall_distance

    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    small, mask = analysis.small, analysis.person_mask_small
    factor = analysis.small_scale
    width = analysis.face_width * factor
    if width < MIN_FACE:
        return NotAssessed("the head is too small in the picture to judge its outline")
    (cx, cy), chin = analysis.eye_mid * factor, analysis.chin[1] * factor
    # cells of ``step`` x ``step`` pixels (a whole number: averaging them is OpenCV's fast path)
    step = max(1, int(width / CELLS))
    h, w = mask.shape
    x0, y0 = int(max(0, cx - SIDE * width)), int(max(0, cy - ABOVE_EYES * width))
    cols = (int(min(w, cx + SIDE * width)) - x0) // step
    rows = (int(min(h, chin + BELOW_CHIN * width)) - y0) // step
    if cols < 4 or rows < 4:
        return NotAssessed("the head is at the edge of the picture")
    x1, y1, k = x0 + cols * step, y0 + rows * step, 1 / step
    colour = cv2.resize(small[y0:y1, x0:x1], (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float32)
    person = cv2.resize(mask[y0:y1, x0:x1], (cols, rows), interpolation=cv2.INTER_AREA)
    cells_per_face = width * k
    seen = person < UNSURE[0]
    wall_share = float(np.count_nonzero(seen)) / seen.size
    if wall_share < MIN_WALL:
        return NotAssessed("almost no background is visible around the head")
    inside = (person > 0.5).view(np.uint8)
    # the hair zone, as the matte's: above the chin, outside the face oval
    zone = np.zeros(person.shape, np.uint8)
    zone[:max(0, int((chin - y0) * k))] = 1
    oval = np.round((analysis.mesh[L.FACE_OVAL, :2] * factor - (x0, y0)) * k - 0.5).astype(np.int32)
    cv2.fillPoly(zone, [oval], (0,))
    band = (zone & inside).view(bool) & (cv2.distanceTransform(inside, cv2.DIST_L2, 3) < REACH * cells_per_face)
    cells = int(np.count_nonzero(band))
    if cells < MIN_BAND * cells_per_face ** 2:
        return NotAssessed("too little of the head's outline is visible to judge")
    like_wall = band & (wall_distance(colour, extend(colour, seen)) < WALLISH)
    return Reading(np.count_nonzero(like_wall) / cells,
                   details={"edge_band": round(cells / cells_per_face ** 2, 3), "wall_seen": round(wall_share, 3)})
