"""A fuzz harness that stays (issue 14 item 8): hostile input through photocore, case by case.

Why: the only acceptable answers to bad input are a result or a typed refusal (a
``PhotocoreError`` with a stable code). A crash (any other exception, or a dead process), a hang,
or a case that costs more than 2 s or 600 MB is a bug. Four kinds of case, in families:

- ``decode/<format>``: mutated files of every supported format (seeds made here from a real face
  and from synthetic pictures), through ``photocore.decode(...).pixels()``;
- ``bomb/<builder>``: the hostile builders of tests/hostile_corpus.py (and two more below) with
  random scan counts, page counts, canvas sizes, header sizes and cut points, decoded the same way;
- ``check/faces``: real captures shifted, rotated, zoomed and cropped so the face meets every edge
  or leaves the frame, through ``photocore.check``;
- ``verify/jws``, ``verify/x5c``: bit flips and edits in a real signed token and its certificate
  chain, through ``verify``, ``verify_many`` and ``verify_compact``.

Each case is made from ``(--seed, case number)`` alone, so a run is repeatable; the one exception
is the signing key, new for every run (a saved verify case carries its token and trust anchor).
Cases run in a pool of worker processes; one over ``--timeout`` is a hang (the worker is killed and
replaced). Per case: wall time, and the worker's peak resident memory during the case (VmHWM,
reset before each case).

    .venv/bin/python benchmarks/fuzz.py --cases 100000 --seed 1 --json fuzz.json --save-dir fuzz-cases
    .venv/bin/python benchmarks/fuzz.py --replay fuzz-cases/decode_png-16bit-s1-c4711.bin
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from multiprocessing import connection, get_context
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.hostile_corpus import (  # noqa: E402
    animated_webp_canvas,
    encoded,
    jpeg_cut_with_end_marker,
    jpeg_segments,
    many_page_tiff,
    png16_rgba,
    png_interlaced,
    png_taller_than_its_rows,
    progressive_jpeg_many_scans,
    sample_photo,
)

BUDGET_SECONDS = 2.0
BUDGET_MB = 600
# A worker above this is killed and its case recorded as a crash: a safety net for the machine,
# far above the budget, so that it never decides whether a case is over budget.
KILL_MB = 4096
SHARED_FACES = ROOT.parent / "shared" / "faces"
TEST_FACES = ROOT / "tests" / "data" / "faces"


# --- the run's context: what every worker needs to make and run cases ---------------------------

@dataclass(frozen=True)
class Context:
    seed: int
    face: str  # the real face the decode seeds are made from, and the signed photo
    captures: tuple[str, ...]  # every picture the check family transforms
    token: str  # a real SD-JWT over ``face``, from a key store made for this run
    root_pem: str
    uniform: bool = False  # every family equally likely (short runs that must touch each)


def make_context(seed: int, faces: Path, uniform: bool) -> Context:
    """The faces to use, and one real token signed with a key store that lives only this long."""
    from photocore.catalogue import load_catalogue
    from photocore.sign import CaptureInfo, build_manifest, init_keys, load_signer, sign_manifest

    captures = tuple(sorted(str(p) for p in faces.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")))
    if not captures:
        raise SystemExit(f"no pictures in {faces}")
    face = next((c for c in captures if "neutral" in c), captures[0])
    os.environ.setdefault("PHOTOCORE_KEY_PASSPHRASE", "fuzz harness, throwaway keys")
    with tempfile.TemporaryDirectory() as keys:
        init_keys(keys)
        signer = load_signer(keys)
        photo = Path(face).read_bytes()
        manifest = build_manifest(photo, credential="police.resident-id-card", catalogue=load_catalogue(),
                                  verdicts=[],
                                  capture=CaptureInfo("fuzz-1", "op-1", "2026-01-02T03:04:05+08:00", "fuzz"),
                                  image={"format": "jpeg"}, signer=signer)
        token = sign_manifest(manifest, signer)
        root_pem = (Path(keys) / "root.pem").read_text()
    return Context(seed, face, captures, token, root_pem, uniform)


# --- random helpers ---------------------------------------------------------------------------

def _log_int(rng, lo: int, hi: int) -> int:
    """An integer spread evenly over orders of magnitude: small and huge both come up."""
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def _dimension(rng) -> int:
    """A width or height as an attacker writes it: boundaries of common limits, or anything."""
    special = (0, 1, 2, 255, 256, 7071, 7072, 16383, 16384, 32767, 32768, 65535, 65536, 2**31 - 1, 2**32 - 1)
    return int(rng.choice(special)) if rng.random() < 0.5 else _log_int(rng, 1, 1 << 20)


def _interesting(rng, bits: int) -> int:
    top = (1 << bits) - 1
    return int(rng.choice([0, 1, top >> 1, (top >> 1) + 1, top, top - 1, int(rng.integers(0, top + 1))]))


# --- decode seeds: every supported format, from a real face and from synthetic pictures --------

_SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: decode has to turn it upright
    exif[0x0132] = "2026:01:02 03:04:05"
    return exif.tobytes()


def _frames(im: Image.Image) -> list[Image.Image]:
    return [im, ImageOps.mirror(im), ImageOps.invert(im)]


def _with_alpha(im: Image.Image) -> Image.Image:
    alpha = Image.linear_gradient("L").resize(im.size)
    out = im.copy()
    out.putalpha(alpha)
    return out


def _png16(im: Image.Image) -> bytes:
    """16-bit RGB (Pillow writes 16-bit PNG only for greyscale; OpenCV writes colour)."""
    return cv2.imencode(".png", np.asarray(im)[..., ::-1].astype(np.uint16) * 257)[1].tobytes()


# format -> its variants, each a picture -> bytes
FORMATS: dict[str, list[Callable[[Image.Image], bytes]]] = {
    "jpeg-baseline": [lambda im: encoded(im, "JPEG", quality=90, exif=_exif(), icc_profile=_SRGB_ICC),
                      lambda im: encoded(im, "JPEG", quality=75, subsampling=0)],
    "jpeg-progressive": [lambda im: encoded(im, "JPEG", quality=85, progressive=True),
                         lambda im: encoded(im, "JPEG", quality=95, progressive=True, optimize=True, exif=_exif())],
    "jpeg-grey": [lambda im: encoded(im.convert("L"), "JPEG", quality=90)],
    "jpeg-cmyk": [lambda im: encoded(im.convert("CMYK"), "JPEG", quality=90)],
    "png-rgb8": [lambda im: encoded(im, "PNG", exif=_exif(), icc_profile=_SRGB_ICC)],
    "png-16bit": [_png16, lambda im: encoded(Image.fromarray(np.asarray(im.convert("L")).astype(np.uint16) * 257),
                                             "PNG")],
    "png-palette": [lambda im: encoded(im.quantize(64), "PNG", transparency=0),
                    lambda im: encoded(im.convert("L").quantize(16), "PNG")],
    "png-interlaced": [png_interlaced],
    "png-rgba": [lambda im: encoded(_with_alpha(im), "PNG"),
                 lambda im: encoded(_with_alpha(im.convert("L")).convert("LA"), "PNG")],
    "webp-lossy": [lambda im: encoded(im, "WEBP", quality=75), lambda im: encoded(_with_alpha(im), "WEBP", quality=60)],
    "webp-lossless": [lambda im: encoded(im, "WEBP", lossless=True)],
    "webp-animated": [lambda im: encoded(im, "WEBP", save_all=True, append_images=_frames(im)[1:], duration=80,
                                         loop=0, quality=70)],
    "bmp": [lambda im: encoded(im, "BMP"), lambda im: encoded(im.quantize(32), "BMP"),
            lambda im: encoded(_with_alpha(im), "BMP")],
    "tiff": [lambda im: encoded(im, "TIFF", exif=_exif()), lambda im: encoded(im.convert("CMYK"), "TIFF")],
    "tiff-compressed": [lambda im, c=c: encoded(im, "TIFF", compression=c)
                        for c in ("tiff_lzw", "tiff_adobe_deflate", "jpeg", "packbits")],
    "tiff-multipage": [lambda im: encoded(im, "TIFF", save_all=True, compression="tiff_lzw",
                                          append_images=[im.convert("L"), _with_alpha(im)])],
    "gif-animated": [lambda im: encoded(im.quantize(64), "GIF", save_all=True, duration=80, loop=0, disposal=2,
                                        append_images=[f.quantize(64) for f in _frames(im)[1:]])],
}
# picture -> share of seeds: the face small (most work per byte in headers), the whole capture
# (over the analysis size, so decode reduces it), a synthetic picture, and a 3x2 one
SOURCES = {"face": 0.45, "face-full": 0.05, "synthetic": 0.4, "tiny": 0.1}


@lru_cache(maxsize=4)
def _picture(face: str, source: str) -> Image.Image:
    if source in ("face", "face-full"):
        im = Image.open(face).convert("RGB")
        if source == "face":
            im.thumbnail((384, 384))
        return im
    if source == "tiny":
        return sample_photo((3, 2))
    noise = np.random.default_rng(5).normal(0, 12, (73, 97, 3))
    return Image.fromarray((np.asarray(sample_photo((97, 73))) + noise).clip(0, 255).astype(np.uint8))


@cache  # 116 files, 64 MB
def seed_file(face: str, fmt: str, variant: int, source: str) -> bytes:
    return FORMATS[fmt][variant](_picture(face, source))


def _pick_seed(ctx: Context, rng, formats) -> bytes:
    fmt = formats[int(rng.integers(len(formats)))]
    source = rng.choice(list(SOURCES), p=list(SOURCES.values()))
    return seed_file(ctx.face, fmt, int(rng.integers(len(FORMATS[fmt]))), str(source))


# --- byte mutations ---------------------------------------------------------------------------

def _position(rng, size: int) -> int:
    """Half of the time within the first KB, where the headers are."""
    return int(rng.integers(min(size, 1024) if rng.random() < 0.5 else size)) if size else 0


def _span(rng, size: int) -> tuple[int, int]:
    start = _position(rng, size)
    return start, min(size, start + _log_int(rng, 1, max(2, size // 2)))


def flip_bits(data: bytearray, rng) -> None:
    for _ in range(_log_int(rng, 1, 16)):
        if data:
            data[_position(rng, len(data))] ^= 1 << int(rng.integers(8))


def set_bytes(data: bytearray, rng) -> None:
    for _ in range(int(rng.integers(1, 5))):
        if data:
            data[_position(rng, len(data))] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF]))


def set_integer(data: bytearray, rng) -> None:
    width = int(rng.choice([2, 4]))
    if len(data) >= width:
        at = min(_position(rng, len(data)), len(data) - width)
        data[at:at + width] = _interesting(rng, 8 * width).to_bytes(width, str(rng.choice(["big", "little"])))


def cut(data: bytearray, rng) -> None:
    del data[_position(rng, len(data)) if rng.random() < 0.3 else int(rng.integers(len(data) + 1)):]


def delete_span(data: bytearray, rng) -> None:
    start, end = _span(rng, len(data))
    del data[start:end]


def duplicate_span(data: bytearray, rng) -> None:
    """Repeated up to 64 times, at most 4 MB more: a long input, not a huge one."""
    start, end = _span(rng, len(data))
    data[end:end] = bytes(data[start:end]) * min(_log_int(rng, 1, 64), (4 << 20) // max(1, end - start))


def insert_random(data: bytearray, rng) -> None:
    at = _position(rng, len(data))
    data[at:at] = rng.bytes(_log_int(rng, 1, 256))


BYTE_MUTATIONS = [flip_bits, flip_bits, set_bytes, set_integer, cut, delete_span, duplicate_span, insert_random]


def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each whole chunk after the signature, as far as their lengths hold."""
    out, i = [], 8
    while i + 12 <= len(data):
        end = i + 12 + int.from_bytes(data[i:i + 4], "big")
        if end > len(data):
            break
        out.append((i, end))
        i = end
    return out


