"""Analyse a capture once: faces, 478 landmarks, head pose, person mask, key geometry.

Everything downstream (measures, judging, rendering) reads this one ``Analysis`` and never
runs a model again. Geometry is in the pixel coordinates of ``Analysis.image`` (the capture
decoded at analysis size); multiply by ``Analysis.scale`` for full-resolution pixels.

The face detector and the person segmenter see 192 and 256 pixel inputs whatever they are
given, so they get ``Analysis.small`` (long side ``SMALL_SIDE``) and the resize inside
MediaPipe stays cheap; the face mesh runs on a crop of the analysis image around the face.

Thread safety: ``analyse`` may be called from several threads at once; each thread uses its
own model graphs (see ``models.py``). An ``Analysis`` is read-only once built and may be
shared between threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, TypeAlias, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from ..decode import Capture, Pixels
from . import landmarks as L
from .models import models
from .pose import head_pose

if TYPE_CHECKING:
    from .hands import HandSearch

Points: TypeAlias = NDArray[np.float64]  # landmarks and points derived from them, analysis pixels
Mask: TypeAlias = NDArray[np.float32]  # 0..1 per pixel


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]  # x, y, width, height in analysis pixels
    score: float

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


@dataclass(eq=False)
class Analysis:
    image: Pixels  # RGB uint8, analysis size
    scale: float  # full-resolution pixels per analysis pixel
    full_size: tuple[int, int]  # (width, height) of the capture
    faces: list[DetectedFace]  # every detected face, largest first
    landmarks: Points | None  # (478, 3) main face; x, y in pixels, z in the same unit
    small: Pixels  # RGB, long side SMALL_SIDE: what the detector and segmenter saw
    person_mask_small: Mask  # float32, same size as ``small``, 1 = person (head, hair, body)
    greyscale_source: bool = False
    jpeg_quality: int | None = None
    captured_at: datetime | None = None  # from the file's EXIF, when the camera wrote it
    quarter_turns: int = 0  # the capture was on its side or upside down: turned this often (see analyse)
    # The capture analysed, upright (already turned by ``quarter_turns``): ``photocore.convert``
    # renders from it, so a kiosk converts from the analysis without running the models again.
    # None for an analysis not made by ``analyse`` (a live frame's tracking result).
    capture: Capture | None = field(default=None, repr=False)

    # -- main-face geometry, derived once on first use -------------------------------------
    @property
    def has_face(self) -> bool:
        return self.landmarks is not None

    @property
    def mesh(self) -> Points:
        """``landmarks`` of the main face; every geometry property below reads it, so they are
        for an analysis with a face (``has_face``) only."""
        if self.landmarks is None:
            raise ValueError("this analysis found no face: it has no face geometry (check has_face first)")
        return self.landmarks

    def point(self, index: int) -> Points:
        """(x, y) of landmark ``index``."""
        xy: Points = self.mesh[index, :2]
        return xy

    @cached_property
    def right_iris(self) -> Points:
        return self.point(L.RIGHT_IRIS[0])

    @cached_property
    def left_iris(self) -> Points:
        return self.point(L.LEFT_IRIS[0])

    @cached_property
    def eye_mid(self) -> Points:
        return (self.right_iris + self.left_iris) / 2

    @cached_property
    def inter_eye(self) -> float:
        """Distance between the iris centres, analysis pixels."""
        return float(np.linalg.norm(self.left_iris - self.right_iris))

    @cached_property
    def chin(self) -> Points:
        return self.point(L.CHIN)

    @cached_property
    def face_width(self) -> float:
        """Width of the face at ear (tragion) level, analysis pixels."""
        return float(np.linalg.norm(self.point(L.LEFT_CHEEK_EDGE) - self.point(L.RIGHT_CHEEK_EDGE)))

    @cached_property
    def head_width(self) -> float:
        """Width of the head including hair and ears at eye level, from the person mask.

        Falls back to 1.21 x the face width (the London median) when the mask there does not
        look like one head (hair merging with a dark background, a hand beside the face).
        """
        mask = self.person_mask_small
        fx = mask.shape[1] / self.image.shape[1]
        row = mask[min(mask.shape[0] - 1, int(self.eye_mid[1] * mask.shape[0] / self.image.shape[0]))] > 0.5
        x = int(np.clip(self.eye_mid[0] * fx, 0, mask.shape[1] - 1))
        if row[x]:
            outside = np.flatnonzero(~row)
            left = outside[outside < x].max(initial=-1) + 1
            right = outside[outside > x].min(initial=row.size)
            width = (right - left) / fx
            if 1.0 <= width / self.face_width <= 1.6:
                return float(width)
        return 1.21 * self.face_width

    @cached_property
    def eye_to_chin(self) -> float:
        """OFIQ's reference length T: eye midpoint to chin."""
        return float(np.linalg.norm(self.chin - self.eye_mid))

    @cached_property
    def pose(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees; see pose.py for the conventions."""
        return head_pose(self.mesh)

    @cached_property
    def eye_openness(self) -> tuple[float, float]:
        """Lid opening / eye width for the subject's right and left eye (about 0.3 open, <0.1 shut)."""
        def ratio(outer: int, inner: int, pairs: list[tuple[int, int]]) -> float:
            width = np.linalg.norm(self.point(outer) - self.point(inner))
            opening = np.mean([np.linalg.norm(self.point(a) - self.point(b)) for a, b in pairs])
            return float(opening / max(width, 1e-6))
        right = ratio(L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER,
                      [(L.RIGHT_EYE_UPPER, L.RIGHT_EYE_LOWER), (L.RIGHT_EYE_UPPER_2, L.RIGHT_EYE_LOWER_2),
                       (L.RIGHT_EYE_UPPER_3, L.RIGHT_EYE_LOWER_3)])
        left = ratio(L.LEFT_EYE_OUTER, L.LEFT_EYE_INNER,
                     [(L.LEFT_EYE_UPPER, L.LEFT_EYE_LOWER), (L.LEFT_EYE_UPPER_2, L.LEFT_EYE_LOWER_2),
                      (L.LEFT_EYE_UPPER_3, L.LEFT_EYE_LOWER_3)])
        return right, left

    @cached_property
    def mouth_openness(self) -> float:
        """Largest inner-lip gap divided by T, as OFIQ's MouthClosed."""
        gap = max(np.linalg.norm(self.point(a) - self.point(b)) for a, b in L.INNER_LIP_PAIRS)
        return float(gap / max(self.eye_to_chin, 1e-6))

    @cached_property
    def person_mask(self) -> Mask:
        """The person mask at analysis size (float32 in [0, 1])."""
        h, w = self.image.shape[:2]
        return cast(Mask, cv2.resize(self.person_mask_small, (w, h), interpolation=cv2.INTER_LINEAR))

    @cached_property
    def crown(self) -> tuple[Points, bool]:
        """Top of the head including hair, from the person mask, and whether it is inside the frame.

        Scans the mask upward from the top of the face mesh in a band around the face midline;
        the crown is where the person ends. If the person reaches the image's top edge, the
        crown is cut off and the returned point sits on the edge.
        """
        top = self.point(L.FOREHEAD_TOP)
        mask = self.person_mask_small
        fx, fy = mask.shape[1] / self.image.shape[1], mask.shape[0] / self.image.shape[0]
        half = max(1, int(0.12 * self.face_width * fx))
        cx = int(top[0] * fx)
        x0, x1 = max(0, cx - half), min(mask.shape[1], cx + half + 1)
        y_start = int(np.clip(top[1] * fy, 0, mask.shape[0] - 1))
        band = mask[: y_start + 1, x0:x1] > 0.5
        if band.size == 0:
            return np.array([top[0], top[1]]), True
        rows = np.arange(band.shape[0])[:, None]
        # In each column, the last row above the forehead point that is not the person.
        last_out = np.where(~band, rows, -1).max(axis=0)
        crown_y = float(np.median(last_out + 1)) / fy
        return np.array([float(top[0]), crown_y]), bool(crown_y > 0.5 / fy)

    @cached_property
    def hands(self) -> HandSearch:
        """Hands at the main face (``hands.HandSearch``): the hand model runs, at most once per
        analysis and only on first use, when a cheap cue says something may be in front of the face."""
        from .hands import search
        return search(self)

    @cached_property
    def face_polygon(self) -> NDArray[np.int32]:
        return self.mesh[L.FACE_OVAL, :2].astype(np.int32)

    @cached_property
    def face_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the face oval's bounding box, clipped to the image.

        Every face-mask pixel lies inside it, so face measures read this box (about a tenth
        of the image) and get the same pixels as from the whole image.
        """
        x, y, w, h = cv2.boundingRect(self.face_polygon)
        height, width = self.image.shape[:2]
        x0, y0 = max(0, x), max(0, y)
        return x0, y0, max(x0, min(width, x + w)), max(y0, min(height, y + h))

    @cached_property
    def face_mask(self) -> Pixels:
        """uint8 mask of the landmarked face region (the face oval) within ``face_box``."""
        x0, y0, x1, y1 = self.face_box
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        if mask.size:
            cv2.fillPoly(mask, [self.face_polygon - np.array([x0, y0], np.int32)], (255,))
        return mask

    @cached_property
    def face_grey(self) -> Pixels:
        """Grey levels of ``face_box`` (RGB to grey is per pixel: equal to those of the whole image)."""
        x0, y0, x1, y1 = self.face_box
        return self.grey_at(slice(y0, y1), slice(x0, x1), face=False)

    def grey_at(self, rows: slice, cols: slice, face: bool = True) -> Pixels:
        """``grey(image)[rows, cols]`` without converting the whole image: a view of
        ``face_grey`` when the region lies in the face box, else that region converted alone."""
        height, width = self.image.shape[:2]
        r0, r1, rstep = rows.indices(height)
        c0, c1, cstep = cols.indices(width)
        if face and rstep == cstep == 1 and self.has_face:
            x0, y0, x1, y1 = self.face_box
            if x0 <= c0 < c1 <= x1 and y0 <= r0 < r1 <= y1:
                view: Pixels = self.face_grey[r0 - y0: r1 - y0, c0 - x0: c1 - x0]
                return view
        region: Pixels = self.image[rows, cols]
        if region.size == 0:
            return np.zeros(region.shape[:2], np.uint8)
        if cstep != 1 and rstep > 0:
            # Gathering every n-th 3-byte pixel is slow: convert whole rows, then pick columns.
            rows_grey = cast(Pixels, cv2.cvtColor(self.image[rows], cv2.COLOR_RGB2GRAY))
            picked: Pixels = rows_grey[:, cols]
            return picked
        if rstep < 0 or cstep != 1:
            region = np.ascontiguousarray(region)
        return cast(Pixels, cv2.cvtColor(region, cv2.COLOR_RGB2GRAY))


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
