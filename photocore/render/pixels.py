"""Cut, level, resample and recolour one credential's photo from the capture.

One affine transform per rendition levels the eyes (roll), cuts the frame and scales it; the
pixels come from a half-octave pyramid of the capture, decoded at just the resolution the
largest output needs, so each warp reduces by less than 1.41x (no visible aliasing) and never
enlarges beyond the profile's allowance. The face itself is never retouched: only the background
is replaced, and only where the profile allows it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..framing import Frame


class Source:
    """The capture's pixels at the sizes rendering needs, built once per capture.

    Levels step by half an octave (each 1/sqrt(2) of the one above), so every rendition is
    cut from a level at most 1.41x its own resolution and one bilinear warp does the rest
    without visible aliasing. Levels are made on first use and shared by all renditions.
    """

    def __init__(self, capture, analysis, max_scale: float):
        long_side = max(capture.width, capture.height)
        base = capture.pixels(math.ceil(long_side * min(1.0, max_scale) * 1.02))
        self.levels = [(base, base.shape[1] / capture.width)]  # (image, pixels per capture px)
        self.analysis = analysis
        self._background = None
        self.encode_hint: dict = {}  # how large this capture's JPEGs come out (see encode)
        self.photos: dict = {}  # (pixel key, width) -> (finished pixels, files encoded from them)

    def level_for(self, scale: float):
        """The smallest level with at least ``scale`` pixels per capture pixel."""
        while self.levels[-1][1] / math.sqrt(2) >= scale and min(self.levels[-1][0].shape[:2]) > 32:
            i = len(self.levels)
            if i % 2 == 0:  # a whole octave below level i - 2
                image = cv2.pyrDown(self.levels[i - 2][0])
            else:  # half an octave below level i - 1
                image = _half_octave(self.levels[i - 1][0])
            base, base_factor = self.levels[0]
            self.levels.append((image, base_factor * image.shape[1] / base.shape[1]))
        for image, factor in reversed(self.levels):
            if factor >= scale:
                return image, factor
        return self.levels[0]

    @property
    def background_colour(self) -> np.ndarray:
        """The capture's own background colour (median where the person mask is empty)."""
        if self._background is None:
            small, mask = self.analysis.small, self.analysis.person_mask_small
            pixels = small[mask < 0.1]
            self._background = (np.median(pixels, axis=0) if len(pixels) else np.full(3, 255.0)).astype(np.float32)
        return self._background


def _half_octave(image: np.ndarray) -> np.ndarray:
    """``image`` reduced by sqrt(2): a small Gaussian, then bilinear.

    As anti-aliased as INTER_AREA at this factor (sigma 0.45 matches its aliasing on a zone
    plate) and about six times cheaper: INTER_AREA has no fast path for non-integer factors.
    """
    h, w = image.shape[:2]
    size = (max(1, round(w / math.sqrt(2))), max(1, round(h / math.sqrt(2))))
    return cv2.resize(cv2.GaussianBlur(image, (3, 3), 0.45), size, interpolation=cv2.INTER_LINEAR)


def cut(source: Source, frame: Frame, roll_deg: float, centre) -> tuple[np.ndarray, np.ndarray]:
    """(RGB photo of ``frame``'s size, person alpha at half that size), levelled by ``roll_deg``
    around ``centre``. The alpha is only ever used at half size (``replace_background``), so it
    is warped straight to it.

    Output pixel (X, Y) comes from the levelled capture point (left + X * step, top + Y * step),
    rotated back about the eye centre onto the capture, then into the chosen level's pixels.
    """
    theta = math.radians(roll_deg)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    step = frame.crop_width / frame.width_px  # capture px per output px
    centre = np.asarray(centre, dtype=np.float64)
    origin = np.array([frame.left, frame.top])

    def warp(image, factor, size):
        # pixel x of a grid of ``size`` sits at output pixel (x + 0.5) * zoom - 0.5, as in cv2.resize
        zoom = np.array([frame.width_px / size[0], frame.height_px / size[1]])
        m = np.zeros((2, 3))
        m[:, :2] = rot * step * zoom * factor
        m[:, 2] = factor * (rot @ (origin + step * (zoom - 1) / 2 - centre) + centre)
        return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    image, factor = source.level_for(frame.scale)
    photo = warp(image, factor, (frame.width_px, frame.height_px))
    mask = source.analysis.person_mask_small
    alpha = warp(mask, mask.shape[1] / source.analysis.full_size[0], _half((frame.width_px, frame.height_px)))
    return photo, alpha


def _half(size: tuple[int, int]) -> tuple[int, int]:
    return (size[0] + 1) // 2, (size[1] + 1) // 2


def replace_background(photo: np.ndarray, alpha: np.ndarray, old: np.ndarray, new_hex: str) -> np.ndarray:
    """Swap the background colour for ``new_hex`` with a soft, edge-aware matte.

    The segmenter's mask (``alpha``, at half the photo's size) is coarse, so it is refined with
    a guided filter on the photo itself (edges follow hair, not the mask's blocks) and then used
    to remove the old background's share from every edge pixel (out = photo + (1 - a) * (new - old)):
    hair strands keep their own colour with no grey or green fringe, and there is no hard cut.
    """
    new = np.array([int(new_hex[i:i + 2], 16) for i in (1, 3, 5)], np.float64)
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    guide = cv2.resize(grey, (alpha.shape[1], alpha.shape[0]), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    a, b = guided_filter(guide, alpha.astype(np.float32), max(2, round(min(h, w) / 120)), 1e-3)
    # background share 1 - clip((q - 0.15) / 0.7, 0, 1) with q = a * grey / 255 + b: linear in
    # (a, b) up to the clip, so it is folded into them before they are brought to full size
    a = cv2.resize(a * (-1 / (0.7 * 255)), (w, h), interpolation=cv2.INTER_LINEAR)
    b = cv2.resize((0.85 - b) * (1 / 0.7), (w, h), interpolation=cv2.INTER_LINEAR)
    background = np.clip(cv2.add(cv2.multiply(a, grey, dtype=cv2.CV_32F), b), 0, 1)
    shift = cv2.merge([background * np.float32(d) for d in new - old])  # (1 - a) * (new - old)
    return cv2.add(photo, shift, dtype=cv2.CV_8U)  # rounds and saturates to 0..255


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """He and Sun's guided filter (grey guide): the coefficients (a, b) of ``src`` smoothed
    along ``guide``'s edges, q = a * guide + b.

    Called with guide and src at half the photo's size: a and b are smooth, so the caller
    brings them to full size and applies them to the full-size guide (the "fast" guided
    filter), which is indistinguishable for a matte and four times cheaper. Written out (a
    few box filters) because cv2.ximgproc is only in the contrib build, and which of the two
    OpenCV wheels provides cv2 is not something to rely on.
    """
    box = (2 * max(1, radius // 2) + 1,) * 2

    def mean(x):
        return cv2.boxFilter(x, cv2.CV_32F, box)

    mean_g, mean_p = mean(guide), mean(src)
    a = (mean(guide * src) - mean_g * mean_p) / (mean(guide * guide) - mean_g * mean_g + eps)
    b = mean_p - a * mean_g
    return mean(a), mean(b)


def to_grey(photo: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
