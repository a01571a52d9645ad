"""Turn untrusted upload bytes into sRGB pixels, or into a typed DecodeError.

Why this module exists: uploads come from phones, scanners and browsers, so they arrive rotated
by EXIF, tagged with colour profiles, in CMYK, 16-bit, palette or alpha modes, truncated, or
crafted to exhaust memory. Everything downstream wants one thing, an upright HxWx3 uint8 sRGB
array, and callers want failures they can branch on. So every input is mapped either to a
``Capture`` or to a ``DecodeError`` with a stable code; no raw Pillow/OpenCV exception escapes.

Analysis works on a small copy (JPEGs are decoded at reduced DCT scale, which is fast); the
full-resolution pixels are decoded only when somebody asks for them.

The work per file is bounded before any pixel is decoded, from the headers: pixels, bytes of
pixel data the decoder will hold (``max_pixel_bytes``), JPEG scans and pages or frames. A file
that claims more is refused (``decode.too_large``, ``decode.too_complex``), so no upload can
cost more than a known time and memory; ``deadline`` lets the caller cap the rest. A file that
ends before its pixels do is ``decode.truncated``, whatever its container says.
"""

from __future__ import annotations

import io
import math
import os
import struct
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO, TypeAlias, cast

import cv2
import numpy as np
import simplejpeg
from numpy.typing import ArrayLike, NDArray
from PIL import GifImagePlugin, Image, ImageCms, ImageFile, UnidentifiedImageError

from .deadline import Deadline
from .errors import ConfigError, DeadlineExceeded, DecodeError

if TYPE_CHECKING:
    from cv2.typing import MatLike

# What ``decode`` reads: the file's bytes, its path, or a binary file object open on it.
ImageSource: TypeAlias = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO
# HxWx3 uint8 sRGB (HxWx1 or HxW grey straight from libjpeg, before ``_srgb_array``)
Pixels: TypeAlias = NDArray[np.uint8]

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_PIXEL_BYTES = 160_000_000
ANALYSIS_MAX_SIDE = 1280
# Longer than any camera or scanner side a portrait comes from; decoders are slow on such strips.
MAX_SIDE = 16_384
# A progressive JPEG costs one pass over every block per scan; encoders write at most about 20.
MAX_JPEG_SCANS = 64
# A capture is one picture; we use the first frame and count at most this many.
MAX_FRAMES = 64
# Bytes the decoder holds per pixel beyond the decoded frame: libwebp's animation decoder keeps
# two RGBA canvases and hands over a third copy (measured: tests/test_hostile_decode.py).
_WEBP_BYTES_PER_PIXEL = 16

# An allowlist (MPO arrives through the JPEG opener), not "whatever Pillow knows": weakly
# identified formats (TGA) would accept random bytes, and some plugins (EPS) run programs.
_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_JPEG_LIKE = ("JPEG", "MPO")
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SRGB = ImageCms.createProfile("sRGB")
# EXIF orientation -> the view of the stored pixels that makes the image upright (as Pillow's
# FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90).
_ORIENT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
           7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: a.transpose(1, 0, 2)[::-1]}