def _riff_chunks(data: bytes) -> list[tuple[int, int]]:
    out, i = [], 12
    while i + 8 <= len(data):
        end = i + 8 + int.from_bytes(data[i + 4:i + 8], "little")
        end += end & 1
        if end > len(data):
            break
        out.append((i, end))
        i = end
    return out


def _tiff_entries(data: bytes) -> list[int]:
    """Offsets of the first IFD's 12-byte entries."""
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return []
    order = "little" if data[:2] == b"II" else "big"
    ifd = int.from_bytes(data[4:8], order)
    if ifd + 2 > len(data):
        return []
    count = int.from_bytes(data[ifd:ifd + 2], order)
    return [ifd + 2 + 12 * k for k in range(count) if ifd + 14 + 12 * k <= len(data)]


def _move_chunk(data: bytearray, rng, chunks: list[tuple[int, int]]) -> None:
    """Drop, repeat or swap whole chunks or segments: the container stays parseable."""
    (a0, a1), (b0, b1) = (chunks[int(rng.integers(len(chunks)))] for _ in range(2))
    action = rng.integers(3)
    if action == 0:
        del data[a0:a1]
    elif action == 1:
        data[a1:a1] = bytes(data[a0:a1]) * _log_int(rng, 1, 100)
    elif a1 <= b0:
        data[a0:b1] = data[b0:b1] + data[a1:b0] + data[a0:a1]


