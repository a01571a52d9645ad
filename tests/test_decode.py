"""Tests for photocore.decode: every variant of the same face decodes alike, and hostile or
broken bytes become a DecodeError with a stable code (never a raw exception).

Fixtures are built in memory from a real face photo with Pillow.
"""

from __future__ import annotations

import io
import random
import struct
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps

from photocore.decode import ANALYSIS_MAX_SIDE, DEFAULT_MAX_PIXELS, Capture, decode
from photocore.errors import ConfigError, DecodeError

FACE_PATH = Path(__file__).parent / "data" / "faces" / "london_neutral_001.jpg"
CODES = {"decode.empty", "decode.truncated", "decode.corrupt", "decode.unsupported",
         "decode.too_large", "decode.unreadable"}


@pytest.fixture(scope="module")
def face() -> Image.Image:
    with Image.open(FACE_PATH) as im:
        return im.convert("RGB")


@pytest.fixture(scope="module")
def face_px(face) -> np.ndarray:
    return np.asarray(face)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 arrays of the same shape."""
    assert a.shape == b.shape
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def decode_error(data, **kw) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(data, **kw)
    err = info.value
    assert err.code in CODES and err.code.startswith("decode.")
    assert err.message.strip()
    return err


def _png(width: int, height: int, *, depth: int = 8, colour_type: int = 2,
         idat: bytes = zlib.compress(b"\0" * 64)) -> bytes:
    """A PNG built by hand, so the header can claim anything."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


# --- formats -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, tolerance", [("JPEG", 4.0), ("PNG", 0.0), ("WEBP", 4.0),
                                            ("BMP", 0.0), ("TIFF", 0.0)])
def test_formats_decode_to_same_size_and_similar_pixels(face, face_px, fmt, tolerance):
    cap = decode(encode(face, fmt))
    assert isinstance(cap, Capture)
    assert cap.format == fmt
    assert (cap.width, cap.height) == face.size
    assert cap.source_mode == "RGB" and not cap.greyscale_source and cap.frames == 1
    assert cap.analysis.dtype == np.uint8 and cap.analysis.flags.c_contiguous
    assert cap.analysis.shape == (face.height, face.width, 3)
    assert cap.analysis_scale == 1.0
    assert mad(cap.pixels(), face_px) <= tolerance
    assert (cap.jpeg_quality is not None) == (fmt == "JPEG")


@pytest.mark.slow
def test_source_kinds_and_content_sniffing(face, tmp_path):
    png = encode(face, "PNG")
    path = tmp_path / "photo.jpg"  # the name lies; the content decides
    path.write_bytes(png)
    for source in (path, str(path), png, bytearray(png), memoryview(png), io.BytesIO(png)):
        cap = decode(source)
        assert cap.format == "PNG" and cap.data == png
    with open(path, "rb") as fp:
        assert decode(fp).format == "PNG"


def test_repr_excludes_bytes_and_arrays(face):
    text = repr(decode(encode(face, "PNG")))
    assert "data=" not in text and "analysis=" not in text and "format='PNG'" in text


# --- orientation -------------------------------------------------------------------------------