# Rows converted at a time: conversions then need a strip's worth of memory, not a picture's.
_STRIP_PIXELS = 1 << 20
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
    analysis: Pixels = field(repr=False)
    analysis_scale: float
    source_mode: str
    greyscale_source: bool
    jpeg_quality: int | None
    frames: int
    data: bytes = field(repr=False)
    captured_at: datetime | None = None  # EXIF DateTimeOriginal (camera local time), if present
    turns: int = 0  # quarter turns counter-clockwise applied after decoding (see ``turned``)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _sized: dict[int, Pixels] = field(default_factory=dict, init=False, repr=False)

    def pixels(self, min_side: int | None = None) -> Pixels:
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
            if wanted not in self._sized:  # limits already checked at decode
                self._sized[wanted] = _turn(_decode_array(self.data, _Limits(self.width * self.height, None),
                                                          None if wanted == long_side else wanted)[0], self.turns)
            return self._sized[wanted]

    def turned(self, turns: int) -> Capture:
        """This capture turned by ``turns`` quarter turns counter-clockwise: a capture taken on
        its side or upside down, with no EXIF orientation to say so (analysis finds out)."""
        turns %= 4
        if not turns:
            return self
        odd = turns % 2
        out = Capture(format=self.format, width=self.height if odd else self.width,
                      height=self.width if odd else self.height, analysis=_turn(self.analysis, turns),
                      analysis_scale=self.analysis_scale, source_mode=self.source_mode,
                      greyscale_source=self.greyscale_source, jpeg_quality=self.jpeg_quality, frames=self.frames,
                      data=self.data, captured_at=self.captured_at, turns=(self.turns + turns) % 4)
        with self._lock:
            out._sized.update({side: _turn(array, turns) for side, array in self._sized.items()})
        return out


def _turn(array: Pixels, turns: int) -> Pixels:
    if not turns % 4:
        return array
    out = np.ascontiguousarray(np.rot90(array, turns))
    out.setflags(write=False)
    return out


def from_pixels(rgb: ArrayLike, *, analysis_max_side: int = ANALYSIS_MAX_SIDE) -> Capture:
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


@dataclass(frozen=True)
class _Limits:
    pixels: int
    pixel_bytes: int | None  # None: a later decode of an accepted capture, nothing left to verify
    deadline: Deadline | None = None

    @property
    def verify(self) -> bool:
        return self.pixel_bytes is not None


def decode(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_pixel_bytes: int = DEFAULT_MAX_PIXEL_BYTES,
           analysis_max_side: int = ANALYSIS_MAX_SIDE, deadline: Deadline | None = None) -> Capture:
    """Decode ``source`` (bytes, path or binary file object) into a ``Capture``.

    Raises DecodeError with code decode.empty / .truncated / .corrupt / .unsupported /
    .too_large / .too_complex / .unreadable, DeadlineExceeded (``capture.deadline``) when
    ``deadline`` passes, and ConfigError for bad limits. Every limit is checked from the headers,
    before any pixel is decoded, so decompression bombs cost nothing.
    """
    for name, value in (("max_pixels", max_pixels), ("max_pixel_bytes", max_pixel_bytes),
                        ("analysis_max_side", analysis_max_side)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}",
                              code="config.invalid")
    data = _read(source)
    array, info = _decode_array(data, _Limits(max_pixels, max_pixel_bytes, deadline), analysis_max_side)
    width, height = info.size
    return Capture(format=info.format, width=width, height=height, analysis=array,
                   analysis_scale=width / array.shape[1], source_mode=info.mode,
                   greyscale_source=info.grey, jpeg_quality=info.quality,
                   frames=info.frames, data=data, captured_at=info.captured_at)


def _read(source: ImageSource) -> bytes:
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
    except Exception as exc:  # whatever stops the read, the source is unreadable
        raise DecodeError(f"could not read the image source: {exc}",
                          code="decode.unreadable") from exc
    if not data:
        raise DecodeError("the image is empty (zero bytes)", code="decode.empty")
    return bytes(data)


@dataclass(frozen=True)
class _Info:
    """What the headers say about a decoded file."""

    format: str
    mode: str  # Pillow's mode of the stored pixels
    frames: int
    quality: int | None  # estimated JPEG quality
    captured_at: datetime | None
    size: tuple[int, int]  # width, height after EXIF orientation
    grey: bool


