"""Encode a rendition: format, DPI, no metadata, and the profile's byte window.

The JPEG quality is searched (never below the profile's floor) for the best quality that
fits under the window's maximum. A file too small for the window's minimum is reported as
such: photocore never pads a file to reach a size. Files carry no EXIF, GPS, maker notes or
thumbnails; JPEG is JFIF, whose colour space is sRGB by convention.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import NDArray
from PIL import Image

if TYPE_CHECKING:
    from ..catalogue import PhotoProfile

KB = 1024
BEST_QUALITY = 95  # above this JPEG grows fast for no visible gain
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "bmp": "bmp"}


# the files made from one set of pixels: (format, dpi, quality) -> bytes
Files: TypeAlias = dict[tuple[str, int | None, int | None], bytes]


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: str  # jpeg | png | bmp
    quality: int | None
    reached_target: bool
    problem: str | None = None  # render.bytes_over | render.bytes_under, when the window is missed


def save(image: Image.Image, fmt: str, dpi: int | None, quality: int | None) -> bytes:
    """One encode with photocore's settings (the search below calls it; so does the speed
    benchmark's floor, which must encode exactly as the renderer does)."""
    out = io.BytesIO()
    options: dict[str, Any] = {"dpi": (dpi, dpi)} if dpi else {}
    if fmt == "jpeg":
        if quality is None:
            raise ValueError("a JPEG is saved at a quality")
        options.update(quality=quality, subsampling="4:2:0" if quality < 90 else "4:4:4")
    elif fmt == "png":
        options.update(optimize=False, compress_level=6)
    image.save(out, PIL_FORMATS[fmt], **options)
    return out.getvalue()


def encode(pixels: NDArray[np.uint8], profile: PhotoProfile, hint: dict[str, float] | None = None, reserve: int = 0,
           tried: Files | None = None, dpi: int | None = None) -> Encoded:
    """Encode ``pixels`` (RGB, or 2-D grey) in the profile's first format within its byte window.

    ``hint`` (one dict shared by the renditions of one capture) remembers how large this
    capture's photos come out, so later renditions start the search close to their answer.
    ``reserve`` bytes are kept free under the maximum for what is added later (a C2PA manifest).
    ``tried`` (one dict per set of pixels) keeps the files already made from these very pixels,
    so outputs that share pixels and end on the same quality and DPI are encoded once.
    ``dpi``: the DPI to write, when not the profile's (a larger file printed at the same size).
    """
    dpi = dpi or profile.dpi
    fmt = profile.formats[0]
    image = Image.fromarray(pixels)  # a fresh image: nothing from the capture's metadata comes along
    low = profile.kb_min * KB if profile.kb_min else 0
    high = profile.kb_max * KB - reserve if profile.kb_max else math.inf
    tried = {} if tried is None else tried

    def at(q: int | None) -> bytes:
        key = (fmt, dpi, q)
        if key not in tried:
            tried[key] = save(image, fmt, dpi, q)
        return tried[key]

    if fmt != "jpeg":
        return _verdict(at(None), fmt, None, low, high)
    floor = profile.jpeg_quality_min or 1
    top = max(floor, BEST_QUALITY)
    hint = {} if hint is None else hint
    area = pixels.shape[0] * pixels.shape[1]
    known: dict[int, int] = {}  # quality -> bytes, for these pixels

    def size(q: int) -> int:
        if q not in known:
            known[q] = len(at(q))
            hint["offset"] = math.log(known[q] / area) - _shape(q)
        return known[q]

    # the best quality that fits: lo fits, hi does not (floor - 1 and top + 1: not yet known)
    lo, hi = floor - 1, top + 1
    limit = math.log(high) if high > 0 else -math.inf

    def offset_at(lo: int, hi: int) -> Callable[[int], float]:
        """q -> the model's constant at q (log bytes minus ``_shape``), drawn through the
        bracket's real sizes, or the capture's earlier renditions' when none is known yet."""
        ends = [(e, math.log(size(e)) - _shape(e)) for e in (lo, hi) if e in known]
        if not ends:
            constant = math.log(area) + hint.get("offset", -math.inf)  # top, without a hint
            return lambda q: constant
        if len(ends) == 1:
            return lambda q: ends[0][1]
        (e0, c0), (e1, c1) = ends
        return lambda q: c0 + (c1 - c0) * (q - e0) / (e1 - e0)

    while hi - lo > 1:
        offset = offset_at(lo, hi)  # log bytes at q = offset(q) + _shape(q)
        q = max((q for q in range(lo + 1, hi) if offset(q) + _SHAPE[q] <= limit), default=lo + 1)
        if size(q) <= high:
            lo = q
        else:
            hi = q
    if lo < floor:
        return _verdict(at(floor), fmt, floor, low, high)
    return _done(at(lo), fmt, lo, low, high, at)


def _shape(q: int) -> float:
    """Log JPEG bytes against quality, up to a constant per image.

    IJG tables scale the quantisation steps by (100 - q) above quality 50, and on photos the
    bytes follow that step to the power -0.55; chroma at full resolution (quality 90 and up,
    see ``save``) adds about a quarter. On London faces and the sample capture the slope
    holds within 10 %, so a search usually needs the answer and its next quality only.
    """
    return -0.55 * math.log(max(100 - q, 0.5)) + (0.22 if q >= 90 else 0.0)


_SHAPE = [_shape(q) for q in range(101)]


def _done(data: bytes, fmt: str, quality: int, low: float, high: float, at: Callable[[int | None], bytes]) -> Encoded:
    if len(data) < low and quality < 100:
        return _verdict(at(100), fmt, 100, low, high)  # the most detail the pixels carry; never padded
    return _verdict(data, fmt, quality, low, high)


def _verdict(data: bytes, fmt: str, quality: int | None, low: float, high: float) -> Encoded:
    if len(data) > high:
        return Encoded(data, fmt, quality, False, "render.bytes_over")
    if len(data) < low:
        return Encoded(data, fmt, quality, False, "render.bytes_under")
    return Encoded(data, fmt, quality, True)
