"""The hostile files of issue 14, built from a few lines each so that tests and the fuzz harness
(benchmarks/fuzz.py) share one definition and nothing large is stored in the repository.

Each builder returns bytes. ``SEEDS`` names the ones every test run decodes.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every marker segment of a baseline/progressive JPEG, scans including their
    entropy-coded data; the final EOI is its own two-byte segment."""
    out, i = [], 2
    while i < len(data) - 1:
        if data[i] != 0xFF:
            raise ValueError(f"no marker at {i}")
        marker = data[i + 1]
        if marker == 0xD9:
            out.append((i, i + 2))
            break
        end = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:  # entropy data runs to the next marker that is not a stuffed byte or RSTn
            while True:
                end = data.index(b"\xff", end)
                if data[end + 1] != 0 and not 0xD0 <= data[end + 1] <= 0xD7:
                    break
                end += 2
        out.append((i, end))
        i = end
    return out


def progressive_jpeg_many_scans(scans: int = 20_000, size: tuple[int, int] = (4800, 3600)) -> bytes:
    """A progressive JPEG with its smallest refinement scan repeated ``scans`` times: libjpeg
    processes every block once per scan, so decode time grows with the count, not the bytes."""
    rng = np.random.default_rng(7)
    pixels = (rng.normal(128, 20, (size[1] // 16, size[0] // 16, 3))).clip(0, 255).astype(np.uint8)
    im = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, progressive=True)
    data = buf.getvalue()
    segments = jpeg_segments(data)
    sos = [s for s in segments if data[s[0] + 1] == 0xDA]
    smallest = min(sos[1:], key=lambda s: s[1] - s[0])  # a refinement scan of a few bytes
    return data[:sos[-1][1]] + data[slice(*smallest)] * scans + b"\xff\xd9"


def many_page_tiff(pages: int = 100_000) -> bytes:
    """A TIFF of ``pages`` 1x1 grey pages sharing one strip: about 100 bytes a page."""
    entries = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (278, 3, 1, 1), (279, 4, 1, 1)]
    ifd_size = 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", 9) + b"\x80")  # header, first IFD at 9, pixel at 8
    for n in range(pages):
        start = 9 + n * ifd_size
        following = start + ifd_size if n + 1 < pages else 0
        out += struct.pack("<H", len(entries))
        for tag, kind, count, value in entries:
            out += struct.pack("<HHI", tag, kind, count) + struct.pack("<I" if kind == 4 else "<HH",
                                                                      *((value,) if kind == 4 else (value, 0)))
        out += struct.pack("<I", following)
    return bytes(out)


def animated_webp_canvas(width: int = 7000, height: int = 7000) -> bytes:
    """An animated WebP of one 1x1 frame on a ``width`` x ``height`` canvas (138 bytes): the
    animation decoder allocates whole canvases, whatever the frames hold."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(buf, "WEBP", lossless=True)
    riff = buf.getvalue()
    vp8l = riff[12:]  # the frame's own VP8L chunk
    frame = (0).to_bytes(3, "little") * 2 + (0).to_bytes(3, "little") * 2 + (100).to_bytes(3, "little") + b"\x00"
    anmf = b"ANMF" + struct.pack("<I", len(frame) + len(vp8l)) + frame + vp8l
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x02, 0, 0, 0]) + \
        (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    anim = b"ANIM" + struct.pack("<I", 6) + b"\xff\xff\xff\xff" + b"\x00\x00"
    body = b"WEBP" + vp8x + anim + anmf
    return b"RIFF" + struct.pack("<I", len(body)) + body


def png16_rgba(width: int = 7000, height: int = 7000) -> bytes:
    """A 16-bit RGBA PNG of zeros: a few hundred KB that decode to width * height * 4 bytes or more."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 8)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + \
        _png_chunk(b"IEND", b"")


def jpeg_cut_with_end_marker(data: bytes, keep: float = 0.5) -> bytes:
    """The first ``keep`` of a JPEG with its end marker re-appended: the scan data stops early."""
    return data[:int(len(data) * keep)] + b"\xff\xd9"


def png_taller_than_its_rows(data: bytes, extra_rows: int = 100) -> bytes:
    """A PNG whose header height was enlarged (with a valid CRC): rows the data never holds."""
    assert data[12:16] == b"IHDR"
    ihdr = bytearray(data[16:29])
    ihdr[4:8] = (int.from_bytes(ihdr[4:8], "big") + extra_rows).to_bytes(4, "big")
    return data[:8] + _png_chunk(b"IHDR", bytes(ihdr)) + data[33:]


def png_interlaced(im: Image.Image) -> bytes:
    """An Adam7-interlaced RGB PNG (neither Pillow nor OpenCV writes one)."""
    rgb = np.asarray(im.convert("RGB"))
    raw = b""
    for x0, dx, y0, dy in [(0, 8, 0, 8), (4, 8, 0, 8), (0, 4, 4, 8), (2, 4, 0, 4), (0, 2, 2, 4), (1, 2, 0, 2),
                           (0, 1, 1, 2)]:
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    w, h = im.size
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1))
            + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b""))


def sample_photo(size: tuple[int, int] = (600, 800)) -> Image.Image:
    """A smooth, non-trivial RGB picture (no face needed for decoding)."""
    y, x = np.mgrid[0:size[1], 0:size[0]]
    rgb = np.stack([x * 255 // size[0], y * 255 // size[1], (x + y) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb)


def encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


SEEDS = {  # name -> builder of the bytes
    "jpeg_20000_scans": lambda: progressive_jpeg_many_scans(20_000),
    "tiff_100000_pages": lambda: many_page_tiff(100_000),
    "webp_7000_canvas": lambda: animated_webp_canvas(7000, 7000),
    "png16_rgba_7000": lambda: png16_rgba(7000, 7000),
    "jpeg_half_with_eoi": lambda: jpeg_cut_with_end_marker(encoded(sample_photo(), "JPEG", quality=90)),
    "png_taller_header": lambda: png_taller_than_its_rows(encoded(sample_photo(), "PNG")),
}