def _with_orientation(im: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


@pytest.mark.parametrize("orientation, stored_transpose", [
    (6, Image.Transpose.ROTATE_90),   # stored turned 90 deg anticlockwise; viewer turns it back
    (8, Image.Transpose.ROTATE_270),
])
def test_exif_orientation_restores_upright_image(face, orientation, stored_transpose):
    upright = face.crop((0, 100, 800, 700))  # 800x600, so a swap is visible
    data = _with_orientation(upright.transpose(stored_transpose), orientation)
    cap = decode(data)
    assert (cap.width, cap.height) == (800, 600)
    assert cap.analysis.shape == (600, 800, 3)
    assert mad(cap.pixels(), np.asarray(upright)) < 4.0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_orientations_match_pillow_exif_transpose(face, orientation):
    data = _with_orientation(face.crop((0, 100, 800, 700)), orientation)
    with Image.open(io.BytesIO(data)) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    cap = decode(data)
    assert (cap.height, cap.width) == expected.shape[:2]
    assert np.array_equal(cap.pixels(), expected)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF")
def test_corrupt_exif_is_ignored_not_fatal(face):
    data = encode(face, "JPEG", exif=b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0garbage")
    cap = decode(data)
    assert (cap.width, cap.height) == face.size


# --- colour ------------------------------------------------------------------------------------

def _rgb_matrix_profile(primaries, gamma: float) -> bytes:
    """A minimal ICC v2 matrix/TRC RGB display profile (D50 PCS), built by hand."""
    def xyz(x, y, z):
        return b"XYZ \0\0\0\0" + struct.pack(">3i", *(round(v * 65536) for v in (x, y, z)))

    def desc(text):
        t = text.encode() + b"\0"
        return (b"desc\0\0\0\0" + struct.pack(">I", len(t)) + t + b"\0" * 12 + b"\0" * 67)

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [(b"desc", desc("photocore test wide-gamut RGB")), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(*primaries[0])), (b"gXYZ", xyz(*primaries[1])),
            (b"bXYZ", xyz(*primaries[2])), (b"rTRC", curve), (b"gTRC", curve),
            (b"bTRC", curve), (b"cprt", b"text\0\0\0\0public domain\0\0\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, blob in tags:
        while len(blob) % 4:
            blob += b"\0"
        table += sig + struct.pack(">II", offset + len(body), len(blob))
        body += blob
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + b"\x02\x10\0\0" + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"APPL" + b"\0" * 4 + b"\0" * 8 + b"\0" * 8 + b"\0" * 4
              + struct.pack(">3i", 63190, 65536, 54061) + b"lcms" + b"\0" * 44)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


# Adobe RGB (1998) primaries adapted to D50, gamma 2.2: a real wide-gamut working space.
ADOBE_LIKE = _rgb_matrix_profile([(0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087),
                                  (0.14919, 0.06322, 0.74457)], 563 / 256)


def test_embedded_wide_gamut_icc_is_converted_to_srgb(face):
    # Saturated colours show a gamut difference plainly; the (muted) face photo rides along.
    hues = Image.merge("HSV", [Image.linear_gradient("L").rotate(90).resize((256, 128)),
                               Image.new("L", (256, 128), 255), Image.new("L", (256, 128), 230)])
    chart = Image.new("RGB", (256, 256))
    chart.paste(hues.convert("RGB"), (0, 0))
    chart.paste(face.resize((256, 128)), (0, 128))
    original = np.asarray(chart)
    wide = ImageCms.profileToProfile(chart, ImageCms.createProfile("sRGB"),
                                     ImageCms.ImageCmsProfile(io.BytesIO(ADOBE_LIKE)),
                                     outputMode="RGB")
    stored = np.asarray(wide)
    assert mad(stored[:128], original[:128]) > 10.0  # stored numbers really are not sRGB
    cap = decode(encode(wide, "PNG", icc_profile=ADOBE_LIKE))
    assert mad(cap.pixels(), original) < 2.0  # ... and decode brings them back
    assert mad(cap.pixels(), original) < mad(stored, original) / 4


def test_srgb_icc_round_trip_keeps_pixels(face, face_px):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cap = decode(encode(face, "PNG", icc_profile=srgb))
    assert mad(cap.pixels(), face_px) < 1.0


@pytest.mark.parametrize("blob", [b"not an icc profile", b"\0" * 200, ADOBE_LIKE[:150]])
def test_corrupt_icc_profile_is_ignored(face, face_px, blob):
    cap = decode(encode(face, "PNG", icc_profile=blob))
    assert np.array_equal(cap.pixels(), face_px)


def test_mismatched_icc_profile_is_ignored(face):
    grey = face.convert("L")  # an RGB profile on a greyscale image cannot apply
    cap = decode(encode(grey, "PNG", icc_profile=ADOBE_LIKE))
    assert np.array_equal(cap.pixels()[..., 0], np.asarray(grey))


def test_cmyk_jpeg_decodes_to_similar_rgb(face, face_px):
    data = encode(face.convert("CMYK"), "JPEG", quality=95)
    cap = decode(data)
    assert cap.source_mode == "CMYK" and cap.format == "JPEG"
    assert cap.pixels().shape == face_px.shape
    assert mad(cap.pixels(), face_px) < 6.0


def test_greyscale_source(face):
    grey = face.convert("L")
    for fmt in ("JPEG", "PNG"):
        cap = decode(encode(grey, fmt))
        assert cap.source_mode == "L" and cap.greyscale_source
        px = cap.pixels()
        assert px.shape == (face.height, face.width, 3)
        assert np.array_equal(px[..., 0], px[..., 1]) and np.array_equal(px[..., 1], px[..., 2])


def test_palette_with_transparency_composited_on_white():
    im = Image.new("P", (64, 64), 0)
    im.putpalette([200, 30, 40, 10, 20, 230] + [0] * 762)
    im.paste(1, (0, 0, 32, 64))  # left half uses index 1, which is transparent
    cap = decode(encode(im, "PNG", transparency=1))
    assert cap.source_mode == "P" and not cap.greyscale_source
    px = cap.pixels()
    assert (px[:, :32] == 255).all()
    assert (px[:, 32:] == (200, 30, 40)).all()


def test_grey_palette_counts_as_greyscale():
    im = Image.new("P", (16, 16), 3)
    im.putpalette([v for i in range(256) for v in (i, i, i)])
    cap = decode(encode(im, "PNG"))
    assert cap.source_mode == "P" and cap.greyscale_source


@pytest.mark.slow
def test_rgba_transparent_area_becomes_white(face, face_px):
    rgba = face.convert("RGBA")
    alpha = Image.new("L", face.size, 255)
    alpha.paste(0, (0, 0, 400, 800))
    rgba.putalpha(alpha)
    for fmt in ("PNG", "WEBP"):
        cap = decode(encode(rgba, fmt, lossless=True) if fmt == "WEBP" else encode(rgba, fmt))
        assert cap.source_mode == "RGBA"
        px = cap.pixels()
        assert (px[:, :400] == 255).all()
        assert np.array_equal(px[:, 400:], face_px[:, 400:])


def test_la_transparent_area_becomes_white():
    la = Image.merge("LA", (Image.new("L", (8, 8), 50), Image.new("L", (8, 8), 0)))
    la.paste((50, 255), (4, 0, 8, 8))
    px = decode(encode(la, "PNG")).pixels()
    assert (px[:, :4] == 255).all() and (px[:, 4:] == 50).all()


def test_sixteen_bit_greyscale_png_is_scaled_not_clipped():
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16).repeat(4, axis=0)
    im = Image.fromarray(values)
    assert im.mode == "I;16"
    cap = decode(encode(im, "PNG"))
    assert cap.source_mode == "I;16" and cap.greyscale_source
    assert cap.pixels()[0, :, 0].tolist() == [0, 1, 128, 255]
    assert np.array_equal(cap.pixels()[..., 0], cap.pixels()[..., 2])


def test_48_bit_png_keeps_the_high_byte():
    row = b"\0" + struct.pack(">9H", 0, 0, 0, 32896, 32896, 32896, 65535, 65535, 65535)
    cap = decode(_png(3, 1, depth=16, colour_type=2, idat=zlib.compress(row)))
    assert cap.pixels()[0].tolist() == [[0, 0, 0], [128, 128, 128], [255, 255, 255]]


def test_sixteen_bit_greyscale_tiff():
    values = np.linspace(0, 65535, 64).astype(np.uint16).reshape(8, 8)
    cap = decode(encode(Image.fromarray(values), "TIFF"))
    assert cap.greyscale_source and cap.source_mode.startswith("I;16")
    expected = np.rint(values / 257.0).astype(np.uint8)
    assert np.abs(cap.pixels()[..., 0].astype(int) - expected).max() <= 1


def test_multi_frame_tiff_uses_first_frame():
    red, blue = Image.new("RGB", (32, 16), (255, 0, 0)), Image.new("RGB", (32, 16), (0, 0, 255))
    cap = decode(encode(red, "TIFF", save_all=True, append_images=[blue]))
    assert cap.frames == 2 and (cap.width, cap.height) == (32, 16)
    assert (cap.pixels() == (255, 0, 0)).all()


def test_animated_gif_and_webp_use_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in ((0, 200, 0), (200, 0, 0), (0, 0, 200))]
    for fmt, kw in (("GIF", {}), ("WEBP", {"lossless": True})):
        cap = decode(encode(frames[0], fmt, save_all=True, append_images=frames[1:],
                            duration=100, **kw))
        assert cap.format == fmt and cap.frames == 3
        assert (np.abs(cap.pixels().astype(int) - (0, 200, 0)) <= 2).all()


