"""Encode a rendition: format, DPI, no metadata, and the profile's byte window.

The JPEG quality is searched (never below the profile's floor) for the best quality that
fits under the window's maximum. A file too small for the window's minimum is reported as
such: photocore never pads a file to reach a size. Files carry no EXIF, GPS, maker notes or
thumbnails; JPEG is JFIF, whose colour space is sRGB by convention.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

KB = 1024
BEST_QUALITY = 95  # above this JPEG grows fast for no visible gain
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "bmp": "bmp"}


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: str  # jpeg | png | bmp
    quality: int | None
    reached_target: bool
    problem: str | None = None  # render.bytes_over | render.bytes_under, when the window is missed


def _save(image: Image.Image, fmt: str, dpi: int | None, quality: int | None) -> bytes:
    out = io.BytesIO()
    options = {"dpi": (dpi, dpi)} if dpi else {}
    if fmt == "jpeg":
        options.update(quality=quality, subsampling="4:2:0" if quality < 90 else "4:4:4")
    elif fmt == "png":
        options.update(optimize=False, compress_level=6)
    image.save(out, PIL_FORMATS[fmt], **options)
    return out.getvalue()


def encode(pixels: np.ndarray, profile, hint: dict | None = None, reserve: int = 0) -> Encoded:
    """Encode ``pixels`` (RGB, or 2-D grey) in the profile's first format within its byte window.

    ``hint`` (one dict shared by the renditions of one capture) remembers bytes per pixel at
    each quality tried, so later renditions start the search close to their answer.
    ``reserve`` bytes are kept free under the maximum for what is added later (a C2PA manifest).
    """
    fmt = profile.formats[0]
    image = Image.fromarray(pixels)  # a fresh image: nothing from the capture's metadata comes along
    low = profile.kb_min * KB if profile.kb_min else 0
    high = profile.kb_max * KB - reserve if profile.kb_max else math.inf
    if fmt != "jpeg":
        return _verdict(_save(image, fmt, profile.dpi, None), fmt, None, low, high)
    floor = profile.jpeg_quality_min or 1
    top = max(floor, BEST_QUALITY)
    hint = {} if hint is None else hint
    area = pixels.shape[0] * pixels.shape[1]
    tried: dict[int, bytes] = {}

    def at(q: int) -> bytes:
        if q not in tried:
            tried[q] = _save(image, fmt, profile.dpi, q)
            hint[q] = len(tried[q]) / area
        return tried[q]

    def predicted(target: float) -> int:
        """The quality whose remembered bytes-per-pixel lands nearest under ``target``."""
        fits = [q for q, bpp in hint.items() if bpp * area <= target and floor <= q <= top]
        return max(fits) if fits else floor

    if not math.isinf(high) and hint:
        guess = predicted(high)
        if len(at(guess)) <= high and (guess == top or len(at(guess + 1)) > high):
            return _done(at(guess), fmt, guess, low, high, at)
    if len(at(top)) <= high:
        return _done(at(top), fmt, top, low, high, at)
    if len(at(floor)) > high:
        return _verdict(at(floor), fmt, floor, low, high)
    lo, hi = floor, top  # size(lo) fits, size(hi) does not
    for q in sorted(tried):  # narrow the bracket with what was already encoded
        if floor <= q <= top:
            if len(tried[q]) <= high:
                lo = max(lo, q)
            else:
                hi = min(hi, q)
    while hi - lo > 1:
        # interpolate on log size, which is close to linear in quality over short spans
        s_lo, s_hi = math.log(len(at(lo))), math.log(len(at(hi)))
        guess = lo + (math.log(high) - s_lo) / max(s_hi - s_lo, 1e-9) * (hi - lo)
        mid = int(min(max(round(guess), lo + 1), hi - 1))
        if len(at(mid)) <= high:
            lo = mid
        else:
            hi = mid
    return _done(at(lo), fmt, lo, low, high, at)


def _done(data: bytes, fmt: str, quality: int, low: float, high: float, at) -> Encoded:
    if len(data) < low and quality < 100:
        return _verdict(at(100), fmt, 100, low, high)  # the most detail the pixels carry; never padded
    return _verdict(data, fmt, quality, low, high)


def _verdict(data: bytes, fmt: str, quality: int | None, low: float, high: float) -> Encoded:
    if len(data) > high:
        return Encoded(data, fmt, quality, False, "render.bytes_over")
    if len(data) < low:
        return Encoded(data, fmt, quality, False, "render.bytes_under")
    return Encoded(data, fmt, quality, True)
