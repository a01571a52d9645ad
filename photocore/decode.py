"""Turn untrusted upload bytes into sRGB pixels, or into a typed DecodeError.

Why this module exists: uploads come from phones, scanners and browsers, so they arrive rotated
by EXIF, tagged with colour profiles, in CMYK, 16-bit, palette or alpha modes, truncated, or
crafted to exhaust memory. Everything downstream wants one thing, an upright HxWx3 uint8 sRGB
array, and callers want failures they can branch on. So every input is mapped either to a
``Capture`` or to a ``DecodeError`` with a stable code; no raw Pillow/OpenCV exception escapes.

Analysis works on a small copy (JPEGs are decoded at reduced DCT scale, which is fast); the
full-resolution pixels are decoded only when somebody asks for them.
"""

from __future__ import annotations

import io
import math
import os
import struct
import threading
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from .errors import ConfigError, DecodeError

DEFAULT_MAX_PIXELS = 50_000_000
ANALYSIS_MAX_SIDE = 1280

# An allowlist (MPO arrives through the JPEG opener), not "whatever Pillow knows": weakly
# identified formats (TGA) would accept random bytes, and some plugins (EPS) run programs.
_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_JPEG_LIKE = ("JPEG", "MPO")
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SRGB = ImageCms.createProfile("sRGB")
# EXIF orientation -> the transpose that makes the image upright.
_ORIENT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
           6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}