def mutate_structure(data: bytearray, rng) -> None:
    """A change that knows the container: a size or mode in a header, or whole chunks or segments
    dropped, repeated or swapped."""
    if data.startswith(b"\x89PNG") and (chunks := _png_chunks(data)):
        if rng.random() < 0.5 and data[12:16] == b"IHDR":
            field = int(rng.integers(7))  # width, height, depth, colour, compression, filter, interlace
            if field < 2:
                data[16 + 4 * field:20 + 4 * field] = (_dimension(rng) & 0xFFFFFFFF).to_bytes(4, "big")
            else:
                data[22 + field - 2] = int(rng.choice([0, 1, 2, 3, 4, 6, 7, 8, 16, 255]))
        else:
            _move_chunk(data, rng, chunks)
    elif data.startswith(b"\xff\xd8"):
        try:
            segments = jpeg_segments(bytes(data))
        except (ValueError, IndexError):  # damaged already: no segments to find
            flip_bits(data, rng)
            return
        frames = [s for s in segments if data[s[0] + 1] in (0xC0, 0xC1, 0xC2) and s[1] - s[0] >= 9]
        if frames and rng.random() < 0.5:
            start = frames[0][0]
            at = start + int(rng.choice([5, 7, 4, 9, 11]))  # height, width, precision, components, sampling
            if at + 2 <= len(data):
                data[at:at + 2] = (_dimension(rng) & 0xFFFF).to_bytes(2, "big")
        elif segments:
            _move_chunk(data, rng, segments)
    elif data.startswith(b"RIFF") and (chunks := _riff_chunks(data)):
        if data[12:16] == b"VP8X" and rng.random() < 0.5:
            data[24:30] = ((_dimension(rng) & 0xFFFFFF).to_bytes(3, "little")
                           + (_dimension(rng) & 0xFFFFFF).to_bytes(3, "little"))
        else:
            _move_chunk(data, rng, chunks)
    elif data.startswith(b"GIF8") and len(data) >= 13:
        at = int(rng.choice([6, 8, 10, 11]))  # screen width, height, flags, background
        data[at:at + 2] = (_dimension(rng) & 0xFFFF).to_bytes(2, "little")
    elif data.startswith(b"BM") and len(data) >= 54:
        at = int(rng.choice([2, 10, 18, 22, 28, 30, 46]))  # file size, offset, w, h, bits, compression, colours
        data[at:at + 4] = (_dimension(rng) * int(rng.choice([1, -1]))).to_bytes(8, "little", signed=True)[:4]
    elif entries := _tiff_entries(data):
        at = entries[int(rng.integers(len(entries)))] + int(rng.choice([2, 4, 8]))  # type, count, value
        order = "little" if data[:2] == b"II" else "big"
        data[at:at + 4] = (_dimension(rng) & 0xFFFFFFFF).to_bytes(4, order)
    else:
        flip_bits(data, rng)


def repair(data: bytearray, rng) -> None:
    """Mostly make checksums and sizes right again, so that the damage reaches the decoder."""
    if data.startswith(b"\x89PNG") and rng.random() < 0.8:
        for start, end in _png_chunks(data):
            data[end - 4:end] = struct.pack(">I", zlib.crc32(data[start + 4:end - 4]))
    elif data.startswith(b"RIFF") and len(data) >= 8 and rng.random() < 0.8:
        data[4:8] = struct.pack("<I", len(data) - 8)


