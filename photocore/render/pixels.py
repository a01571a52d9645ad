"""Level, cut, resample and recolour every credential's photo from one capture.

All of a capture's photos share the roll (the eyes are levelled) and the person; they differ
only in crop, scale and background colour. So the matte is made once, on the part of the
capture that any photo uses: the person's own colour premultiplied by how much of each pixel
is the person, with the background's share as a fourth channel (see matte.py). A half-octave
pyramid of that RGBA region serves every photo that replaces its background with one warp
(levels the eyes, cuts the frame, scales by less than 1.41x, so no visible aliasing and no
enlargement beyond the profile's allowance), then a per-pixel composite with its background
colour; a pyramid of the capture's own pixels serves the photos that keep theirs. The face
itself is never retouched: where the person covers a pixel whole, it is the capture's pixel.

The matte lives in capture coordinates, not in a levelled "master" image, so each photo is
resampled once: a levelled master resampled again per photo measured about 9% softer (high
frequencies) than one warp, for no gain in speed.

Coordinates are continuous (pixel i covers [i, i + 1)), so every resample maps pixel centres
exactly: a photo's pixel X sits at levelled capture x = frame.left + (X + 0.5) * step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeAlias

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..analysis import landmarks as L
from ..framing import Frame
from ..measures.base import histogram_median
from .matte import fill_hair_gaps, on_grid, solve, trimap

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..decode import Capture
    from .encode import Files

Photo: TypeAlias = NDArray[np.uint8]  # a photo's pixels: RGB, grey, or the matte's RGBA (see ``cut``)

# The matte is solved on a grid this many times coarser than the region (about the person
# mask's own resolution) and brought to full size along the region's colours (see matte.py).
MATTE_STEP = 4


class Source:
    """The capture's pixels for one set of frames, built once per capture.

    The region all frames need, with its matte, is made on the first ``cut`` (so it counts as
    rendering), its smaller levels as photos need them: those of the matte (premultiplied
    person, background share) for photos that replace the background, those of the capture's
    own pixels for photos that keep it.
    """

    def __init__(self, capture: Capture, analysis: Analysis, frames: Iterable[Frame], matted: Iterable[Frame],
                 roll_deg: float, centre: ArrayLike) -> None:
        """``frames``: every photo's frame; ``matted``: those of photos that replace the background."""
        self.capture, self.analysis = capture, analysis
        self.frames = [f for f in frames if f.feasible]
        self.matted = [f for f in matted if f.feasible]
        theta = math.radians(roll_deg)
        self.rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        self.centre = np.asarray(centre, dtype=np.float64)
        long_side = max(capture.width, capture.height)
        max_scale = max((f.scale for f in self.frames), default=1.0)
        self.base = capture.pixels(math.ceil(long_side * min(1.0, max_scale) * 1.02))
        self.region: Pyramid | None = None  # the capture's own pixels (RGB)
        self.matte: Pyramid | None = None  # premultiplied person and background share (RGBA), when a photo replaces it
        self._roi = (np.zeros(2, int), np.zeros(2, int))  # base pixels [lo, hi) of ``region``
        self.encode_hint: dict[str, float] = {}  # how large this capture's JPEGs come out (see encode)
        # (pixel key, background, width) -> (finished pixels, files encoded from them)
        self.photos: dict[tuple[str, str | None, int], tuple[Photo, Files]] = {}
        self.cuts: dict[Frame, Photo] = {}  # frame -> its cut, before any colour change
        # frame -> its capture's own pixels, for photos that keep the background
        self.plain_cuts: dict[Frame, Photo] = {}

    def to_capture(self, frame: Frame, points: ArrayLike) -> NDArray[np.float64]:
        """Capture points (continuous px) of ``points`` given in ``frame``'s output pixels."""
        step = frame.crop_width / frame.width_px
        levelled = np.array([frame.left, frame.top]) + np.asarray(points, dtype=np.float64) * step
        return (levelled - self.centre) @ self.rot.T + self.centre

    def region_for(self, frame: Frame, matte: bool = False) -> Pyramid:
        """The region covering ``frame`` (its matte if ``matte``, else the capture's pixels);
        rebuilt (once) if a frame outside the first set comes."""
        if self.region is None:
            self.region, self.matte = self._region(self.frames or [frame])
        if frame not in self.frames:  # else the region was built around it
            lo, hi = self._bounds([frame])
            if (lo < self._roi[0]).any() or (hi > self._roi[1]).any():
                self.frames.append(frame)
                self.region, self.matte = self._region(self.frames)
        pyramid = self.matte if matte else self.region
        if pyramid is None:
            raise ValueError("a matte was asked of a source whose photos all keep their background")
        return pyramid

    def _bounds(self, frames: list[Frame]) -> tuple[NDArray[np.int_], NDArray[np.int_]]:
        """Base pixels [lo, hi) (clipped to the image) that warps for ``frames`` read, with a
        margin of 4 px of the smallest pyramid level they use (its borders, the last taps)."""
        base = self.base
        k0 = np.array([base.shape[1] / self.capture.width, base.shape[0] / self.capture.height])
        corners = np.concatenate([self.to_capture(f, [(0, 0), (f.width_px, 0), (0, f.height_px),
                                                      (f.width_px, f.height_px)]) for f in frames]) * k0
        margin = 2 + math.ceil(4 * k0[0] / min(f.scale for f in frames))
        lo = np.maximum(np.floor(corners.min(axis=0)) - margin, 0).astype(int)
        hi = np.minimum(np.ceil(corners.max(axis=0)) + margin, base.shape[1::-1]).astype(int)
        return lo, hi

    def _region(self, frames: list[Frame]) -> tuple[Pyramid, Pyramid | None]:
        """The capture around all ``frames`` at the largest scale any needs, and its matte
        (premultiplied person, background share 0..255) when a photo replaces the background."""
        base = self.base
        self._roi = (x0, y0), (x1, y1) = self._bounds(frames)
        k0 = np.array([base.shape[1] / self.capture.width, base.shape[0] / self.capture.height])
        image, k, o = Pyramid(base[y0:y1, x0:x1], k0, -np.array([x0, y0])).level_for(max(f.scale for f in frames))
        if not self.matted:
            return Pyramid(image, k, o), None
        n = MATTE_STEP  # the matte's coarse grid: exactly n region px per cell
        image = image[:image.shape[0] // n * n, :image.shape[1] // n * n]
        mask, full = self.analysis.person_mask_small, self.analysis.full_size
        km = np.array([mask.shape[1] / full[0], mask.shape[0] / full[1]])
        m = np.zeros((2, 3))  # coarse pixel j is region point n (j + 0.5), capture (u - o) / k
        m[0, 0], m[1, 1] = n * km / k
        m[:, 2] = km * (n / 2 - o) / k - 0.5
        person = cv2.warpAffine(mask, m, (image.shape[1] // n, image.shape[0] // n),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        analysis = self.analysis  # landmarks in analysis px; the region's point is k * capture + o
        oval = k * analysis.mesh[L.FACE_OVAL, :2] * analysis.scale + o
        grid = on_grid(image, person, k[1] * analysis.chin[1] * analysis.scale + o[1], oval)
        matte = solve(image, grid, fill_hair_gaps(grid, trimap(grid)))
        return Pyramid(image, k, o), Pyramid(matte, k, o)


def median_colour(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-channel median of ``rgb`` where ``mask`` is set (white when it is empty): exactly
    np.median's answer, read from 256-bin histograms instead of sorting the pixels."""
    hists = [cv2.calcHist([rgb], [c], mask, [256], [0, 256]).ravel().cumsum() for c in range(3)]
    if hists[0][-1] == 0:
        return np.full(3, 255.0, np.float32)
    return np.array([histogram_median(h) for h in hists], np.float32)


class Pyramid:
    """An image and its reductions by half an octave (each 1/sqrt(2) of the one above), made on
    first use, so any scale is one bilinear warp away from a level at most 1.41x larger (no
    visible aliasing). Level i's point is k_i * p + o_i for capture point p (continuous px,
    per axis).
    """

    def __init__(self, image: np.ndarray, k, o):
        self.levels = [(image, np.asarray(k, dtype=np.float64), np.asarray(o, dtype=np.float64))]

    def level_for(self, scale: float):
        """(image, k, o) of the smallest level with at least ``scale`` pixels per capture pixel:
        whole octaves by pyrDown, the half octaves between by ``_half_octave``."""
        while self.levels[-1][1][0] / math.sqrt(2) >= scale and min(self.levels[-1][0].shape[:2]) > 32:
            i = len(self.levels)
            if i % 2 == 0:  # a whole octave below level i - 2; pyrDown keeps the even pixels, so
                image, k, o = self.levels[i - 2]  # its pixel j is centred on pixel 2j: v = (u + 0.5) / 2
                self.levels.append((cv2.pyrDown(image), k / 2, (o + 0.5) / 2))
            else:  # half an octave below level i - 1 (cv2.resize maps pixel centres)
                image, k, o = self.levels[i - 1]
                small = _half_octave(image)
                r = np.array([small.shape[1] / image.shape[1], small.shape[0] / image.shape[0]])
                self.levels.append((small, k * r, o * r))
        for level in reversed(self.levels):
            if level[1][0] >= scale * (1 - 1e-9):
                return level
        return self.levels[0]


def _half_octave(image: np.ndarray) -> np.ndarray:
    """``image`` reduced by sqrt(2): a small Gaussian, then bilinear.

    As anti-aliased as INTER_AREA at this factor (sigma 0.45 matches its aliasing on a zone
    plate) and about six times cheaper: INTER_AREA has no fast path for non-integer factors.
    """
    h, w = image.shape[:2]
    size = (max(1, round(w / math.sqrt(2))), max(1, round(h / math.sqrt(2))))
    return cv2.resize(cv2.GaussianBlur(image, (3, 3), 0.45), size, interpolation=cv2.INTER_LINEAR)


def cut(source: Source, frame: Frame) -> np.ndarray:
    """``frame``'s pixels: the matte (premultiplied person, background share: RGBA) when the
    source has one, else the capture's own (RGB). One bilinear warp from the region's level
    just above the frame's scale, which levels the eyes (rotation about the eye centre), cuts
    and scales.
    """
    return _warp(source, source.region_for(frame, matte=bool(source.matted)), frame)


def photo_pixels(source: Source, frame: Frame) -> np.ndarray:
    """``frame``'s own pixels (RGB), for a photo that keeps its background: the capture's, not
    the matte's, so they are the capture's pixels exactly, edges included."""
    if not source.matted:
        return cut(source, frame)
    if frame not in source.plain_cuts:
        source.plain_cuts[frame] = _warp(source, source.region_for(frame), frame)
    return source.plain_cuts[frame]


def _warp(source: Source, pyramid: Pyramid, frame: Frame) -> np.ndarray:
    image, k, o = pyramid.level_for(frame.scale)
    step = frame.crop_width / frame.width_px  # capture px per output px
    m = np.zeros((2, 3))
    m[:, :2] = np.diag(k) @ source.rot * step
    m[:, 2] = k * source.to_capture(frame, (0.5, 0.5)) + o - 0.5
    return cv2.warpAffine(image, m, (frame.width_px, frame.height_px), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def replace_background(photo: np.ndarray, new_hex: str) -> np.ndarray:
    """``photo`` (premultiplied person + background share, see ``cut``) on ``new_hex``.

    out = alpha F + (1 - alpha) new: the person's own colour where it covers the pixel, the new
    colour where the wall did, nothing of the old wall, so hair strands keep their colour and
    the new background is flat. Per channel, in 8 bits with one rounding (addWeighted).
    """
    new = np.array([int(new_hex[i:i + 2], 16) for i in (1, 3, 5)], np.float64)
    *person, share = cv2.split(photo)
    return cv2.merge([cv2.addWeighted(c, 1, share, v / 255, 0) for c, v in zip(person, new, strict=True)])


def to_grey(photo: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