def _decode_array(data: bytes, limits: _Limits, max_side: int | None) -> tuple[Pixels, _Info]:
    """Guard, open, decode and convert; ``max_side=None`` means full resolution."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # process-global; if someone set it, we cannot tell
        raise ConfigError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; photocore needs it False"
                          " to reject truncated uploads", code="config.invalid")
    try:
        if limits.verify:
            _guard_before_open(data, limits)
        with Image.open(_Reader(data, limits.deadline), formats=_FORMATS) as im:
            w, h = im.size
            _check_pixels(w, h, limits.pixels)
            if limits.pixel_bytes is not None:  # limits.verify
                _guard_pixel_bytes(im, data, limits.pixel_bytes)
            frames = _count_frames(im)
            icc = im.info.get("icc_profile")
            exif: Image.Exif | None
            try:
                exif = im.getexif()
                orientation = int(exif.get(0x0112, 1))
            except Exception:  # noqa: BLE001 - corrupt EXIF: keep the image, ignore the orientation
                exif, orientation = None, 1
            orientation = orientation if orientation in _ORIENT else 1
            info = _Info(format=str(im.format), mode=im.mode, frames=frames,
                         quality=_jpeg_quality(im) if im.format in _JPEG_LIKE else None,
                         captured_at=_capture_time(exif),
                         size=(h, w) if orientation in (5, 6, 7, 8) else (w, h),
                         grey=im.mode in _GREY_MODES or (im.mode in ("P", "PA") and _grey_palette(im)))
            decoded: Pixels | Image.Image
            if im.format in _JPEG_LIKE and im.mode in ("RGB", "L"):
                decoded = _jpeg_pixels(data, im.mode, (w, h), max_side, limits.verify)
            else:
                # CMYK: Pillow decodes; libjpeg judges completeness (at 1/8 scale)
                if im.format in _JPEG_LIKE and limits.verify:
                    _jpeg_pixels(data, "CMYK", (w, h), 1, True)
                im.load()
                if im.format == "PNG" and limits.verify and _png_may_be_short(im, data) \
                        and not _png_rows_complete(data):
                    raise DecodeError("the PNG's image data ends before its last row",
                                      code="decode.truncated")
                decoded = im
            if limits.deadline is not None:
                limits.deadline.check("decode")
            array = _srgb_array(decoded, max(_size(decoded)) // max_side if max_side else 1, icc)
            del decoded
        if orientation in _ORIENT:
            array = _ORIENT[orientation](array)
        if max_side and max(w, h) > max_side:
            W, H = info.size
            s = max(W, H) / max_side
            array = _reduce(array, (max(1, round(W / s)), max(1, round(H / s))))
        array = np.ascontiguousarray(array)
    except (DecodeError, ConfigError, DeadlineExceeded):
        raise
    except Exception as exc:  # noqa: BLE001 - every other failure is classified into a DecodeError
        error = _classify(exc, data, limits.pixels)
        raise error from error.__cause__
    array.setflags(write=False)
    return array, info


class _Reader(io.BytesIO):
    """The upload as Pillow reads it, chunk by chunk: each read is a point to honour the deadline."""

    def __init__(self, data: bytes, deadline: Deadline | None) -> None:
        super().__init__(data)
        self._deadline = deadline

    def read(self, size: int | None = -1) -> bytes:
        if self._deadline is not None:
            self._deadline.check("decode")
        return super().read(size)


def _too_complex(message: str) -> DecodeError:
    return DecodeError(message, code="decode.too_complex")


def _guard_before_open(data: bytes, limits: _Limits) -> None:
    """What must be refused before Pillow opens the file: a WebP's canvas (its decoder allocates
    the canvas at open) and a JPEG's scan count (each scan is a pass over every block)."""
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        size = _webp_canvas(data)
        if size is not None and limits.pixel_bytes is not None:
            w, h = size
            _check_pixels(w, h, limits.pixels)
            _check_bytes(w * h * _WEBP_BYTES_PER_PIXEL, limits.pixel_bytes, f"a {w}x{h} WebP canvas")
    elif data.startswith(b"\xff\xd8"):
        scans = _jpeg_scans(data)
        if scans > MAX_JPEG_SCANS:
            raise _too_complex(f"the JPEG has {scans} scans, over the limit of {MAX_JPEG_SCANS} "
                               "(each scan is another pass over the whole picture)")