def mutate(data: bytes, rng, splice_with: bytes | None = None) -> bytes:
    out = bytearray(data)
    for _ in range(min(int(rng.geometric(0.6)), 8)):
        choice = rng.random()
        if choice < 0.3:
            mutate_structure(out, rng)
        elif choice < 0.35 and splice_with:
            out[_position(rng, len(out)):] = splice_with[_position(rng, len(splice_with)):]
        else:
            BYTE_MUTATIONS[int(rng.integers(len(BYTE_MUTATIONS)))](out, rng)
    repair(out, rng)
    return bytes(out)


def make_decode_case(fmt: str) -> Callable[[Context, object], bytes]:
    def make(ctx: Context, rng) -> bytes:
        return mutate(_pick_seed(ctx, rng, [fmt]), rng, _pick_seed(ctx, rng, [fmt]))
    return make


# --- bombs: the corpus builders with random parameters, and two more -------------------------

JPEG_SIZES = [(320, 240), (1024, 768), (2400, 1800), (4800, 3600), (5600, 4200), (8000, 6000)]


@lru_cache(maxsize=len(JPEG_SIZES))
def _one_scan_bomb(size: tuple[int, int]) -> tuple[bytes, bytes]:
    """The builder's file with one repeated scan, and that scan: n repeats are a cheap splice."""
    data = progressive_jpeg_many_scans(1, size)
    last = jpeg_segments(data)[-2]
    return data, data[last[0]:last[1]]


def jpeg_scans(ctx: Context, rng) -> bytes:
    data, scan = _one_scan_bomb(JPEG_SIZES[int(rng.integers(len(JPEG_SIZES)))])
    bomb = data[:-2] + scan * (_log_int(rng, 1, 30_000) - 1) + b"\xff\xd9"  # = progressive_jpeg_many_scans(n, size)
    return jpeg_cut_with_end_marker(bomb, rng.uniform(0.05, 1)) if rng.random() < 0.2 else bomb


def tiff_pages(ctx: Context, rng) -> bytes:
    return many_page_tiff(_log_int(rng, 1, 200_000))


def webp_canvas(ctx: Context, rng) -> bytes:
    return animated_webp_canvas(_log_int(rng, 1, 1 << 24), _log_int(rng, 1, 1 << 24))


