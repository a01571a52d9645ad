"""Face occlusion by a hand: the share of the face oval a hand covers.

The hand model (MediaPipe's palm detector and hand landmarks, see ``analysis/hands.py``) runs
only when a cheap cue says something may be in front of the face. Each hand it finds is drawn
from its 21 landmarks: the palm (wrist and finger roots) filled, each finger a line as thick as
a quarter of the palm's width. The value is the share of the face those hands cover, the face
being the mesh's face oval widened by ``RIM`` of the face width all round: fingers resting on the
jaw line or the edge of a cheek touch the face there without covering the oval itself.

The capture profile fails any share above 0.013 and leaves a hand that only grazes the widened
oval to the clerk (limit 0, uncertainty 0.013). Fitted leaving one person out on two real hands
pasted at the chin, mouth, a cheek and an eye of the 51 London neutral faces (must fail) and
beside them (must pass), with the hand model run on every image: held out, none of the 102
hands beside a face failed and 3 of 409 hands over one (408 pasted, 1 real) were missed, each one the model did not
find (benchmarks/fit_occlusion.py). The real photo of fingers on a chin (../shared/faces
interfaces/051) covers 0.025.

What is not a hand (a mask, a scarf across the face, a phone) is not looked for, so a capture
is never said to be free of occlusion: without a hand over the face the measure reports not
assessed and says what was and was not looked at.
"""

import cv2
import numpy as np

from ..analysis import Analysis
from ..analysis import landmarks as L
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure

PALM = [0, 1, 5, 9, 13, 17]  # wrist, thumb root, finger roots
FINGERS = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]]
FINGER_WIDTH = 0.25  # of the palm's width (index root to little-finger root)
GRID = 96.0  # the widened face is drawn this many pixels wide
RIM = 0.06  # the face oval is widened by this share of the face width (benchmarks/fit_occlusion.py)

NOT_LOOKED = ("nothing suggested a hand in front of the face, so the hand model did not run; "
              "hands, masks and other things in front of the face: check by eye")
NO_HAND = "no hand over the face; masks and other things in front of it are not looked for: check by eye"


def hand_share(analysis, hands, rim: float = RIM) -> float:
    """Share of the face (the oval widened by ``rim`` face widths) covered by ``hands`` ((21, 2)
    landmark arrays, analysis pixels)."""
    polygon = analysis.mesh[L.FACE_OVAL, :2]
    pad = rim * analysis.face_width
    x0, y0 = polygon.min(axis=0) - pad - 1
    x1, y1 = polygon.max(axis=0) + pad + 1
    scale = GRID / max(x1 - x0, 1.0)
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    oval: np.ndarray = np.zeros(size[::-1], np.uint8)
    cv2.fillPoly(oval, [np.round((polygon - (x0, y0)) * scale).astype(np.int32)], (255,))
    if pad > 0:
        k = 2 * max(1, round(pad * scale)) + 1
        oval = cv2.dilate(oval, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    covered = np.zeros_like(oval)
    for points in hands:
        p = (np.asarray(points, np.float64) - (x0, y0)) * scale
        palm = float(np.linalg.norm(p[5] - p[17]))
        width = max(1, int(round(FINGER_WIDTH * palm)))
        cv2.fillPoly(covered, [cv2.convexHull(np.round(p[PALM]).astype(np.int32))], (255,))
        for finger in FINGERS:
            cv2.polylines(covered, [np.round(p[finger]).astype(np.int32)], False, (255,), width)
    area = int(np.count_nonzero(oval))
    return float(np.count_nonzero(covered & oval)) / area if area else 0.0


@measure
def face_occlusion(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    found = analysis.hands
    details = {f"cue.{k}": round(v, 3) for k, v in found.cues.items()}
    details["looked"] = found.looked
    if not found.looked:
        return NotAssessed(NOT_LOOKED, details)
    share = hand_share(analysis, found.hands) if found.hands else 0.0
    details["hands"] = len(found.hands)
    if share <= 0:
        return NotAssessed(NO_HAND, details)
    return Reading(share, details)