def _webp_canvas(data: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP's first chunk header (VP8X, VP8 or VP8L)."""
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return (int.from_bytes(data[26:28], "little") & 0x3FFF,
                int.from_bytes(data[28:30], "little") & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_scans(data: bytes) -> int:
    """Start-of-scan markers of the first picture. Inside entropy-coded data a 0xFF byte is always
    followed by 0x00 or a restart marker, so every FF DA from the first scan to the end marker
    is a scan header; the segments before it are skipped by their lengths."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xDA:
            end = data.find(b"\xff\xd9", i)
            return data.count(b"\xff\xda", i, len(data) if end < 0 else end)
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return 0


def _check_pixels(w: int, h: int, limit: int) -> None:
    if w * h > limit:
        raise DecodeError(f"image is {w}x{h} = {w * h} pixels, over the limit of {limit} pixels",
                          code="decode.too_large")
    if max(w, h) > MAX_SIDE:
        raise DecodeError(f"image is {w}x{h}: a side over {MAX_SIDE} px is no portrait",
                          code="decode.too_large")


def _check_bytes(needed: int, limit: int, what: str) -> None:
    if needed > limit:
        raise DecodeError(f"decoding {what} needs about {needed // 1_000_000} MB of pixel memory, over the "
                          f"limit of {limit // 1_000_000} MB", code="decode.too_large")


_SAMPLES_PER_PIXEL = {"444": 3, "422": 2, "440": 2, "420": 1.5, "411": 1.5, "441": 1.5, "Gray": 1}


def _guard_pixel_bytes(im: Image.Image, data: bytes, limit: int) -> None:
    """Bytes the decoder will hold for the first frame at full resolution (what rendering may
    ask for): the frame itself, plus a progressive JPEG's whole-picture coefficient buffer."""
    w, h = im.size
    mode_bytes = {"1": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2, "I": 4, "F": 4}
    needed = w * h * mode_bytes.get(im.mode, len(im.getbands()))
    if im.format == "PNG":  # 16-bit samples are inflated in full before Pillow narrows them
        depth, colour = data[24], data[25]
        needed = max(needed, w * h * depth * {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4) // 8)
    if im.format == "TIFF":  # libtiff decodes a strip or tile into its own buffer before Pillow copies it
        needed *= 2
    if im.format in _JPEG_LIKE and im.info.get("progressive"):
        try:
            subsampling = simplejpeg.decode_jpeg_header(data)[3]
        except Exception:  # noqa: BLE001 - a header libjpeg cannot parse: count the largest buffer
            subsampling = "444"
        needed += int(w * h * 2 * _SAMPLES_PER_PIXEL.get(subsampling, len(im.getbands())))
    _check_bytes(needed, limit, f"this {w}x{h} {im.format} picture")


def _count_frames(im: Image.Image) -> int:
    """Frames or pages in the file, counted up to MAX_FRAMES (only the first is used)."""
    if im.format == "WEBP":
        return min(int(getattr(im, "n_frames", 1)), MAX_FRAMES)
    # GIF: walk the frames' blocks without decoding them, as Pillow's own n_frames does
    gif = im if isinstance(im, GifImagePlugin.GifImageFile) else None
    count = 1
    try:
        while count < MAX_FRAMES:
            if gif is not None:
                gif._seek(count, False)
            else:
                im.seek(count)
            count += 1
    except Exception:  # noqa: BLE001 - EOFError at the end; later pages that are broken do not count
        pass
    if im.tell() != 0:
        im.seek(0)
    return count


def _jpeg_pixels(data: bytes, mode: str, size: tuple[int, int], max_side: int | None, strict: bool) -> Pixels:
    """Decode with libjpeg-turbo directly, at a reduced DCT scale when ``max_side`` allows, and
    listen to its warnings: Pillow's decoder fills data that ends early with grey and says "ok"."""
    w, h = size
    scale = max(w, h) / max_side if max_side and max(w, h) > max_side else 1
    kwargs = {"colorspace": {"L": "GRAY", "RGB": "RGB"}.get(mode, "CMYK"),
              "min_width": math.ceil(w / scale), "min_height": math.ceil(h / scale)}
    array: Pixels  # HxWx3 RGB or HxWx1 grey (CMYK: HxWx4, only checked for completeness)
    try:
        array = simplejpeg.decode_jpeg(data, strict=strict, **kwargs)
    except ValueError as exc:
        text = str(exc).lower()
        if "premature end" in text:
            raise DecodeError(f"the JPEG's image data ends early ({exc})", code="decode.truncated") from exc
        if "corrupt jpeg data" not in text:  # fatal, not a warning
            raise
        array = simplejpeg.decode_jpeg(data, strict=False, **kwargs)  # a harmless warning
    return array


def _png_may_be_short(im: Image.Image, data: bytes) -> bool:
    """Rows Pillow never got are left zero: worth counting the data only when the last row is all
    zero, or when the file is interlaced (its last pass is spread over every other row)."""
    w, h = im.size
    return bool(data[28]) or im.crop((0, h - 1, w, h)).getbbox(alpha_only=False) is None


def _png_rows_complete(data: bytes) -> bool:
    """True when the IDAT stream inflates to every row the header promises (Pillow paints rows
    it never got black and says nothing)."""
    w, h, depth, colour, interlace = struct.unpack(">IIBBxxB", data[16:29])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    passes = ([(0, 8, 0, 8), (4, 8, 0, 8), (0, 4, 4, 8), (2, 4, 0, 4), (0, 2, 2, 4), (1, 2, 0, 2), (0, 1, 1, 2)]
              if interlace else [(0, 1, 0, 1)])
    expected = 0
    for x0, dx, y0, dy in passes:
        pw, ph = (w - x0 + dx - 1) // dx, (h - y0 + dy - 1) // dy
        if pw and ph:
            expected += ph * (1 + (pw * depth * channels + 7) // 8)
    inflater, total, i = zlib.decompressobj(), 0, 8
    while i + 8 <= len(data) and total < expected:
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind == b"IDAT":
            pending = data[i + 8:i + 8 + length]
            while pending and total < expected:
                total += len(inflater.decompress(pending, 1 << 20))
                pending = inflater.unconsumed_tail
        i += 12 + length
    return total >= expected


def _reduce(array: Pixels, size: tuple[int, int]) -> Pixels:
    """``array`` reduced to ``size`` without aliasing: whole octaves by pyrDown, the rest by a
    Gaussian matched to the factor and one bilinear step. INTER_AREA gives the same image but has
    no fast path for the non-integer factors a draft decode leaves (2000 to 1280 px: 21 ms, here 10).
    """
    out: MatLike = array
    while out.shape[1] >= 2 * size[0] and out.shape[0] >= 2 * size[1]:
        out = cv2.pyrDown(out)
    factor = out.shape[1] / size[0]
    if factor > 1:
        out = cv2.GaussianBlur(out, (0, 0), 0.5 * math.sqrt(factor * factor - 1))
    return cast(Pixels, cv2.resize(out, size, interpolation=cv2.INTER_LINEAR))  # OpenCV keeps the uint8


def _capture_time(exif: Image.Exif | None) -> datetime | None:
    """EXIF DateTimeOriginal (or DateTime) as a naive datetime; None when absent or malformed."""
    if exif is None:
        return None
    try:
        text = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
        return datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S") if text else None
    except Exception:  # noqa: BLE001 - a malformed date is no date
        return None


def _size(decoded: Pixels | Image.Image) -> tuple[int, int]:
    return decoded.size if isinstance(decoded, Image.Image) else (decoded.shape[1], decoded.shape[0])


def _srgb_array(decoded: Pixels | Image.Image, reduce_by: int, icc: bytes | None) -> Pixels:
    """Any Pillow image or libjpeg array -> HxWx3 uint8 sRGB (alpha composited on white, ICC
    applied), a strip of rows at a time into one output array; a Pillow image is first reduced
    by ``reduce_by`` (a cheap box shrink for non-JPEG analysis copies)."""
    transform = _icc_transform(icc)
    if isinstance(decoded, np.ndarray):  # libjpeg's RGB or grey, already at a reduced DCT scale
        if transform is None:
            return decoded if decoded.shape[2] == 3 else np.repeat(decoded, 3, axis=2)
        decoded = Image.fromarray(decoded[..., 0] if decoded.shape[2] == 1 else decoded)
        reduce_by = 1
    gain = 1.0
    if decoded.mode == "F":  # one scale for every strip: float data is usually 0..1
        top = decoded.getextrema()[1]  # one band: (min, max) as floats
        gain = 255.0 if isinstance(top, float | int) and top <= 1.0 else 1.0
    r = reduce_by if reduce_by >= 2 and decoded.mode in ("L", "RGB", "RGBA", "CMYK") else 1
    w, h = decoded.size
    out = np.empty((-(-h // r), -(-w // r), 3), np.uint8)
    rows = max(r, _STRIP_PIXELS // max(w, 1) // r * r)
    for y in range(0, h, rows):
        part = decoded.crop((0, y, w, min(h, y + rows)))
        part = _strip_to_srgb(part.reduce(r) if r > 1 else part, transform, gain)
        out[y // r:y // r + part.height] = np.asarray(part)
    return out


def _strip_to_srgb(im: Image.Image, transform: _Transforms | None, gain: float = 1.0) -> Image.Image:
    if im.mode.startswith("I") or im.mode == "F":
        im = _to_8bit_grey(im, gain)
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
    if transform is not None and im.mode in transform:
        try:
            im = ImageCms.applyTransform(im, transform[im.mode]) or im  # None only when done in place
        except Exception:  # noqa: BLE001 - mismatched profile: treat the pixels as sRGB
            pass
    return im if im.mode == "RGB" else im.convert("RGB")


_Transforms: TypeAlias = dict[str, ImageCms.ImageCmsTransform]  # input mode -> to sRGB


def _icc_transform(icc: bytes | None) -> _Transforms | None:
    """Input mode -> transform to sRGB for an embedded profile; None when absent or broken
    (then the pixels are taken as sRGB)."""
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except Exception:  # noqa: BLE001 - a broken profile: the pixels are taken as sRGB
        return None
    out: _Transforms = {}
    for mode in ("RGB", "L", "CMYK"):
        try:
            out[mode] = ImageCms.buildTransform(profile, _SRGB, mode, "RGB")
        except Exception:  # noqa: BLE001 - the profile's colour space is not this mode's
            continue
    return out or None


def _to_8bit_grey(im: Image.Image, gain: float = 1.0) -> Image.Image:
    """16/32-bit integer and float greyscale -> L by scaling, not clipping, to 0..255 (float
    data times ``gain``, chosen once for the picture)."""
    a = np.asarray(im)
    if im.mode == "F":
        return Image.fromarray(np.clip(np.rint(np.nan_to_num(a * gain)), 0, 255).astype(np.uint8))
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


def _header_open(data: bytes) -> Image.Image | Exception | None:
    """Open with the plugin whose signature matches, bypassing Image.open: (image|error|None)."""
    for fmt in _FORMATS:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        found = accept(data[:16]) if factory is not None and accept is not None else False
        if factory is not None and found and not isinstance(found, str):
            try:
                return factory(io.BytesIO(data), "")
            except Exception as exc:  # noqa: BLE001 - the plugin's own complaint is the answer
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
    chain: list[BaseException] = []
    cur: BaseException | None = exc
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