def _area(rng, max_side: int, max_pixels: int) -> tuple[int, int]:
    """A width and height up to ``max_side``, with at most ``max_pixels`` (builders pay for pixels)."""
    w, h = _log_int(rng, 1, max_side), _log_int(rng, 1, max_side)
    return w, max(1, min(h, max_pixels // w))


def png16(ctx: Context, rng) -> bytes:
    return png16_rgba(*_area(rng, 12_000, 64_000_000))


def jpeg_cut(ctx: Context, rng) -> bytes:
    return jpeg_cut_with_end_marker(_pick_seed(ctx, rng, ["jpeg-baseline", "jpeg-progressive", "jpeg-grey",
                                                          "jpeg-cmyk"]), rng.uniform(0, 1))


def png_taller(ctx: Context, rng) -> bytes:
    seed = _pick_seed(ctx, rng, ["png-rgb8", "png-16bit", "png-palette", "png-interlaced", "png-rgba"])
    return png_taller_than_its_rows(seed, _log_int(rng, 1, 10_000_000))


def gif_on_a_large_screen(width: int, height: int) -> bytes:
    """An 8x8 GIF on a ``width`` x ``height`` logical screen: Pillow's image is the screen."""
    data = bytearray(encoded(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def gif_screen(ctx: Context, rng) -> bytes:
    return gif_on_a_large_screen(_log_int(rng, 1, 65535), _log_int(rng, 1, 65535))


# mode -> samples, bits, photometric, sample format
_TIFF_LAYOUTS = {"L": (1, 8, 1, 1), "I;16": (1, 16, 1, 1), "F": (1, 32, 1, 3), "RGB": (3, 8, 2, 1),
                 "RGBA": (4, 8, 2, 1), "CMYK": (4, 8, 5, 1)}


def tiff_zero_strip(width: int, height: int, mode: str) -> bytes:
    """A one-strip Deflate TIFF of zeros: a few hundred KB that claim ``width`` x ``height``
    pixels of ``mode`` (float and 16-bit ones are converted after decoding, in more copies)."""
    samples, bits, photometric, sample_format = _TIFF_LAYOUTS[mode]
    compressor = zlib.compressobj(9)
    row = bytes(width * samples * bits // 8)
    strip = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    entries = [(256, 4, [width]), (257, 4, [height]), (258, 3, [bits] * samples), (259, 3, [8]),
               (262, 3, [photometric]), (273, 4, [0]), (277, 3, [samples]), (278, 4, [height]),
               (279, 4, [len(strip)]), (284, 3, [1])]
    entries += [(338, 3, [2])] if mode == "RGBA" else []
    entries += [(339, 3, [sample_format] * samples)]
    extra_at = 8 + 2 + 12 * len(entries) + 4
    extra, table = b"", b""
    for tag, kind, values in entries:
        packed = struct.pack(f"<{len(values)}{'I' if kind == 4 else 'H'}", *values)
        if len(packed) > 4:
            table += struct.pack("<HHII", tag, kind, len(values), extra_at + len(extra))
            extra += packed
        else:
            table += struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\x00")
    strip_at = extra_at + len(extra)
    table = table.replace(struct.pack("<HHII", 273, 4, 1, 0), struct.pack("<HHII", 273, 4, 1, strip_at))
    return b"II*\x00" + struct.pack("<IH", 8, len(entries)) + table + b"\x00\x00\x00\x00" + extra + strip


def tiff_strip(ctx: Context, rng) -> bytes:
    """Up to 256 MB of samples: past the decoder's 200 MB pixel memory limit, and not much further."""
    mode = list(_TIFF_LAYOUTS)[int(rng.integers(len(_TIFF_LAYOUTS)))]
    samples, bits = _TIFF_LAYOUTS[mode][:2]
    return tiff_zero_strip(*_area(rng, 16_000, (256 << 20) // (samples * bits // 8)), mode)


# --- check: real captures with the face pushed to every edge, or partly out of the frame -------

def moved_capture(ctx: Context, rng) -> bytes:
    """A capture turned, scaled and moved so its centre (where the face is) lands anywhere from a
    quarter outside the frame to a quarter beyond it, then cut and encoded as a camera might."""
    src = np.asarray(Image.open(ctx.captures[int(rng.integers(len(ctx.captures)))]).convert("RGB"))
    h, w = src.shape[:2]
    if rng.random() < 0.1:
        out_w, out_h = _log_int(rng, 1, 64), _log_int(rng, 1, 64)
    else:
        out_w, out_h = int(w * rng.uniform(0.3, 1.4)) or 1, int(h * rng.uniform(0.3, 1.4)) or 1
    angle = 0.0 if rng.random() < 0.2 else float(rng.normal(0, 12) if rng.random() < 0.5 else rng.uniform(-180, 180))
    scale = math.exp(rng.uniform(math.log(0.1), math.log(4)))
    edge = rng.uniform(-0.25, 1.25, 2)
    if rng.random() < 0.7:  # on an edge or a corner
        axis = int(rng.integers(2))
        edge[axis] = rng.choice([rng.uniform(-0.25, 0.1), rng.uniform(0.9, 1.25)])
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += (edge[0] * out_w - w / 2, edge[1] * out_h - h / 2)
    border = [cv2.BORDER_CONSTANT, cv2.BORDER_REPLICATE, cv2.BORDER_REFLECT][int(rng.integers(3))]
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    moved = cv2.warpAffine(src, matrix, (out_w, out_h), borderMode=border, borderValue=colour)
    im = Image.fromarray(moved)
    fmt = rng.choice(["PNG", "JPEG", "WEBP"], p=[0.4, 0.5, 0.1])
    return encoded(im, str(fmt), **({"quality": int(rng.integers(40, 96))} if fmt != "PNG" else {}))


# --- verify: flips and edits in a real token and its certificate chain ------------------------

def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mutated_bytes(data: bytes, rng) -> bytes:
    out = bytearray(data)
    for _ in range(min(int(rng.geometric(0.6)), 4)):
        (flip_bits if rng.random() < 0.6 else BYTE_MUTATIONS[int(rng.integers(len(BYTE_MUTATIONS)))])(out, rng)
    return bytes(out)


def _with_header(token: str, edit: Callable[[dict], None]) -> str:
    compact, disclosure, tail = token.split("~")
    head, payload, signature = compact.split(".")
    header = json.loads(_unb64u(head))
    edit(header)
    return f"{_b64u(json.dumps(header).encode())}.{payload}.{signature}~{disclosure}~{tail}"


def forged_token(ctx: Context, rng) -> bytes:
    """Bit flips in the token text or in one decoded part, JSON edits of the header, or a broken shape."""
    token = ctx.token
    action = rng.choice(["text", "part", "header", "shape"], p=[0.25, 0.45, 0.2, 0.1])
    if action == "text":
        text = bytearray(token.encode())
        flip_bits(text, rng)
        token = text.decode("latin-1")
    elif action == "part":
        parts = token.replace("~", ".").split(".")  # header, payload, signature, disclosure, ""
        k = int(rng.integers(4))
        parts[k] = _b64u(_mutated_bytes(_unb64u(parts[k]), rng))
        token = f"{parts[0]}.{parts[1]}.{parts[2]}~{parts[3]}~"
    elif action == "header":
        field = str(rng.choice(["alg", "kid", "x5c", "typ", "crit"]))
        value = [None, "", "none", "HS256", "RS256", "ES256", "EdDSA", 0, [], {}, "A" * 5000][int(rng.integers(11))]
        if field == "x5c" and rng.random() < 0.6:  # the chain's certificates dropped, repeated or reordered
            chain = json.loads(_unb64u(token.split(".")[0]))["x5c"]
            value = [chain[int(rng.integers(len(chain)))] for _ in range(int(rng.integers(0, 5)))]

        def edit(header: dict) -> None:
            header[field] = value
        token = _with_header(token, edit)
    else:
        pieces = token.split("~")
        token = "~".join(pieces[int(rng.integers(len(pieces)))] for _ in range(int(rng.integers(0, 6))))
        if rng.random() < 0.5:
            token = token.replace(".", str(rng.choice([".", "..", "~", ""])), int(rng.integers(1, 3)))
    return token.encode("latin-1")


def forged_chain(ctx: Context, rng) -> bytes:
    """A certificate of the x5c chain damaged (bit flips mostly), the leaf's kid recomputed or not."""
    from photocore.sign.signer import thumbprint

    header = json.loads(_unb64u(ctx.token.split(".")[0]))
    index = int(rng.integers(len(header["x5c"])))
    der = _mutated_bytes(base64.b64decode(header["x5c"][index]), rng)
    rekid = index == 0 and rng.random() < 0.5  # an attacker names the corrupt certificate, past the kid check

    def edit(header: dict) -> None:
        header["x5c"][index] = base64.b64encode(der).decode()
        if rekid:
            header["kid"] = thumbprint(der)
    return _with_header(ctx.token, edit).encode("latin-1")


# --- families ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # decode, check or verify: what the case is run through
    weight: float  # share of cases, in percent
    make: Callable[[Context, object], bytes]


# Most cases are cheap decodes (a millisecond or so); bombs (up to seconds) and analysis (about
# 70 ms) are a few percent each. 20,000 cases take about 5 minutes on 2 busy shared cores.
FAMILIES = ([Family(f"decode/{fmt}", "decode", 81 / len(FORMATS), make_decode_case(fmt)) for fmt in FORMATS]
            + [Family(f"bomb/{make.__name__.replace('_', '-')}", "decode", 1, make)
               for make in (jpeg_scans, tiff_pages, webp_canvas, png16, jpeg_cut, png_taller, gif_screen, tiff_strip)]
            + [Family("check/faces", "check", 5, moved_capture),
               Family("verify/jws", "verify", 3, forged_token),
               Family("verify/x5c", "verify", 3, forged_chain)])
BY_NAME = {f.name: f for f in FAMILIES}


def plan(ctx: Context, case: int) -> tuple[Family, object]:
    """The family of case ``case`` and the random stream that makes it: from the seed and number only."""
    rng = np.random.default_rng([ctx.seed, case])
    weights = np.array([1.0 if ctx.uniform else f.weight for f in FAMILIES])
    return FAMILIES[int(rng.choice(len(FAMILIES), p=weights / weights.sum()))], rng


def make_case(ctx: Context, case: int) -> tuple[Family, bytes]:
    family, rng = plan(ctx, case)
    return family, family.make(ctx, rng)


# --- running one case ---------------------------------------------------------------------------

class Invariant(AssertionError):
    """photocore answered, but not as it promises (a crash in all but name)."""


@lru_cache(maxsize=1)
def _verify_inputs(ctx: Context):
    from cryptography import x509
    return Path(ctx.face).read_bytes(), x509.load_pem_x509_certificate(ctx.root_pem.encode())


@lru_cache(maxsize=1)
def _credentials() -> list[str]:
    from photocore.catalogue import load_catalogue
    return sorted(load_catalogue().credentials)


def run_decode(ctx: Context, data: bytes, rng) -> str | None:
    import photocore
    photocore.decode(data).pixels()  # full resolution too, as rendering asks for it


def run_check(ctx: Context, data: bytes, rng) -> str | None:
    """As the master capture, or as one credential (whose framing meets the edges)."""
    import photocore
    credentials = _credentials()
    wanted = [credentials[int(rng.integers(len(credentials)))]] if rng.random() < 0.5 else []
    report = photocore.check(data, wanted)
    if len(report.results) != 1:
        raise Invariant(f"{len(report.results)} results for {wanted or ['capture']}")
    for name, m in report.measurements.items():  # "not assessed" always says why, never a silent pass
        if (m.value is None) != (m.score is None) or (m.value is None and not m.reason):
            raise Invariant(f"measure {name}: value {m.value!r}, score {m.score!r}, reason {m.reason!r}")


def run_verify(ctx: Context, data: bytes, rng) -> str | None:
    """The refusal code of an invalid token (verify answers, it does not raise)."""
    from photocore.sign.verify import verify, verify_compact, verify_many
    photo, root = _verify_inputs(ctx)
    token = data.decode("latin-1")
    result = verify(photo, token, root, set())
    (many,) = verify_many([(photo, token)], root, set())
    if many.valid != result.valid:
        raise Invariant(f"verify says {result.code or 'valid'}, verify_many {many.code or 'valid'}")
    verify_compact(token.split("~")[0], root)
    return result.code


RUNNERS = {"decode": run_decode, "check": run_check, "verify": run_verify}


@lru_cache(maxsize=1)
def _libc():
    import ctypes
    return ctypes.CDLL("libc.so.6")


def _reset_peak() -> None:
    """Give freed heap back to the kernel first (glibc keeps what earlier cases freed, so the
    process would stay as large as its largest case so far), then restart the peak from here."""
    _libc().malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _status_mb(field: str, pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) / 1024
    except (OSError, StopIteration):
        return 0.0


def run_case(ctx: Context, family: Family, data: bytes, case: int) -> dict:
    """Run one input, timed and with its peak memory: outcome ok, refusal (with its code) or crash.
    The runner's own random choices come from a stream of their own, so a replay makes the same."""
    from photocore.errors import PhotocoreError

    rng = np.random.default_rng([ctx.seed, case, 1])
    result = {"family": family.name, "case": case, "outcome": "ok", "code": None, "detail": None}
    _reset_peak()
    result["start_mb"] = _status_mb("VmRSS")  # the worker before the case: part of every peak
    start, cpu = time.perf_counter(), time.process_time()
    try:
        code = RUNNERS[family.kind](ctx, data, rng)
        if code:
            result.update(outcome="refusal", code=code)
    except PhotocoreError as exc:
        result.update(outcome="refusal", code=exc.code)
    except Exception as exc:  # noqa: BLE001 - every other exception is the finding
        result.update(outcome="crash", code=type(exc).__name__,
                      detail="".join(traceback.format_exception(exc, limit=-8))[-4000:])
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = time.process_time() - cpu
    result["peak_mb"] = _status_mb("VmHWM")
    return result


def warm_up(ctx: Context) -> None:
    """Load what a serving process loads once (the face models, the catalogue, crypto), so no case
    pays for it; each worker uses one core."""
    import photocore
    cv2.setNumThreads(1)
    warnings.simplefilter("ignore")  # warnings (EdDSA deprecation, odd certificates) are not outcomes
    for _ in range(2):
        photocore.check(Path(ctx.face).read_bytes(), _credentials()[:1])
    run_verify(ctx, ctx.token.encode(), None)


def _over_budget(result: dict) -> bool:
    return result["seconds"] > BUDGET_SECONDS or result["peak_mb"] > BUDGET_MB


def _worker(conn, ctx: Context, log: str) -> None:
    """Serve case numbers until the pipe closes; native libraries' chatter goes to ``log``."""
    from photocore.orphans import exit_with_parent
    exit_with_parent()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    warm_up(ctx)
    conn.send({"ready": _status_mb("VmRSS")})
    while True:
        try:
            case = conn.recv()
        except EOFError:
            return
        try:
            family, data = make_case(ctx, case)
        except Exception:  # noqa: BLE001 - a bug of this harness, not a finding: stop the run
            conn.send({"harness_error": f"case {case}: {traceback.format_exc()}"})
            return
        result = run_case(ctx, family, data, case)
        if result["outcome"] == "crash" or _over_budget(result):
            result["input"] = data
        conn.send(result)


# --- the pool -------------------------------------------------------------------------------

_SPAWN = get_context("spawn")  # a clean process: no threads or models inherited


class Slot:
    """One worker process and the case it is running."""

    def __init__(self, ctx: Context, logs: Path, number: int):
        self.log = str(logs / f"worker-{number}.log")
        self.conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=_worker, args=(child, ctx, self.log), daemon=True)
        self.process.start()
        child.close()
        self.ready, self.case, self.started, self.max_rss, self.log_from = False, None, 0.0, 0.0, 0

    def give(self, case: int) -> None:
        self.log_from = os.path.getsize(self.log)
        self.conn.send(case)
        self.case, self.started, self.max_rss = case, time.perf_counter(), 0.0

    def stop(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()

    def log_tail(self) -> str:
        """What the worker's native libraries said since the current case began (or at start)."""
        with open(self.log, "rb") as fh:
            fh.seek(self.log_from)
            return fh.read().decode(errors="replace")[-2000:]


def run_pool(ctx: Context, cases: int, workers: int, timeout: float, record: Callable[[dict], None]) -> list[float]:
    """Every case through the pool; a worker that hangs, dies or runs away is replaced.
    Returns the workers' resident memory when ready (the floor under every case's peak)."""
    logs = Path(tempfile.mkdtemp(prefix="photocore-fuzz-"))
    slots = [Slot(ctx, logs, n) for n in range(workers)]
    started, baselines = workers, []
    todo = iter(range(cases))
    remaining = cases
    try:
        while remaining:
            for slot in slots:
                if slot.ready and slot.case is None and (case := next(todo, None)) is not None:
                    slot.give(case)
            connection.wait([s.conn for s in slots], timeout=0.2)
            for i, slot in enumerate(slots):
                lost = None
                try:
                    while slot.conn.poll():
                        message = slot.conn.recv()
                        if "harness_error" in message:
                            raise RuntimeError(message["harness_error"])
                        if "ready" in message:
                            slot.ready = True
                            baselines.append(message["ready"])
                        else:
                            slot.case = None
                            remaining -= 1
                            record(message)
                except (EOFError, OSError):
                    slot.process.join(5)
                    lost = ("crash", f"the worker died (exit code {slot.process.exitcode})")
                if slot.case is not None and not lost:
                    slot.max_rss = max(slot.max_rss, _status_mb("VmRSS", slot.process.pid))
                    if time.perf_counter() - slot.started > timeout:
                        lost = ("hang", f"no answer after {timeout:g} s; the worker was killed")
                    elif slot.max_rss > KILL_MB:
                        lost = ("crash", f"the worker grew past {KILL_MB} MB resident and was killed")
                if lost:
                    if slot.case is None:
                        raise RuntimeError(f"a worker died before taking a case:\n{slot.log_tail()}")
                    family, _ = plan(ctx, slot.case)
                    record({"family": family.name, "case": slot.case, "outcome": lost[0], "code": None,
                            "detail": f"{lost[1]}\n{slot.log_tail()}",
                            "seconds": time.perf_counter() - slot.started, "peak_mb": slot.max_rss})
                    remaining -= 1
                    slot.stop()
                    slots[i] = Slot(ctx, logs, started)
                    started += 1
    finally:
        for slot in slots:
            slot.stop()
        shutil.rmtree(logs, ignore_errors=True)
    return baselines


# --- results ------------------------------------------------------------------------------------

class Tally:
    """Outcomes, times and memory per family; the cases to look at, saved for replay."""

    def __init__(self, ctx: Context, save_dir: Path | None):
        self.ctx, self.save_dir = ctx, save_dir
        self.rows: dict[str, list[dict]] = {f.name: [] for f in FAMILIES}
        self.findings: list[dict] = []

    def record(self, result: dict) -> None:
        data = result.pop("input", None)
        self.rows[result["family"]].append({k: result[k] for k in ("outcome", "code", "seconds", "peak_mb")})
        if result["outcome"] in ("crash", "hang") or _over_budget(result):
            if self.save_dir is not None:
                result["saved"] = str(self.save(result, data))
            self.findings.append(result)

    def save(self, result: dict, data: bytes | None) -> Path:
        """The input (made again when the worker could not send it) and how to read it."""
        if data is None:
            data = make_case(self.ctx, result["case"])[1]
        self.save_dir.mkdir(parents=True, exist_ok=True)
        path = self.save_dir / f"{result['family'].replace('/', '_')}-s{self.ctx.seed}-c{result['case']}.bin"
        path.write_bytes(data)
        meta = {"family": result["family"], "seed": self.ctx.seed, "case": result["case"],
                "outcome": result["outcome"], "code": result["code"], "seconds": round(result["seconds"], 3),
                "cpu_seconds": result.get("cpu_seconds"), "peak_mb": round(result["peak_mb"], 1),
                "start_mb": result.get("start_mb"), "detail": result["detail"],
                "context": {k: v for k, v in asdict(self.ctx).items() if k != "captures"}}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        return path

    def summary(self, rows: list[dict]) -> dict:
        times = sorted(r["seconds"] for r in rows) or [0.0]
        codes = Counter(r["code"] for r in rows if r["outcome"] == "refusal")
        count = Counter(r["outcome"] for r in rows)
        return {"cases": len(rows), "ok": count["ok"], "refusals": count["refusal"],
                "refusal_codes": dict(codes.most_common()), "crashes": count["crash"], "hangs": count["hang"],
                "median_ms": round(1000 * statistics.median(times), 1),
                "p99_ms": round(1000 * times[min(len(times) - 1, int(0.99 * len(times)))], 1),
                "max_ms": round(1000 * times[-1], 1), "max_mb": round(max((r["peak_mb"] for r in rows), default=0), 1),
                "over_2s": sum(r["seconds"] > BUDGET_SECONDS for r in rows),
                "over_600mb": sum(r["peak_mb"] > BUDGET_MB for r in rows)}

    def report(self) -> dict:
        families = {name: self.summary(rows) for name, rows in self.rows.items() if rows}
        return {"families": families, "total": self.summary([r for rows in self.rows.values() for r in rows]),
                "findings": self.findings}


def print_table(report: dict) -> None:
    columns = ["cases", "ok", "refusals", "crashes", "hangs", "median_ms", "p99_ms", "max_ms", "max_mb", "over_2s",
               "over_600mb"]
    print(f"{'family':<24}" + "".join(f"{c:>11}" for c in columns) + "  top refusals")
    for name, row in [*report["families"].items(), ("total", report["total"])]:
        top = ", ".join(f"{code} {n}" for code, n in list(row["refusal_codes"].items())[:3])
        print(f"{name:<24}" + "".join(f"{row[c]:>11}" for c in columns) + f"  {top}")


def replay(path: Path) -> int:
    """One saved case, in this process, measured the same way (after the same warm-up)."""
    meta = json.loads(path.with_suffix(".json").read_text())
    ctx = Context(captures=(), **meta["context"])
    warm_up(ctx)
    result = run_case(ctx, BY_NAME[meta["family"]], path.with_suffix(".bin").read_bytes(), meta["case"])
    print(json.dumps(result, indent=1))
    return 1 if result["outcome"] == "crash" or _over_budget(result) else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a case is a hang")
    parser.add_argument("--faces", type=Path, default=SHARED_FACES if SHARED_FACES.is_dir() else TEST_FACES)
    parser.add_argument("--uniform", action="store_true", help="every family equally likely")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--save-dir", type=Path, help="write each crash, hang and over-budget input here")
    parser.add_argument("--replay", type=Path, help="run one saved case (its .bin or .json)")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.workers < 1 or args.timeout <= 0:
        parser.error("--cases, --workers and --timeout must be positive")
    if args.replay:
        return replay(args.replay)
    ctx = make_context(args.seed, args.faces, args.uniform)
    tally = Tally(ctx, args.save_dir)
    bar = tqdm(total=args.cases, file=sys.stderr, unit="case", smoothing=0.05)

    def record(result: dict) -> None:
        tally.record(result)
        bar.update()
        if tally.findings:
            bar.set_postfix_str(f"{len(tally.findings)} to look at")

    start = time.perf_counter()
    baselines = run_pool(ctx, args.cases, args.workers, args.timeout, record)
    bar.close()
    report = {"seed": args.seed, "cases": args.cases, "workers": args.workers, "timeout": args.timeout,
              "wall_seconds": round(time.perf_counter() - start, 1), "budget": {"seconds": BUDGET_SECONDS,
                                                                                   "mb": BUDGET_MB},
              "worker_ready_mb": [round(b, 1) for b in baselines], **tally.report()}
    print_table(report)
    print(f"\n{args.cases} cases in {report['wall_seconds']} s with {args.workers} workers; "
          f"workers start at {min(baselines):.0f}-{max(baselines):.0f} MB resident")
    for f in report["findings"]:
        cpu = f" (CPU {f['cpu_seconds']:.2f} s)" if f.get("cpu_seconds") is not None else ""
        floor = f" (from {f['start_mb']:.0f} MB)" if f.get("start_mb") is not None else ""
        print(f"{f['outcome']} {f['family']} case {f['case']} {f['code'] or ''}: {f['seconds']:.2f} s{cpu}, "
              f"{f['peak_mb']:.0f} MB{floor} {f.get('saved', '')}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    total = report["total"]
    return 1 if total["crashes"] or total["hangs"] or total["over_2s"] or total["over_600mb"] else 0


if __name__ == "__main__":
    sys.exit(main())