# --- size: draft decoding and limits -----------------------------------------------------------

def test_large_jpeg_uses_reduced_analysis_copy(face):
    big = encode(face.resize((4000, 3000), Image.Resampling.BICUBIC), "JPEG", quality=90)
    cap = decode(big)
    assert (cap.width, cap.height) == (4000, 3000)
    assert cap.analysis.shape == (960, 1280, 3) and max(cap.analysis.shape) <= ANALYSIS_MAX_SIDE
    assert cap.analysis_scale == pytest.approx(3.125)
    full = cap.pixels()
    assert full.shape == (3000, 4000, 3)
    assert cap.pixels() is full  # cached
    reference = np.asarray(Image.fromarray(full).resize((1280, 960), Image.Resampling.BOX))
    assert mad(cap.analysis, reference) < 3.0


@pytest.mark.slow
def test_large_png_analysis_copy_and_custom_side(face):
    cap = decode(encode(face.resize((3000, 2000)), "PNG"), analysis_max_side=500)
    assert cap.analysis.shape == (333, 500, 3) and cap.analysis_scale == pytest.approx(6.0)
    assert cap.pixels().shape == (2000, 3000, 3)


@pytest.mark.slow
def test_large_rotated_jpeg_analysis_is_upright(face):
    upright = face.crop((0, 100, 800, 700)).resize((4000, 3000))
    cap = decode(_with_orientation(upright.transpose(Image.Transpose.ROTATE_90), 6))
    assert (cap.width, cap.height) == (4000, 3000) and cap.analysis.shape == (960, 1280, 3)
    reference = np.asarray(upright.resize((1280, 960), Image.Resampling.BOX))
    assert mad(cap.analysis, reference) < 3.0
    assert mad(cap.pixels(), np.asarray(upright)) < 3.0


