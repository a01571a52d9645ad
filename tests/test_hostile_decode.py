"""Bounded work per file (issue 14 items 1-2): the seed corpus of bombs and incomplete files,
the limits at their boundaries, and the per-capture deadline in decode, convert and batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photocore
from photocore.deadline import Deadline
from photocore.decode import MAX_FRAMES, MAX_JPEG_SCANS
from photocore.errors import DeadlineExceeded, DecodeError
from tests.hostile_corpus import (
    SEEDS,
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

from conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
FACE = ROOT / "tests" / "data" / "faces" / "london_neutral_001.jpg"

EXPECTED = {
    "jpeg_20000_scans": "decode.too_complex",
    "tiff_100000_pages": None,  # decodes: only the first page is used, and only 64 are counted
    "webp_7000_canvas": "decode.too_large",
    "png16_rgba_7000": "decode.too_large",
    "jpeg_half_with_eoi": "decode.truncated",
    "png_taller_header": "decode.truncated",
}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    for name, build in SEEDS.items():
        (folder / name).write_bytes(build())
    return folder


def _code(data: bytes, **kw) -> str | None:
    try:
        photocore.decode(data, **kw)
    except DecodeError as exc:
        return exc.code
    return None


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_corpus_gives_its_code(seeds, name):
    assert set(EXPECTED) == set(SEEDS)
    assert _code((seeds / name).read_bytes()) == EXPECTED[name]


@pytest.mark.slow
def test_many_pages_are_counted_only_up_to_the_limit(seeds):
    capture = photocore.decode((seeds / "tiff_100000_pages").read_bytes())
    assert capture.frames == MAX_FRAMES and (capture.width, capture.height) == (1, 1)


@pytest.mark.slow
def test_seed_corpus_stays_within_600_mb_per_file(seeds):
    """Each seed decoded (and, when accepted, its full-resolution pixels) in a fresh process;
    the process's peak resident memory, not Python's allocations, is what a server pays."""
    script = (
        "import sys, photocore\n"
        "from photocore.errors import PhotocoreError\n"
        "try:\n    photocore.decode(open(sys.argv[1], 'rb').read()).pixels()\n"
        "except PhotocoreError:\n    pass\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])\n")
    for name in SEEDS:
        out = subprocess.run([sys.executable, "-c", script, str(seeds / name)], capture_output=True, text=True,
                             cwd=ROOT, check=True)
        assert int(out.stdout) / 1024 < 600, (name, out.stdout, out.stderr)


def test_scan_limit_boundary():
    from photocore.decode import _jpeg_scans
    for extra in (0, MAX_JPEG_SCANS // 2, MAX_JPEG_SCANS):
        data = progressive_jpeg_many_scans(extra, (320, 240))
        scans = sum(data[s[0] + 1] == 0xDA for s in jpeg_segments(data))
        assert _jpeg_scans(data) == scans
        # a repeated refinement scan is itself bad data (truncated), but only too many is too complex
        assert (_code(data) == "decode.too_complex") == (scans > MAX_JPEG_SCANS)


def test_ordinary_progressive_jpeg_decodes_like_baseline():
    photo = sample_photo()
    base = photocore.decode(encoded(photo, "JPEG", quality=95)).pixels()
    progressive = photocore.decode(encoded(photo, "JPEG", quality=95, progressive=True)).pixels()
    assert np.abs(base.astype(int) - progressive.astype(int)).mean() < 1


def test_small_webp_canvas_and_png16_still_decode():
    assert _code(animated_webp_canvas(400, 300)) is None
    assert photocore.decode(png16_rgba(300, 200)).pixels().shape == (200, 300, 3)


def test_pixel_memory_limit_is_the_callers():
    data = png16_rgba(1000, 1000)  # 8 MB of 16-bit RGBA samples
    assert _code(data, max_pixel_bytes=10_000_000) is None
    assert _code(data, max_pixel_bytes=7_000_000) == "decode.too_large"


def test_jpeg_cut_anywhere_with_its_end_marker_is_truncated():
    for fmt_kw in ({}, {"progressive": True}):
        data = encoded(sample_photo(), "JPEG", quality=90, **fmt_kw)
        first_scan = next(s for s in jpeg_segments(data) if data[s[0] + 1] == 0xDA)
        for keep in (0.3, 0.6, 0.9):
            cut = jpeg_cut_with_end_marker(data, keep)
            if len(cut) > first_scan[0] + 20:
                assert _code(cut) == "decode.truncated", (fmt_kw, keep)


def test_cmyk_and_greyscale_jpeg_cut_short_are_truncated():
    for mode in ("CMYK", "L"):
        data = encoded(sample_photo().convert(mode), "JPEG", quality=90)
        assert _code(data) is None
        assert _code(jpeg_cut_with_end_marker(data)) == "decode.truncated", mode


def test_a_harmless_libjpeg_warning_is_not_a_refusal():
    data = encoded(sample_photo(), "JPEG", quality=90)
    padded = data[:-2] + b"\x00\x00\x00" + data[-2:]  # "extraneous bytes before marker 0xd9"
    assert _code(padded) is None


def test_png_rows_never_written_are_truncated_in_every_layout():
    photo = sample_photo((200, 150))
    for im in (photo, photo.convert("L"), photo.convert("RGBA"), photo.convert("P")):
        assert _code(png_taller_than_its_rows(encoded(im, "PNG"), 3)) == "decode.truncated", im.mode
    interlaced = png_interlaced(photo)
    assert _code(interlaced) is None
    assert _code(png_taller_than_its_rows(interlaced, 1)) == "decode.truncated"


def test_a_png_whose_last_row_is_black_is_not_truncated():
    photo = np.asarray(sample_photo((200, 150))).copy()
    photo[-5:] = 0
    assert _code(encoded(Image.fromarray(photo), "PNG")) is None
    transparent = Image.new("RGBA", (60, 40), (0, 0, 0, 0))
    assert _code(encoded(transparent, "PNG")) is None


def test_interlaced_png_decodes_to_the_same_pixels():
    photo = sample_photo((200, 150))
    assert np.array_equal(photocore.decode(png_interlaced(photo)).pixels(), np.asarray(photo))


def test_deadline_in_decode_convert_and_its_code():
    data = FACE.read_bytes()
    late = Deadline(0.001)
    wait_for(lambda: late.remaining() < 0, 5, "the 1 ms deadline to pass")
    with pytest.raises(DeadlineExceeded) as raised:
        photocore.decode(data, deadline=late)
    assert raised.value.code == "capture.deadline" and "decode" in raised.value.message
    with pytest.raises(DeadlineExceeded):
        photocore.convert(data, ["police.resident-id-card"], deadline=0.001)
    ok = photocore.convert(data, ["police.resident-id-card"], deadline=60)
    assert ok.outcomes[0].ok


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), True, "5"])
def test_bad_deadlines_are_config_errors(seconds):
    with pytest.raises(photocore.ConfigError):
        Deadline(seconds)


@pytest.mark.slow
def test_cli_deadline_for_convert_and_batch(tmp_path):
    cli = [str(Path(sys.executable).with_name("photocore"))]
    run = subprocess.run(cli + ["convert", str(FACE), "--out", str(tmp_path / "c"),
                                "--credential", "police.resident-id-card", "--deadline", "0.001"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "capture.deadline" in run.stderr and "Traceback" not in run.stderr
    bad = subprocess.run(cli + ["convert", str(FACE), "--out", str(tmp_path / "c"), "--deadline", "0"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "config.invalid_count" in bad.stderr
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(FACE.read_bytes())
    (inbox / "bomb.jpg").write_bytes(progressive_jpeg_many_scans(500, (320, 240)))
    (inbox / "pages.tif").write_bytes(many_page_tiff(2000))
    batch = subprocess.run(cli + ["batch", str(inbox), str(tmp_path / "out"), "--credential", "police.resident-id-card",
                                  "--workers", "1", "--deadline", "0.001", "--quiet"],
                           capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in batch.stderr
    records = {json.loads(line)["capture"]: json.loads(line) for line in
               (tmp_path / "out" / ".photocore-batch" / "journal.jsonl").read_text().splitlines()}
    assert records["a.jpg"]["error"]["code"] == "capture.deadline"
    assert records["bomb.jpg"]["error"]["code"] == "decode.too_complex"  # refused before the clock matters


def test_a_strip_longer_than_any_portrait_is_refused_from_its_header():
    from photocore.decode import MAX_SIDE
    assert _code(animated_webp_canvas(MAX_SIDE + 1, 2)) == "decode.too_large"
    assert _code(encoded(Image.new("L", (MAX_SIDE + 1, 1)), "PNG")) == "decode.too_large"
    assert _code(encoded(Image.new("L", (MAX_SIDE, 16)), "PNG")) is None


def test_float_tiff_is_scaled_once_for_the_whole_picture():
    """Converted a strip at a time (over 2 strips here), but 0..1 data is stretched and 0..255
    data is not, judged on the whole picture: a ramp 0..2 stays dark in every strip."""
    values = np.linspace(0, 2, 1100 * 1000, dtype=np.float32).reshape(1000, 1100)
    pixels = photocore.decode(encoded(Image.fromarray(values), "TIFF")).pixels()[:, :, 0]
    assert pixels.max() == 2 and np.all(np.diff(pixels.ravel().astype(int)) >= 0)
    stretched = photocore.decode(encoded(Image.fromarray(values / 2), "TIFF")).pixels()[:, :, 0]
    assert stretched[0, 0] == 0 and stretched[-1, -1] == 255
