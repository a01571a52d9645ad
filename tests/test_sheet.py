"""Print sheets (issue 17 item 5): a credential's photo laid out on a 6-inch, 5-inch or A4 print
at its true size, measured back from the files: the JPEG's pixels at 300 dpi (the photo between
its cut marks), the PDF's page box and the matrix that places the photo."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

import photocore
from photocore import sheet as sheets
from photocore.catalogue import load_catalogue

pytestmark = pytest.mark.slow  # print sheets rendered and measured back

DATA = Path(__file__).parent / "data" / "faces"
EXE = str(Path(sys.executable).with_name("photocore"))
CREDENTIALS = ("police.passport", "police.resident-id-card")  # 30 x 40 mm at 300 dpi; 26 x 32 mm at 350 dpi
PAPERS = {"6inch": (101.6, 152.4), "5inch": (88.9, 127.0), "a4": (210.0, 297.0)}
PX_PER_MM = 300 / 25.4
PT_PER_MM = 72 / 25.4
MEASURED: dict = {}  # (credential, paper, format) -> measured (width, height) mm, printed at the end


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    """Real photos made by photocore.convert, as `photocore convert` writes them."""
    conversion = photocore.convert(DATA / "london_neutral_001.jpg", list(CREDENTIALS))
    made = {o.credential: o.rendition.data for o in conversion.outcomes if o.ok}
    assert set(made) == set(CREDENTIALS), [(o.credential, o.failures) for o in conversion.outcomes]
    return made


@pytest.fixture(scope="module", autouse=True)
def report_measurements():
    yield
    if MEASURED:
        print("\nmeasured photo size on the sheet (mm):")
        for key, (w, h) in sorted(MEASURED.items()):
            print(f"  {key[0]:26} {key[1]:6} {key[2]:4}  {w:.3f} x {h:.3f}")


def _mark_boundary(dark: np.ndarray, rows: slice, cols: slice, axis: int) -> float:
    """Where a 2 px cut mark lies in a window: the pixel boundary its run of dark rows
    (axis 0) or columns (axis 1) straddles."""
    window = dark[rows, cols]
    profile = window.mean(axis=1 - axis) > 0.5
    hits = np.flatnonzero(profile)
    assert hits.size and hits[-1] - hits[0] + 1 == hits.size, f"no single mark in the window: {hits}"
    start = (rows if axis == 0 else cols).start
    return start + (hits[0] + hits[-1] + 1) / 2


def measure_jpeg(pixels: np.ndarray, corner_mm, size_mm) -> tuple[float, float, tuple[int, int, int, int]]:
    """The photo's box from its cut marks, looked for only near where the layout says it is:
    (width mm, height mm, (left, top, right, bottom) px)."""
    dark = pixels.mean(axis=2) < 100
    x, y = corner_mm[0] * PX_PER_MM, corner_mm[1] * PX_PER_MM
    w, h = size_mm[0] * PX_PER_MM, size_mm[1] * PX_PER_MM

    def span(v: float, lo_mm: float, hi_mm: float) -> slice:
        return slice(int(round(v + lo_mm * PX_PER_MM)), int(round(v + hi_mm * PX_PER_MM)))

    left_of = span(x, -1.8, -0.8)  # where the horizontal marks beside the left edge run
    above = span(y, -1.8, -0.8)  # where the vertical marks over the top edge run
    top = _mark_boundary(dark, span(y, -1, 1), left_of, 0)
    bottom = _mark_boundary(dark, span(y + h, -1, 1), left_of, 0)
    left = _mark_boundary(dark, above, span(x, -1, 1), 1)
    right = _mark_boundary(dark, above, span(x + w, -1, 1), 1)
    box = tuple(int(round(v)) for v in (left, top, right, bottom))
    return (right - left) / PX_PER_MM, (bottom - top) / PX_PER_MM, box


@pytest.mark.parametrize("paper", list(PAPERS))
@pytest.mark.parametrize("credential", CREDENTIALS)
def test_the_jpeg_prints_the_photo_at_its_millimetres(photos, credential, paper):
    profile = load_catalogue().get(credential)
    made = sheets.build_sheet(photos[credential], profile, paper=paper, fmt="jpeg")
    with Image.open(io.BytesIO(made.data)) as im:
        assert im.format == "JPEG" and im.info["dpi"] == (300, 300)
        assert "exif" not in im.info and not im.getexif()
        pixels = np.asarray(im.convert("RGB"))
    paper_px = sorted(round(v * PX_PER_MM) for v in PAPERS[paper])
    assert sorted(pixels.shape[:2]) == paper_px  # the page is the paper at 300 dpi
    assert pixels.shape[1] == round(made.page_mm[0] * PX_PER_MM)
    assert made.copies == made.capacity >= {"6inch": 8, "5inch": 4, "a4": 36}[paper]

    source = np.asarray(Image.open(io.BytesIO(photos[credential])).convert("RGB"))
    for corner in made.placements_mm:
        w_mm, h_mm, (left, top, right, bottom) = measure_jpeg(pixels, corner, made.photo_mm)
        assert abs(w_mm - profile.width_mm) <= 0.2 and abs(h_mm - profile.height_mm) <= 0.2, (corner, w_mm, h_mm)
        # the photo fills exactly the box its marks draw: the content matches there and nowhere 1-2 px off
        expected = np.asarray(Image.fromarray(source).resize((right - left, bottom - top), Image.Resampling.LANCZOS),
                              np.float32)
        errors = {(dx, dy): np.abs(pixels[top + dy:bottom + dy, left + dx:right + dx].astype(np.float32)
                                   - expected).mean() for dx in (-2, -1, 0, 1, 2) for dy in (-2, -1, 0, 1, 2)}
        assert min(errors, key=errors.get) == (0, 0) and errors[(0, 0)] < 2, errors[(0, 0)]
    MEASURED[(credential, paper, "jpeg")] = (w_mm, h_mm)


def _placed_images(pdf: pikepdf.Pdf) -> list[tuple[pikepdf.Object, list[float]]]:
    """Each image the page draws with the matrix in force when it is drawn."""
    page = pdf.pages[0]
    ctm, stack, placed = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0], [], []
    for operands, operator in pikepdf.parse_content_stream(page):
        op = str(operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop()
        elif op == "cm":
            a, b, c, d, e, f = (float(v) for v in operands)
            A, B, C, D, E, F = ctm
            ctm = [a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F]
        elif op == "Do":
            xobject = page.Resources.XObject[operands[0]]
            if xobject.Subtype == "/Image":
                placed.append((xobject, ctm))
    return placed


def _segments(pdf: pikepdf.Pdf) -> list[tuple[float, float, float, float]]:
    out, start = [], None
    for operands, operator in pikepdf.parse_content_stream(pdf.pages[0]):
        op = str(operator)
        if op == "m":
            start = tuple(float(v) for v in operands)
        elif op == "l":
            out.append((*start, *(float(v) for v in operands)))
    return out


@pytest.mark.parametrize("paper", list(PAPERS))
@pytest.mark.parametrize("credential", CREDENTIALS)
def test_the_pdf_page_is_the_paper_and_places_the_photo_at_its_millimetres(photos, credential, paper):
    profile = load_catalogue().get(credential)
    made = sheets.build_sheet(photos[credential], profile, paper=paper, fmt="pdf")
    pdf = pikepdf.open(io.BytesIO(made.data))
    assert len(pdf.pages) == 1
    box = [float(v) for v in pdf.pages[0].MediaBox]
    assert box[:2] == [0, 0]
    assert sorted(v / PT_PER_MM for v in box[2:]) == pytest.approx(sorted(PAPERS[paper]), abs=0.01)
    assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root  # no document metadata
    assert pdf.Root.ViewerPreferences.PrintScaling == "/None"  # viewers default to actual size

    source = np.asarray(Image.open(io.BytesIO(photos[credential])).convert("RGB"))
    photos_drawn = [(x, m) for x, m in _placed_images(pdf) if int(x.Width) == source.shape[1]]
    assert len(photos_drawn) == made.copies == made.capacity >= {"6inch": 8, "5inch": 4, "a4": 36}[paper]
    page_h = box[3]
    rects = []
    for xobject, (a, b, c, d, e, f) in photos_drawn:
        assert b == 0 and c == 0  # upright, unskewed
        w_mm, h_mm = a / PT_PER_MM, d / PT_PER_MM
        assert abs(w_mm - profile.width_mm) <= 0.01 and abs(h_mm - profile.height_mm) <= 0.01, (w_mm, h_mm)
        # the photo inside is the photo convert made, pixel for pixel (embedded losslessly, once)
        assert np.array_equal(np.asarray(pikepdf.PdfImage(xobject).as_pil_image().convert("RGB")), source)
        rects.append((e, f, e + a, f + d))
    MEASURED[(credential, paper, "pdf")] = (w_mm, h_mm)
    assert len({xobject.objgen for xobject, _ in photos_drawn}) == 1
    # cut marks: at every corner one along each edge's line, starting 0.5 mm outside the photo
    segments = _segments(pdf)
    gap = 0.5 * PT_PER_MM
    for x0, y0, x1, y1 in rects:
        for cx, sx in ((x0, -1), (x1, 1)):
            for cy, sy in ((y0, -1), (y1, 1)):
                assert any(abs(s[1] - cy) < 1e-3 and abs(s[3] - cy) < 1e-3 and abs(s[0] - (cx + sx * gap)) < 1e-3
                           for s in segments), ("horizontal mark", cx, cy)
                assert any(abs(s[0] - cx) < 1e-3 and abs(s[2] - cx) < 1e-3 and abs(s[1] - (cy + sy * gap)) < 1e-3
                           for s in segments), ("vertical mark", cx, cy)
    for sx0, sy0, sx1, sy1 in segments:  # never over a photo, never off the page
        for x0, y0, x1, y1 in rects:
            assert not (x0 < (sx0 + sx1) / 2 < x1 and y0 < (sy0 + sy1) / 2 < y1)
        assert 2 * PT_PER_MM < min(sx0, sx1) and max(sx0, sx1) < box[2] - 2 * PT_PER_MM
        assert 2 * PT_PER_MM < min(sy0, sy1) and max(sy0, sy1) < page_h - 2 * PT_PER_MM


# -- the command line -------------------------------------------------------------------------

def run(*args):
    environ = {k: v for k, v in os.environ.items() if k != "PHOTOCORE_FILE_MODE"}
    return subprocess.run([EXE, "sheet", *map(str, args)], capture_output=True, text=True, timeout=300, env=environ,
                          preexec_fn=lambda: os.umask(0o022))


def assert_refused(result, code: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert code in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "internal.error" not in result.stderr, result.stderr


@pytest.fixture(scope="module")
def photo_files(photos, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    out = {}
    for credential, data in photos.items():
        out[credential] = folder / f"{credential}.jpg"
        out[credential].write_bytes(data)
    return out


def test_the_command_writes_both_formats_owner_only(photo_files, tmp_path):
    for name, extra in (("sheet.jpg", ["--paper", "5inch"]), ("sheet.pdf", ["--paper", "A4", "--copies", "6"])):
        result = run(photo_files["police.resident-id-card"], "--out", tmp_path / "new" / name,
                     "--credential", "police.resident-id-card", *extra)
        assert result.returncode == 0, result.stderr
        assert "居民身份证" in result.stdout and "26.0 x 32.0 mm" in result.stdout, result.stdout
        assert stat.S_IMODE((tmp_path / "new" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    with Image.open(tmp_path / "new" / "sheet.jpg") as im:
        assert im.info["dpi"] == (300, 300) and sorted(im.size) == [1050, 1500]
    pdf = pikepdf.open(tmp_path / "new" / "sheet.pdf")
    assert sum(1 for x, _ in _placed_images(pdf) if int(x.Width) == 358) == 6


def test_without_a_credential_the_size_comes_from_the_photos_dpi(photo_files, tmp_path):
    result = run(photo_files["police.passport"], "--out", tmp_path / "s.pdf", "--json")
    assert result.returncode == 0, result.stderr
    import json
    report = json.loads(result.stdout)
    assert report["size_from"] == "file_dpi" and report["credential"] is None
    assert report["photo_mm"] == pytest.approx([30, 40], abs=0.05)  # 354 x 472 px at 300 dpi
    assert report["copies"] == report["capacity"] == 8 and report["orientation"] == "landscape"


def test_bad_input_is_refused_with_a_code(photo_files, tmp_path):
    passport = photo_files["police.passport"]
    out = tmp_path / "sheet.jpg"
    assert_refused(run(tmp_path / "missing.jpg", "--out", out), "decode.unreadable")
    (tmp_path / "notes.jpg").write_text("not an image at all")
    assert_refused(run(tmp_path / "notes.jpg", "--out", out), "decode.unsupported")
    assert_refused(run(passport, "--out", out, "--paper", "a3"), "sheet.unknown_paper")
    assert_refused(run(passport, "--out", tmp_path / "sheet.png"), "sheet.unknown_format")
    assert_refused(run(passport, "--out", out, "--credential", "police.no-such-card"), "config.unknown_credential")
    # a passport photo called an ID-card photo: wrong shape, never stretched
    assert_refused(run(passport, "--out", out, "--credential", "police.resident-id-card"), "sheet.size_mismatch")
    assert_refused(run(passport, "--out", out, "--copies", "9"), "sheet.too_many_copies")  # 8 fit on 6-inch
    assert_refused(run(passport, "--out", out, "--copies", "0"), "config.invalid_count")
    # 354 x 472 px at 72 dpi is 125 x 167 mm: larger than a 6-inch print
    with Image.open(passport) as im:
        im.save(tmp_path / "big.jpg", quality=95, dpi=(72, 72))
        im.save(tmp_path / "no-dpi.png")  # PNG without pHYs: no size at all
    assert_refused(run(tmp_path / "big.jpg", "--out", out), "sheet.photo_too_large")
    assert_refused(run(tmp_path / "no-dpi.png", "--out", out), "sheet.size_unknown")
    assert_refused(run(passport, "--out", tmp_path), "sheet.unknown_format")  # a folder is not FILE.jpg
    (tmp_path / "taken.jpg").mkdir()
    assert_refused(run(passport, "--out", tmp_path / "taken.jpg"), "output.unwritable")
    assert not out.exists()


# -- the library ------------------------------------------------------------------------------

def test_the_library_call_takes_a_profile_a_credential_id_or_millimetres(photos):
    passport = photos["police.passport"]
    profile = load_catalogue().get("police.passport")
    by_profile = sheets.make_sheet(passport, profile, paper="6inch", fmt="jpeg")
    assert by_profile == sheets.make_sheet(passport, "police.passport")
    pdf = sheets.make_sheet(passport, (30, 40), paper="5inch", fmt="pdf", copies=2)
    assert pdf.startswith(b"%PDF-")
    assert len(_placed_images(pikepdf.open(io.BytesIO(pdf)))) == 3  # two photos and the label
    made = sheets.build_sheet(passport, (30, 40), copies=3)
    assert made.size_from == "given" and made.copies == 3 and made.orientation == "portrait"
    with pytest.raises(sheets.SheetError) as refused:
        sheets.build_sheet(passport, (30, 40), paper="letter")
    assert refused.value.code == "sheet.unknown_paper"
    with pytest.raises(photocore.DecodeError):
        sheets.make_sheet(b"", profile)


def test_the_label_names_the_credential_in_chinese_and_english(photos):
    made = sheets.build_sheet(photos["police.resident-id-card"], "police.resident-id-card", paper="5inch")
    if sheets._cjk_font_file() is None:
        pytest.skip("no CJK font on this machine (.ci/run installs fonts-noto-cjk)")
    assert made.label[0] == "居民身份证 / Resident identity card" and not made.notes
    assert "26 × 32 mm" in made.label[1] and f"{made.copies} 张" in made.label[1]
    # the label is drawn: dark text under the grid, clear of the marks
    pixels = np.asarray(Image.open(io.BytesIO(made.data)).convert("L"))
    below = round((max(y for _, y in made.placements_mm) + made.photo_mm[1] + sheets.LABEL_CLEAR) * PX_PER_MM)
    assert (pixels[below:below + round(sheets.LABEL_H * PX_PER_MM)] < 100).sum() > 500


def test_without_a_cjk_font_the_label_is_english_only(photos, monkeypatch):
    monkeypatch.setattr(sheets, "_cjk_font_file", lambda: None)
    for fmt in ("jpeg", "pdf"):
        made = sheets.build_sheet(photos["police.passport"], "police.passport", fmt=fmt)
        assert made.label[0] == "Ordinary passport" and made.copies == 8
        assert any(note.startswith("sheet.no_cjk_font") for note in made.notes)
        assert not any("\u4e00" <= ch <= "\u9fff" for line in made.label for ch in line)


def test_a_very_long_name_is_shortened_to_fit(photos):
    catalogue = load_catalogue()
    longest = max(catalogue.credentials.values(), key=lambda p: len(p.name_zh) + len(p.name_en))
    made = sheets.build_sheet(photos["police.resident-id-card"], (26, 32), paper="5inch")
    label, _ = sheets._label_lines(longest, (26, 32), 8, made.page_mm)
    for text, pt in label:
        assert sheets._text_mm(text, pt, sheets._cjk_font_file() is not None) <= made.page_mm[0] - 2 * sheets.EDGE


def test_no_exif_or_gps_reaches_the_sheet(photos, tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}  # GPS
    with Image.open(io.BytesIO(photos["police.passport"])) as im:
        buffer = io.BytesIO()
        im.save(buffer, "JPEG", quality=95, dpi=(300, 300), exif=exif)
    tagged = buffer.getvalue()
    assert Image.open(io.BytesIO(tagged)).getexif().get_ifd(0x8825)
    jpeg = sheets.make_sheet(tagged, "police.passport")
    with Image.open(io.BytesIO(jpeg)) as im:
        assert not im.getexif() and "exif" not in im.info and "xmp" not in im.info
    pdf = sheets.make_sheet(tagged, "police.passport", fmt="pdf")
    assert b"Camera maker" not in jpeg and b"Exif" not in jpeg
    document = pikepdf.open(io.BytesIO(pdf))
    assert b"Camera maker" not in pdf and b"Camera maker" not in document.pages[0].Resources.XObject.Photo.read_bytes()
    assert "/Info" not in document.trailer and "/Metadata" not in document.Root