# IJG (libjpeg) standard luminance quantisation table, natural order, as Pillow reports it.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
_Q = np.arange(1, 101)
_IJG_TABLES = np.clip((_IJG_LUMA[None, :] * np.where(_Q < 50, 5000 // _Q, 200 - 2 * _Q)[:, None]
                       + 50) // 100, 1, 255)


@dataclass(frozen=True, eq=False)
class Capture:
    """One decoded image: a small analysis copy now, full-resolution pixels on demand.

    ``width``/``height`` are the full-resolution size after EXIF orientation. Arrays are
    read-only because they are shared (the full-resolution one is cached); copy to modify.
    """

    format: str
    width: int
    height: int
    analysis: np.ndarray = field(repr=False)
    analysis_scale: float
    source_mode: str
    greyscale_source: bool
    jpeg_quality: int | None
    frames: int
    data: bytes = field(repr=False)
    captured_at: datetime | None = None  # EXIF DateTimeOriginal (camera local time), if present
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _sized: dict = field(default_factory=dict, init=False, repr=False)

    def pixels(self, min_side: int | None = None) -> np.ndarray:
        """HxWx3 uint8 sRGB with the long side at least ``min_side`` (full resolution if None).

        The cheapest image that is large enough: the analysis copy when it suffices, otherwise
        a decode at that size (a JPEG at a reduced DCT scale, several times faster than a full
        decode), cached. Rendering asks for just the resolution its largest output needs.
        """
        long_side = max(self.width, self.height)
        wanted = long_side if min_side is None else min(long_side, max(1, int(min_side)))
        if max(self.analysis.shape[:2]) >= wanted:
            return self.analysis
        with self._lock:
            if wanted not in self._sized:  # size already checked at decode: limit = w * h
                limit = self.width * self.height
                self._sized[wanted] = _decode_array(self.data, limit, None if wanted == long_side else wanted)[0]
            return self._sized[wanted]


def from_pixels(rgb, *, analysis_max_side: int = ANALYSIS_MAX_SIDE) -> Capture:
    """A ``Capture`` from pixels already in memory: a kiosk's live camera frame (HxWx3 uint8 sRGB).

    No file, so no EXIF, ICC or JPEG tables: the frame is taken as sRGB, upright. Frames larger
    than the analysis size are reduced for analysis and kept whole for rendering.
    """
    array = np.asarray(rgb)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 16:
        raise DecodeError(f"a frame must be an HxWx3 uint8 RGB array, got {array.dtype} {array.shape}",
                          code="decode.bad_frame")
    full = np.ascontiguousarray(array)
    full.setflags(write=False)
    h, w = full.shape[:2]
    small = full
    if max(h, w) > analysis_max_side:
        s = max(h, w) / analysis_max_side
        small = cv2.resize(full, (max(1, round(w / s)), max(1, round(h / s))), interpolation=cv2.INTER_AREA)
        small.setflags(write=False)
    capture = Capture(format="RAW", width=w, height=h, analysis=small, analysis_scale=w / small.shape[1],
                      source_mode="RGB", greyscale_source=False, jpeg_quality=None, frames=1, data=b"")
    capture._sized[max(h, w)] = full  # rendering asks for pixels(); there are no bytes to decode again
    return capture


def decode(source, *, max_pixels: int = DEFAULT_MAX_PIXELS,
           analysis_max_side: int = ANALYSIS_MAX_SIDE) -> Capture:
    """Decode ``source`` (bytes, path or binary file object) into a ``Capture``.

    Raises DecodeError with code decode.empty / .truncated / .corrupt / .unsupported /
    .too_large / .unreadable, and ConfigError for bad limits. The pixel limit is checked from
    the header, before any pixel is decoded, so decompression bombs cost nothing.
    """
    for name, value in (("max_pixels", max_pixels), ("analysis_max_side", analysis_max_side)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}",
                              code="config.invalid")
    data = _read(source)
    array, info = _decode_array(data, max_pixels, analysis_max_side)
    width, height = info["size"]
    return Capture(format=info["format"], width=width, height=height, analysis=array,
                   analysis_scale=width / array.shape[1], source_mode=info["mode"],
                   greyscale_source=info["grey"], jpeg_quality=info["quality"],
                   frames=info["frames"], data=data, captured_at=info.get("captured_at"))


def _read(source) -> bytes:
    """Get the bytes; anything that stops us reading them is decode.unreadable."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        elif isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fp:
                data = fp.read()
        else:  # a binary file object (AttributeError if it is not one)
            data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"expected bytes, a path or a binary file; got {type(source).__name__}")
    except Exception as exc:
        raise DecodeError(f"could not read the image source: {exc}",
                          code="decode.unreadable") from exc
    if not data:
        raise DecodeError("the image is empty (zero bytes)", code="decode.empty")
    return bytes(data)


def _decode_array(data: bytes, max_pixels: int, max_side: int | None):
    """Open, guard, decode and convert; ``max_side=None`` means full resolution."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # process-global; if someone set it, we cannot tell
        raise ConfigError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; photocore needs it False"
                          " to reject truncated uploads", code="config.invalid")
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise DecodeError(f"image is {w}x{h} = {w * h} pixels, over the limit of "
                                  f"{max_pixels} pixels", code="decode.too_large")
            info = {"format": im.format, "mode": im.mode, "frames": 1,
                    "quality": _jpeg_quality(im) if im.format in _JPEG_LIKE else None}
            try:
                info["frames"] = int(getattr(im, "n_frames", 1))
                if im.tell() != 0:
                    im.seek(0)
            except Exception:
                info["frames"] = 1  # later frames are broken; we only use the first
            if max_side and max(w, h) > max_side and im.format in _JPEG_LIKE:
                s = max(w, h) / max_side
                im.draft("RGB", (math.ceil(w / s), math.ceil(h / s)))
            im.load()
            try:
                exif = im.getexif()
                orientation = int(exif.get(0x0112, 1))
            except Exception:  # corrupt EXIF: keep the image, ignore the orientation
                exif, orientation = {}, 1
            info["captured_at"] = _capture_time(exif)
            orientation = orientation if orientation in _ORIENT else 1
            info["size"] = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
            info["grey"] = (info["mode"] in _GREY_MODES
                            or (im.mode in ("P", "PA") and _grey_palette(im)))
            rgb = _to_srgb(im, max(im.size) // max_side if max_side else 1)
        if orientation in _ORIENT:
            rgb = rgb.transpose(_ORIENT[orientation])
        array = np.asarray(rgb)
        if max_side and max(w, h) > max_side:
            W, H = info["size"]
            s = max(W, H) / max_side
            array = _reduce(array, (max(1, round(W / s)), max(1, round(H / s))))
        array = np.ascontiguousarray(array)
    except (DecodeError, ConfigError):
        raise
    except Exception as exc:
        error = _classify(exc, data, max_pixels)
        raise error from error.__cause__
    array.setflags(write=False)
    return array, info


def _reduce(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``array`` reduced to ``size`` without aliasing: whole octaves by pyrDown, the rest by a
    Gaussian matched to the factor and one bilinear step. INTER_AREA gives the same image but has
    no fast path for the non-integer factors a draft decode leaves (2000 to 1280 px: 21 ms, here 10).
    """
    while array.shape[1] >= 2 * size[0] and array.shape[0] >= 2 * size[1]:
        array = cv2.pyrDown(array)
    factor = array.shape[1] / size[0]
    if factor > 1:
        array = cv2.GaussianBlur(array, (0, 0), 0.5 * math.sqrt(factor * factor - 1))
    return cv2.resize(array, size, interpolation=cv2.INTER_LINEAR)


def _capture_time(exif) -> datetime | None:
    """EXIF DateTimeOriginal (or DateTime) as a naive datetime; None when absent or malformed."""
    try:
        text = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
        return datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S") if text else None
    except Exception:
        return None


def _to_srgb(im: Image.Image, reduce_by: int) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB in sRGB (alpha composited on white, ICC applied)."""
    icc = im.info.get("icc_profile")
    if reduce_by >= 2 and im.mode in ("L", "RGB", "RGBA", "CMYK"):
        im = im.reduce(reduce_by)  # cheap box pre-shrink for non-JPEG analysis copies
    if im.mode.startswith("I") or im.mode == "F":
        im = _to_8bit_grey(im)
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode in ("P", "PA"):
        im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    if im.mode in ("La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode in ("LA", "RGBA"):  # ID photos have light backgrounds: transparent -> white
        colour = "L" if im.mode == "LA" else "RGB"
        base = Image.new(colour, im.size, "white")
        base.paste(im.convert(colour), (0, 0), im.getchannel("A"))
        im = base
    if icc and im.mode in ("RGB", "L", "CMYK"):
        try:
            im = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB,
                                           outputMode="RGB")
        except Exception:
            pass  # broken or mismatched profile: treat the pixels as sRGB
    return im if im.mode == "RGB" else im.convert("RGB")


def _to_8bit_grey(im: Image.Image) -> Image.Image:
    """16/32-bit integer and float greyscale -> L by scaling, not clipping, to 0..255."""
    a = np.asarray(im)
    if im.mode == "F":  # float data is usually 0..1; anything else is taken as 0..255
        a = np.nan_to_num(a * (255.0 if np.nanmax(a, initial=0) <= 1.0 else 1.0))
        return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))
    a = np.clip(a, 0, 65535).astype(np.uint32)  # mode I is taken as 16-bit data, like PNG's
    return Image.fromarray(((a * 255 + 32767) // 65535).astype(np.uint8))


def _grey_palette(im: Image.Image) -> bool:
    pal = im.getpalette() or []
    return all(pal[i] == pal[i + 1] == pal[i + 2] for i in range(0, len(pal) - 2, 3))


def _jpeg_quality(im: Image.Image) -> int | None:
    """IJG quality whose scaled luminance table is closest to the file's (None if unknown)."""
    luma = (getattr(im, "quantization", None) or {}).get(0)
    if luma is None or len(luma) != 64:
        return None
    diff = np.abs(_IJG_TABLES - np.asarray(luma, dtype=np.int64)[None, :]).sum(axis=1)
    return int(_Q[np.argmin(diff)])


def _header_open(data: bytes):
    """Open with the plugin whose signature matches, bypassing Image.open: (image|error|None)."""
    for fmt in _FORMATS:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        found = accept(data[:16]) if factory is not None and accept is not None else False
        if found and not isinstance(found, str):
            try:
                return factory(io.BytesIO(data), "")
            except Exception as exc:
                return exc
    return None


def _classify(exc: BaseException, data: bytes, max_pixels: int) -> DecodeError:
    """Map a Pillow/OpenCV/OS exception to a DecodeError (``__cause__`` = the telling one)."""
    if isinstance(exc, UnidentifiedImageError):
        # Pillow says "unidentified" both for non-images and for a known format whose header is
        # broken; the plugin whose signature matches tells us which it was.
        head = _header_open(data)
        if not isinstance(head, Exception):
            error = DecodeError("not an image file photocore can read (JPEG, PNG, WebP, BMP, "
                                "TIFF)", code="decode.unsupported")
            error.__cause__ = exc
            return error
        exc = head
    chain, cur = [], exc
    while cur is not None and len(chain) < 5:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " ".join(str(e) for e in chain).lower()
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        head = _header_open(data)  # Pillow's own guard fired inside Image.open; get the size
        size = "x".join(map(str, head.size)) if isinstance(head, Image.Image) else "unknown"
        error = DecodeError(f"image is {size} pixels, too large to decode safely (limit "
                            f"{max_pixels} pixels; {exc})", code="decode.too_large")
    elif isinstance(exc, MemoryError):
        error = DecodeError("not enough memory to decode the image", code="decode.too_large")
    elif _looks_cut(data) or "truncated" in text or "end of data" in text or any(
            isinstance(e, (EOFError, struct.error, IndexError)) for e in chain):
        error = DecodeError(f"image file is truncated: {exc}", code="decode.truncated")
    else:
        error = DecodeError(f"image data is corrupt: {exc}", code="decode.corrupt")
    error.__cause__ = exc
    return error


def _looks_cut(data: bytes) -> bool:
    """True when the container's own end marker or declared length says bytes are missing."""
    if data.startswith(b"\x89PNG"):
        return not data.endswith(b"IEND\xaeB`\x82")
    if data.startswith(b"\xff\xd8"):
        return b"\xff\xd9" not in data[-64:]
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return len(data) < 8 + int.from_bytes(data[4:8], "little")
    if data.startswith(b"GIF8"):
        return not data.endswith(b";")
    if data.startswith(b"BM"):
        return len(data) < int.from_bytes(data[2:6], "little")
    return False
