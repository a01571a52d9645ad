"""The result of analysing a capture: detected faces, the main face's landmarks, the person
mask, and the geometry measures derive from them (see ``photocore.analysis``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from ..decode import Capture, Pixels
from . import landmarks as L
from .pose import head_pose

if TYPE_CHECKING:
    from .hands import HandSearch

Points: TypeAlias = NDArray[np.float64]  # landmarks and points derived from them, analysis pixels
Mask: TypeAlias = NDArray[np.float32]  # 0..1 per pixel
T = TypeVar("T")


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]  # x, y, width, height in analysis pixels
    score: float

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


@dataclass(eq=False)
class Analysis:
    """What the face models found in one capture, and the geometry derived from it.

    Read-only once built, and safe to share between threads. Derived geometry is computed on
    first use (``cached_property``). Measures that need the same intermediate numbers (a
    histogram of the face, the background mask) share them through ``shared``: the one
    per-analysis cache, keyed by the function that computes the value.
    """

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
    _shared: dict[Callable[[Analysis], object], object] = field(default_factory=dict, init=False, repr=False)

    def shared(self, compute: Callable[[Analysis], T]) -> T:
        """``compute(self)``, computed once per analysis and then handed to every caller.

        For work several measures need (``compute`` must be a pure function of the analysis).
        Two threads asking at once may both compute it; the first value stored is the one kept,
        so every caller sees the same object.
        """
        try:
            return cast(T, self._shared[compute])
        except KeyError:
            return cast(T, self._shared.setdefault(compute, compute(self)))

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

    @property
    def small_scale(self) -> float:
        """``small`` pixels per analysis pixel (the person mask's scale too)."""
        return self.small.shape[1] / self.image.shape[1]

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
        fx = self.small_scale
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
        fx, fy = self.small_scale, mask.shape[0] / self.image.shape[0]
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