def test_small_image_is_not_upscaled(face):
    cap = decode(encode(face.resize((200, 100)), "PNG"))
    assert cap.analysis.shape == (100, 200, 3) and cap.analysis_scale == 1.0


def test_pixels_are_cached_and_thread_safe(face):
    cap = decode(encode(face.resize((2000, 1500)), "JPEG"))
    results = []
    threads = [threading.Thread(target=lambda: results.append(cap.pixels())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert not results[0].flags.writeable and not cap.analysis.flags.writeable


def test_png_bomb_header_is_rejected_before_decoding():
    start = time.perf_counter()
    err = decode_error(_png(100_000, 100_000))
    assert err.code == "decode.too_large"
    assert "100000x100000" in err.message and str(DEFAULT_MAX_PIXELS) in err.message
    assert time.perf_counter() - start < 5.0  # generous: it must not try to allocate 30 GB


def test_pillow_bomb_warning_as_error_still_maps_to_too_large():
    data = _png(10_000, 10_000)  # between Pillow's warning and error thresholds
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decode_error(data).code == "decode.too_large"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert decode_error(data).code == "decode.too_large"


@pytest.mark.slow
def test_max_pixels_limit_on_normal_image(face):
    err = decode_error(encode(face, "PNG"), max_pixels=1000)
    assert err.code == "decode.too_large" and "800x800" in err.message and "1000" in err.message
    assert decode(encode(face, "PNG"), max_pixels=800 * 800).width == 800


@pytest.mark.parametrize("kw", [{"max_pixels": 0}, {"max_pixels": -5}, {"max_pixels": 1.5},
                                {"max_pixels": True}, {"analysis_max_side": 0}])
def test_invalid_limits_are_config_errors(face, kw):
    with pytest.raises(ConfigError) as info:
        decode(encode(face, "PNG"), **kw)
    assert info.value.code == "config.invalid"


def test_load_truncated_images_must_stay_false(face, monkeypatch):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ConfigError):
        decode(encode(face, "JPEG"))


# --- quality estimate --------------------------------------------------------------------------

@pytest.mark.parametrize("quality", [50, 75, 95])
def test_jpeg_quality_estimate(face, quality):
    estimate = decode(encode(face, "JPEG", quality=quality)).jpeg_quality
    assert estimate is not None and abs(estimate - quality) <= 3


# --- malformed input ---------------------------------------------------------------------------

def test_malformed_inputs_map_to_stable_codes(face, tmp_path):
    jpeg, png = encode(face, "JPEG"), encode(face, "PNG")
    cases = {
        "decode.empty": [b"", bytearray(), io.BytesIO(b"")],
        "decode.truncated": [jpeg[: len(jpeg) // 2], png[: len(png) // 2], png[:40]],
        "decode.unsupported": [random.Random(1).randbytes(4096), b"just some text\n" * 50,
                               b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"],
        "decode.unreadable": [tmp_path / "missing.jpg", str(tmp_path), 12345, io.StringIO("x")],
    }
    for code, sources in cases.items():
        for source in sources:
            assert decode_error(source).code == code, (code, source if len(str(source)) < 80
                                                       else len(source))


def test_corrupt_data_after_valid_header(face):
    png = bytearray(encode(face, "PNG"))
    start = png.index(b"IDAT") + 4
    png[start:start + 200] = bytes(200)  # zlib stream destroyed, file still complete
    assert decode_error(bytes(png)).code == "decode.corrupt"


def test_zero_size_image_is_corrupt():
    data = bytearray(_png(16, 16))
    data[16:24] = struct.pack(">II", 0, 16)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    assert decode_error(bytes(data)).code == "decode.corrupt"


def test_unreadable_error_is_chained(tmp_path):
    with pytest.raises(DecodeError) as info:
        decode(tmp_path / "nope.png")
    assert info.value.code == "decode.unreadable"
    assert isinstance(info.value.__cause__, OSError)


def test_fuzzed_bytes_never_raise_raw_exceptions(face):
    small = face.resize((48, 40))
    seeds = [encode(small, "JPEG", quality=80), encode(small, "PNG")]
    rng = random.Random(20240601)
    outcomes = {"ok": 0}
    for i in range(200):
        data = bytearray(seeds[i % 2])
        if rng.random() < 0.7:
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        else:
            data = data[: rng.randrange(len(data))]
        try:
            cap = decode(bytes(data))
            full = cap.pixels()
        except DecodeError as err:
            assert err.code in CODES and err.message
            outcomes[err.code] = outcomes.get(err.code, 0) + 1
        else:
            assert cap.analysis.ndim == 3 and cap.analysis.shape[2] == 3
            assert full.shape == (cap.height, cap.width, 3)
            outcomes["ok"] += 1
    assert outcomes["ok"] > 0 and len(outcomes) > 1
