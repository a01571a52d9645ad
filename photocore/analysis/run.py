"""The model runs: find the faces, the 478-point mesh and the person mask in a capture, and
turn a capture that is on its side or upside down upright first."""

from __future__ import annotations

import math

import numpy as np

from ..decode import Capture, Pixels
from . import landmarks as L
from .data import Analysis, DetectedFace, Points
from .images import SMALL_SIDE, shrink
from .models import models


def _detect_faces(small: Pixels, width: int, height: int) -> list[DetectedFace]:
    """Faces found in ``small``, with boxes in the pixels of the width x height analysis image."""
    result = models().detector.process(small)
    faces = []
    for det in result.detections or []:
        rel = det.location_data.relative_bounding_box
        faces.append(DetectedFace(
            box=(rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height),
            score=float(det.score[0]),
        ))
    faces.sort(key=lambda f: f.area, reverse=True)
    return faces


def _mesh(image: Pixels, face: DetectedFace | None) -> Points | None:
    """478 landmarks of the main face, run on a crop around it so the mesh sees the right face."""
    height, width = image.shape[:2]
    x0 = y0 = 0
    crop = image
    if face is not None:
        x, y, w, h = face.box
        side = 1.0 * max(w, h)
        x0, y0 = int(max(0, x - side)), int(max(0, y - side))
        x1, y1 = int(min(width, x + w + side)), int(min(height, y + h + side))
        if x1 - x0 > 8 and y1 - y0 > 8:
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        else:
            x0 = y0 = 0
    result = models().mesh.process(crop)
    if not result.multi_face_landmarks and crop is not image:
        x0 = y0 = 0
        crop = image
        result = models().mesh.process(crop)
    if not result.multi_face_landmarks:
        return None
    ch, cw = crop.shape[:2]
    pts = np.array([(p.x * cw + x0, p.y * ch + y0, p.z * cw) for p in result.multi_face_landmarks[0].landmark],
                   dtype=np.float64)
    return pts


# Orientation without EXIF. On its side: the mesh still finds the face, and the line from the
# mouth to the eyes points sideways. Upside down: the mesh reads the face as upright, but the
# short-range face detector scores it lower than the same picture turned half round. Over the
# 199 portraits of ../shared/faces the half-turned score never beat the upright one (largest
# difference 0.00) and the upright one won by more than the margin in 99.5% (benchmarks/orientation.py).
# That check costs two runs of the short-range detector, so it is skipped when the full-range
# detector, which has already run, is sure of the face: turned half round, the 199 portraits
# scored at most 0.80 with it; from UPRIGHT_SCORE up (0.07 above, held out one person at a
# time no upside-down portrait reaches it) a face is upright. About half of upright captures are.
SIDEWAYS_DEGREES = 60
UPSIDE_DOWN_MARGIN = 0.05
UPRIGHT_SCORE = 0.87


def analyse(capture: Capture) -> Analysis:
    """Run the face models once on ``capture`` and return the shared analysis. A capture on its
    side or upside down is turned upright first (``Analysis.quarter_turns`` says how often;
    ``Capture.turned`` gives the capture to render from)."""
    analysis = _analyse_as_is(capture)
    turns = _turns_to_upright(analysis)
    if turns:
        analysis = _analyse_as_is(capture.turned(turns))
        analysis.quarter_turns = turns
    return analysis


def _turns_to_upright(analysis: Analysis) -> int:
    """Quarter turns counter-clockwise that make the main face upright (0: it is)."""
    if analysis.has_face:
        eyes = (analysis.right_iris + analysis.left_iris) / 2
        mouth = (analysis.point(L.MOUTH_LEFT) + analysis.point(L.MOUTH_RIGHT)) / 2
        up = eyes - mouth
        angle = math.degrees(math.atan2(up[0], -up[1]))  # 0: eyes above the mouth
        if abs(angle) >= SIDEWAYS_DEGREES:
            return round(angle / 90) % 4
        if analysis.faces[0].score >= UPRIGHT_SCORE:
            return 0
    scores = upright_scores(analysis.small, (0, 2) if analysis.has_face else (0, 1, 2, 3))
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > scores[0] + UPSIDE_DOWN_MARGIN else 0


def upright_scores(small: Pixels, turns: tuple[int, ...] = (0, 2)) -> dict[int, float]:
    """The short-range detector's best face score on ``small`` turned by each of ``turns``
    quarter turns (a face the mesh did not find at all may be on its side: all four)."""
    out: dict[int, float] = {}
    for k in turns:
        detections = models().upright.process(np.ascontiguousarray(np.rot90(small, k))).detections or []
        out[k] = max((float(d.score[0]) for d in detections), default=0.0)
    return out


def _analyse_as_is(capture: Capture) -> Analysis:
    image = capture.analysis
    small = shrink(image, SMALL_SIDE)
    faces = _detect_faces(small, image.shape[1], image.shape[0])
    landmarks = _mesh(image, faces[0] if faces else None)
    if landmarks is not None and not faces:
        # The mesh found a face the full-range detector missed: count it as the one face.
        x0, y0 = landmarks[:, 0].min(), landmarks[:, 1].min()
        x1, y1 = landmarks[:, 0].max(), landmarks[:, 1].max()
        faces = [DetectedFace(box=(x0, y0, x1 - x0, y1 - y0), score=0.0)]
    segmentation = models().segmenter.process(small).segmentation_mask
    return Analysis(
        image=image,
        scale=capture.analysis_scale,
        full_size=(capture.width, capture.height),
        faces=faces,
        landmarks=landmarks,
        small=small,
        person_mask_small=np.asarray(segmentation, dtype=np.float32),
        greyscale_source=capture.greyscale_source,
        jpeg_quality=capture.jpeg_quality,
        captured_at=capture.captured_at,
        capture=capture,
    )
