"""Print sheets: one credential's photo laid out on a standard print at its true physical size.

``photocore sheet PHOTO --out FILE.jpg|FILE.pdf [--paper 6inch|5inch|a4] [--credential ID]``
lays out as many copies as fit (or ``--copies N``) in a grid with gaps for cutting, thin cut marks
at each photo's corners (outside the photo, on the lines a person cuts along) and the credential's
name in Chinese and English in the bottom margin, with a reminder to print at actual size.

Where the physical size comes from, in order: the credential's millimetres (``--credential ID``,
or a ``PhotoProfile``, or ``(width_mm, height_mm)`` in the library); else the DPI the file
carries (what ``photocore convert`` writes); else the credential's DPI; else ``sheet.size_unknown``.

The JPEG is the paper at 300 dpi (and says so in its header), the photo resampled (Lanczos) only
when its own resolution is not 300 dpi. The PDF page is exactly the paper; the photo is embedded
once, losslessly, at its own pixels, and drawn at its millimetres for every copy; the cut marks
are vector lines; the label is a 600 dpi greyscale image (no font is embedded). Neither carries
EXIF, GPS or document metadata.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .caches import memoised
from .errors import ConfigError, DecodeError, SheetError

if TYPE_CHECKING:
    from .catalogue import PhotoProfile
    from .decode import Pixels

MM_PER_INCH = 25.4
PT_PER_MM = 72 / MM_PER_INCH
SHEET_DPI = 300  # the JPEG sheet's resolution
LABEL_DPI = 600  # the PDF label's resolution

# Papers in portrait, millimetres. "6inch" is the 4x6 in photo print (6 寸), "5inch" 3.5x5 in (5 寸).
PAPERS = {
    "6inch": (4 * MM_PER_INCH, 6 * MM_PER_INCH),
    "5inch": (3.5 * MM_PER_INCH, 5 * MM_PER_INCH),
    "a4": (210.0, 297.0),
}
FORMATS = ("jpeg", "pdf")

PhotoSource: TypeAlias = "bytes | bytearray | memoryview | str | os.PathLike[str]"  # the photo, or its file
# where the printed size comes from (see ``build_sheet``)
SizeSource: TypeAlias = "PhotoProfile | str | tuple[float, float] | list[float] | None"
Millimetres: TypeAlias = tuple[float, float]  # (width, height) or (x, y)
Label: TypeAlias = Sequence[tuple[str, float]]  # lines of (text, font size in pt)

# Layout, millimetres. Photo labs trim up to ~2 mm of a borderless print and desktop printers
# cannot print the outer 3 mm: photos stay MARGIN from the edge, their cut marks and the label
# at least EDGE from it.
MARGIN = 5.0  # paper edge to the nearest photo
EDGE = 3.0  # paper edge to the label
GAP = 4.0  # between neighbouring photos: room to cut, and for the marks
MARK_OFFSET = 0.5  # a mark starts this far from the photo's corner (a slightly off cut never shows it)
MARK_LENGTH = 2.0  # outer marks; gutter marks stop at the gutter's middle and meet the neighbour's
MARK_WIDTH = 0.15  # line width (2 px at 300 dpi, 0.43 pt)
LABEL_CLEAR = MARK_OFFSET + MARK_LENGTH + 0.8  # grid bottom to the label: clear of the marks
LABEL_PT = 6.0  # label font size, shrunk to LABEL_MIN_PT to fit the width, then shortened
LABEL_MIN_PT = 4.5
LABEL_LINE = 1.3  # line height, in font sizes
LABEL_H = 2 * LABEL_PT * LABEL_LINE / PT_PER_MM  # two lines
ASPECT_TOLERANCE = 0.02  # photo pixels vs the credential's millimetres
MIN_DPI = 50  # a file "DPI" below this is an aspect ratio or a writer's placeholder, not a size

ENV_CJK_FONT = "PHOTOCORE_CJK_FONT"
_CJK_FONT_PATHS = (  # Debian/Ubuntu fonts-noto-cjk, Fedora, Arch, other common CJK fonts
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


@dataclass(frozen=True)
class Sheet:
    """A finished sheet and how it was laid out (millimetres from the page's top-left corner)."""

    data: bytes
    format: str  # "jpeg" or "pdf"
    paper: str
    page_mm: tuple[float, float]  # as laid out: (width, height), landscape when turned
    photo_mm: tuple[float, float]
    size_from: str  # "credential", "given", "file_dpi" or "credential_dpi"
    copies: int
    capacity: int  # how many copies fit this paper
    placements_mm: tuple[tuple[float, float], ...]  # each photo's top-left corner
    photo_px: tuple[int, int]  # the photo as placed: at 300 dpi in a JPEG, its own pixels in a PDF
    resampled: bool
    credential: str | None = None
    label: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def orientation(self) -> str:
        return "landscape" if self.page_mm[0] > self.page_mm[1] else "portrait"

    def to_dict(self) -> dict:
        return {"format": self.format, "paper": self.paper, "orientation": self.orientation,
                "page_mm": [round(v, 3) for v in self.page_mm], "photo_mm": [round(v, 3) for v in self.photo_mm],
                "size_from": self.size_from,
                "copies": self.copies, "capacity": self.capacity, "credential": self.credential,
                "photo_px": list(self.photo_px), "resampled": self.resampled,
                "dpi": SHEET_DPI if self.format == "jpeg" else None, "bytes": len(self.data),
                "placements_mm": [[round(x, 3), round(y, 3)] for x, y in self.placements_mm],
                "label": list(self.label), "notes": list(self.notes)}


def make_sheet(photo: PhotoSource, size: SizeSource = None, *, paper: str = "6inch", fmt: str = "jpeg",
               copies: int | None = None, catalogue: str | None = None) -> bytes:
    """The sheet's bytes; see ``build_sheet``."""
    return build_sheet(photo, size, paper=paper, fmt=fmt, copies=copies, catalogue=catalogue).data


def build_sheet(photo: PhotoSource, size: SizeSource = None, *, paper: str = "6inch", fmt: str = "jpeg",
                copies: int | None = None, catalogue: str | None = None) -> Sheet:
    """Lay ``photo`` (bytes or a path; a photo ``photocore convert`` made) out on ``paper``
    ("6inch", "5inch" or "a4") as ``fmt`` ("jpeg" or "pdf").

    ``size`` is where the printed size comes from: a ``PhotoProfile`` or a credential id (its
    millimetres, and its names for the label), ``(width_mm, height_mm)``, or None (the DPI in the
    file). ``copies``: that many (default: as many as fit). Raises ``SheetError`` (``sheet.*``),
    ``DecodeError`` (``decode.*``: missing file, not an image) or ``ConfigError``.
    """
    from .decode import decode

    paper_key = str(paper).strip().lower()
    if paper_key not in PAPERS:
        raise SheetError(f"unknown paper {paper!r}: use one of {', '.join(PAPERS)}", code="sheet.unknown_paper")
    fmt_key = {"jpg": "jpeg"}.get(str(fmt).strip().lower(), str(fmt).strip().lower())
    if fmt_key not in FORMATS:
        raise SheetError(f"unknown sheet format {fmt!r}: use jpeg or pdf", code="sheet.unknown_format")
    if copies is not None and (isinstance(copies, bool) or not isinstance(copies, int) or copies < 1):
        raise ConfigError(f"copies must be a whole number of at least 1, not {copies!r}", code="config.invalid_count")
    profile = _profile(size, catalogue)
    data = _read(photo)
    capture = decode(data)
    pixels = capture.pixels()  # sRGB, upright (EXIF orientation applied), full resolution
    height_px, width_px = pixels.shape[:2]
    photo_mm, size_from, notes = _physical_size(data, width_px, height_px, profile, size)

    page_mm, grid, capacity = _choose_layout(PAPERS[paper_key], photo_mm, copies)
    placements = _placements(page_mm, photo_mm, grid, copies or capacity)
    count = len(placements)
    label, cjk = _label_lines(profile, photo_mm, count, page_mm)
    if not cjk:
        notes.append("sheet.no_cjk_font: no CJK font found (install fonts-noto-cjk, or set "
                     f"{ENV_CJK_FONT}=FONT.ttc); the label is in English only")

    if fmt_key == "jpeg":
        target = (_px(photo_mm[0]), _px(photo_mm[1]))
        placed, resampled = _resample(pixels, target)
        out = _jpeg(page_mm, placed, placements, label)
        photo_px = target
    else:
        out = _pdf(page_mm, pixels, photo_mm, placements, label)
        photo_px, resampled = (width_px, height_px), False
    return Sheet(data=out, format=fmt_key, paper=paper_key, page_mm=page_mm, photo_mm=photo_mm, size_from=size_from,
                 copies=count, capacity=capacity, placements_mm=tuple(placements), photo_px=photo_px,
                 resampled=resampled, credential=profile.id if profile is not None else None,
                 label=tuple(line for line, _ in label), notes=tuple(notes))


def format_for(path: str | os.PathLike[str]) -> str:
    """The sheet format a file name asks for: .jpg/.jpeg -> jpeg, .pdf -> pdf."""
    suffix = os.path.splitext(str(path))[1].lower()
    fmt = {".jpg": "jpeg", ".jpeg": "jpeg", ".pdf": "pdf"}.get(suffix)
    if fmt is None:
        raise SheetError(f"{path}: the sheet is written as .jpg or .pdf, not {suffix or 'a name without extension'!r}",
                         code="sheet.unknown_format")
    return fmt


# -- where the size comes from ---------------------------------------------------------------

def _profile(size: SizeSource, catalogue: str | None) -> PhotoProfile | None:
    if isinstance(size, str):
        from .catalogue import load_catalogue
        return load_catalogue(catalogue).get(size)
    if size is None or isinstance(size, (tuple, list)):
        return None
    if not hasattr(size, "width_mm"):
        raise ConfigError(f"size must be a PhotoProfile, a credential id or (width_mm, height_mm), not "
                          f"{type(size).__name__}", code="config.invalid")
    return size


def _read(source: PhotoSource) -> bytes:
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        else:
            with open(source, "rb") as fh:
                data = fh.read()
    except (OSError, TypeError, ValueError) as exc:
        raise DecodeError(f"could not read the photo: {exc}", code="decode.unreadable") from exc
    if not data:
        raise DecodeError("the photo is empty (zero bytes)", code="decode.empty")
    return data


def _file_dpi(data: bytes, width: int, height: int) -> tuple[float, float] | None:
    """The (x, y) DPI the file states for its upright pixels, or None when it states none."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            dpi = im.info.get("dpi")
            stored = im.size
    except Exception:  # noqa: BLE001 - already decoded once by photocore.decode: only a header quirk lands here
        return None
    if not dpi or len(dpi) != 2:
        return None
    try:
        x, y = float(dpi[0]), float(dpi[1])
    except (TypeError, ValueError):
        return None
    if not (MIN_DPI <= x <= 10_000 and MIN_DPI <= y <= 10_000):
        return None
    if stored == (height, width) and stored != (width, height):  # turned upright by its EXIF orientation
        x, y = y, x
    return x, y


def _physical_size(data: bytes, width_px: int, height_px: int, profile: PhotoProfile | None,
                   size: SizeSource) -> tuple[Millimetres, str, list[str]]:
    notes: list[str] = []
    dpi = _file_dpi(data, width_px, height_px)
    from_file = (width_px / dpi[0] * MM_PER_INCH, height_px / dpi[1] * MM_PER_INCH) if dpi else None
    if isinstance(size, (tuple, list)):
        try:
            mm = (float(size[0]), float(size[1]))
        except (TypeError, ValueError, IndexError):
            raise ConfigError(f"size {size!r} is not (width_mm, height_mm)", code="config.invalid") from None
        if len(size) != 2 or not all(0 < v < 10_000 for v in mm):
            raise ConfigError(f"size {size!r} is not (width_mm, height_mm)", code="config.invalid")
        source = "given"
    elif profile is not None and profile.width_mm and profile.height_mm:
        mm, source = (float(profile.width_mm), float(profile.height_mm)), "credential"
    elif from_file:
        mm, source = from_file, "file_dpi"
    elif profile is not None and profile.dpi:
        mm = (width_px / profile.dpi * MM_PER_INCH, height_px / profile.dpi * MM_PER_INCH)
        source = "credential_dpi"
    else:
        what = (f"the credential {profile.id} gives no printed size and the photo states no DPI" if profile is not None
                else "the photo states no DPI")
        raise SheetError(f"cannot tell the photo's printed size: {what}; name its credential (--credential ID)",
                         code="sheet.size_unknown")
    if source in ("given", "credential"):
        photo_aspect, mm_aspect = width_px / height_px, mm[0] / mm[1]
        if abs(photo_aspect / mm_aspect - 1) > ASPECT_TOLERANCE:
            whose = f"{profile.id}'s" if source == "credential" and profile is not None else "the given"
            raise SheetError(f"the photo is {width_px}x{height_px} px (shape {photo_aspect:.3f}) but {whose} printed "
                             f"size is {mm[0]:g} x {mm[1]:g} mm (shape {mm_aspect:.3f}): "
                             "is it this credential's photo?",
                             code="sheet.size_mismatch")
        if dpi and from_file and max(abs(from_file[0] - mm[0]), abs(from_file[1] - mm[1])) > 0.5:
            notes.append(f"the file says {dpi[0]:g} dpi ({from_file[0]:.1f} x {from_file[1]:.1f} mm); "
                         f"printed at {mm[0]:g} x {mm[1]:g} mm")
    return mm, source, notes


# -- layout ----------------------------------------------------------------------------------

def _fit(page_w: float, page_h: float, w: float, h: float) -> tuple[int, int]:
    """(columns, rows) of w x h photos that fit the page's grid area."""
    avail_w = page_w - 2 * MARGIN
    avail_h = page_h - MARGIN - LABEL_CLEAR - LABEL_H - EDGE
    if w > avail_w + 1e-9 or h > avail_h + 1e-9:
        return 0, 0
    return int((avail_w + GAP + 1e-9) // (w + GAP)), int((avail_h + GAP + 1e-9) // (h + GAP))


def _choose_layout(paper_mm: Millimetres, photo_mm: Millimetres,
                   copies: int | None) -> tuple[Millimetres, tuple[int, int], int]:
    """The page orientation (photos always upright) holding the most copies, portrait on a tie;
    with ``copies``, portrait when it holds them."""
    portrait = paper_mm
    landscape = (paper_mm[1], paper_mm[0])
    options = []
    for page in (portrait, landscape):
        cols, rows = _fit(page[0], page[1], *photo_mm)
        options.append((page, (cols, rows), cols * rows))
    best = max(options, key=lambda o: o[2])  # max keeps the first (portrait) on a tie
    if best[2] == 0:
        raise SheetError(f"a {photo_mm[0]:.1f} x {photo_mm[1]:.1f} mm photo does not fit on this paper with room to "
                         f"cut (at most {portrait[0] - 2 * MARGIN:.0f} x "
                         f"{portrait[1] - MARGIN - LABEL_CLEAR - LABEL_H - EDGE:.0f} mm); use a larger paper",
                         code="sheet.photo_too_large")
    if copies is not None:
        fits = [o for o in options if o[2] >= copies]
        if not fits:
            raise SheetError(f"{copies} copies do not fit: this paper holds {best[2]} of this photo",
                             code="sheet.too_many_copies")
        best = fits[0]
    return best[0], best[1], best[2]


def _placements(page_mm: Millimetres, photo_mm: Millimetres, grid: tuple[int, int],
                count: int) -> list[tuple[float, float]]:
    """Top-left corners of ``count`` photos: a grid as square as the page allows, centred
    horizontally, and with the label below it centred vertically."""
    cols, rows = grid
    used_cols = min(cols, count)
    used_rows = math.ceil(count / used_cols)
    w, h = photo_mm
    grid_w = used_cols * w + (used_cols - 1) * GAP
    grid_h = used_rows * h + (used_rows - 1) * GAP
    left = (page_mm[0] - grid_w) / 2
    block = grid_h + LABEL_CLEAR + LABEL_H
    top = MARGIN + (page_mm[1] - MARGIN - EDGE - block) / 2
    return [(left + (i % used_cols) * (w + GAP), top + (i // used_cols) * (h + GAP)) for i in range(count)]


def _marks(placements: Sequence[tuple[float, float]], photo_size: tuple[float, float],
           scale: float = 1.0) -> list[tuple[float, float, float, float]]:
    """Cut marks as (x0, y0, x1, y1) segments in the placements' unit (``scale`` of them per mm):
    at each corner, one along each edge's line, outside the photo. A mark in a gutter stops at its
    middle, where the neighbour's mark on the same line continues it."""
    w, h = photo_size
    xs = {x for x, _ in placements}
    ys = {y for _, y in placements}
    offset, full = MARK_OFFSET * scale, MARK_LENGTH * scale
    short = min(MARK_LENGTH, GAP / 2 - MARK_OFFSET) * scale

    def length(edge: float, direction: int, starts: set, size: float) -> float:
        for start in starts:
            beyond = (start - edge) if direction > 0 else (edge - (start + size))
            if abs(beyond - GAP * scale) <= 0.5 * scale:  # a photo across the gutter (any row or column)
                return short
        return full

    segments = []
    for x, y in placements:
        for cx, sx in ((x, -1), (x + w, 1)):
            for cy, sy in ((y, -1), (y + h, 1)):
                lx = length(cx, sx, xs, w)  # horizontal: along the top or bottom edge's line
                segments.append((cx + sx * offset, cy, cx + sx * (offset + lx), cy))
                ly = length(cy, sy, ys, h)  # vertical: along the left or right edge's line
                segments.append((cx, cy + sy * offset, cx, cy + sy * (offset + ly)))
    return segments


# -- the label -------------------------------------------------------------------------------

@memoised
def _cjk_font_file() -> tuple[str, int] | None:
    """(path, face index) of a font with Chinese glyphs: $PHOTOCORE_CJK_FONT, a known path, or
    what fontconfig lists for zh-cn; None when there is none."""
    candidates = [os.environ[ENV_CJK_FONT]] if os.environ.get(ENV_CJK_FONT) else []
    candidates += list(_CJK_FONT_PATHS)
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            listed = subprocess.run([fc_list, ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10,
                                    check=False).stdout
            files = sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()},
                           key=lambda f: (("Sans" not in f and "Hei" not in f), "Bold" in f, f))
            candidates += files
        except (OSError, subprocess.SubprocessError):
            pass
    for path in candidates:
        if not os.path.isfile(path):
            continue
        chosen = None
        for index in range(16):  # a .ttc holds several faces: prefer the Simplified Chinese one
            try:
                font = ImageFont.truetype(path, 12, index=index)
            except (OSError, ValueError):
                break
            family = " ".join(name for name in font.getname() if name)
            if chosen is None:
                chosen = index
            if " SC" in family and "Mono" not in family:
                chosen = index
                break
        if chosen is not None:
            return path, chosen
    return None


def _font(pt: float, dpi: int, cjk: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    size = max(1, round(pt / 72 * dpi))
    found = _cjk_font_file() if cjk else None
    if found:
        return ImageFont.truetype(found[0], size, index=found[1])
    return ImageFont.load_default(size)  # Pillow's bundled Latin font: never missing


def _label_lines(profile: PhotoProfile | None, photo_mm: Millimetres, count: int,
                 page_mm: Millimetres) -> tuple[list[tuple[str, float]], bool]:
    """Two lines (text, font size in pt) that fit the label's width; Chinese and English when a
    CJK font is found, English only otherwise."""
    cjk = _cjk_font_file() is not None
    size = f"{photo_mm[0]:.3g} × {photo_mm[1]:.3g} mm"
    if profile is not None:
        first = f"{profile.name_zh} / {profile.name_en}" if cjk else profile.name_en
    else:
        first = f"证件照 / ID photo · {size}" if cjk else f"ID photo · {size}"
    copies = f"{count} 张 / copies" if cjk else f"{count} copies"
    second = (f"{size} · {copies} · 按实际大小（100%）打印，沿标记裁切 / Print at actual size (100 %), cut at the marks"
              if cjk else f"{size} · {copies} · Print at actual size (100 %), cut at the marks")
    short = (f"{size} · {copies} · 按实际大小打印 / Print at 100 %" if cjk
             else f"{size} · {copies} · Print at 100 %")
    width_mm = page_mm[0] - 2 * EDGE
    return [_fit_text([first], width_mm, cjk), _fit_text([second, short], width_mm, cjk)], cjk


def _fit_text(variants: list[str], width_mm: float, cjk: bool) -> tuple[str, float]:
    """The first variant at the largest size (LABEL_PT down to LABEL_MIN_PT) that fits; else the
    last one shortened with an ellipsis at the smallest size."""
    for text in variants:
        pt = LABEL_PT
        while pt >= LABEL_MIN_PT - 1e-9:
            if _text_mm(text, pt, cjk) <= width_mm:
                return text, pt
            pt -= 0.25
    text = variants[-1]
    while len(text) > 1 and _text_mm(text + "…", LABEL_MIN_PT, cjk) > width_mm:
        text = text[:-1]
    return text.rstrip(" ·/") + "…", LABEL_MIN_PT


def _text_mm(text: str, pt: float, cjk: bool) -> float:
    font = _font(pt, SHEET_DPI, cjk)
    return font.getlength(text) / SHEET_DPI * MM_PER_INCH


def _label_box(page_mm: Millimetres, placements: Sequence[tuple[float, float]],
               photo_mm: Millimetres) -> tuple[float, float, float, float]:
    """(left, top, width, height) of the label, mm: under the grid, clear of its marks."""
    bottom = max(y for _, y in placements) + photo_mm[1]
    return EDGE, bottom + LABEL_CLEAR, page_mm[0] - 2 * EDGE, LABEL_H


def _label_image(label: Label, size_px: tuple[int, int], dpi: int, cjk: bool) -> Image.Image:
    """Black text centred on white, greyscale, ``size_px`` at ``dpi``."""
    image = Image.new("L", size_px, 255)
    draw = ImageDraw.Draw(image)
    line_h = size_px[1] / 2
    for i, (text, pt) in enumerate(label):
        font = _font(pt, dpi, cjk)
        draw.text((size_px[0] / 2, line_h * (i + 0.5)), text, fill=0, font=font, anchor="mm")
    return image


# -- output ----------------------------------------------------------------------------------

def _px(mm: float, dpi: int = SHEET_DPI) -> int:
    return round(mm / MM_PER_INCH * dpi)


def _resample(pixels: Pixels, target: tuple[int, int]) -> tuple[Image.Image, bool]:
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if image.size == target:
        return image, False
    return image.resize(target, Image.Resampling.LANCZOS), True


def _jpeg(page_mm: Millimetres, photo: Image.Image, placements: Sequence[tuple[float, float]], label: Label) -> bytes:
    page_px = (_px(page_mm[0]), _px(page_mm[1]))
    sheet = Image.new("RGB", page_px, (255, 255, 255))
    corners = [(_px(x), _px(y)) for x, y in placements]
    for corner in corners:
        sheet.paste(photo, corner)
    draw = ImageDraw.Draw(sheet)
    width = max(1, _px(MARK_WIDTH))  # 2 px, straddling the cut line (a pixel boundary)
    before = width // 2
    # the marks from the placed pixels: each lies exactly on its photo's pixel edge
    for x0, y0, x1, y1 in _marks(corners, photo.size, SHEET_DPI / MM_PER_INCH):
        if y0 == y1:  # horizontal, on the boundary above pixel row y0
            lo, hi = sorted((round(x0), round(x1)))
            draw.rectangle([lo, y0 - before, hi - 1, y0 - before + width - 1], fill=(0, 0, 0))
        else:
            lo, hi = sorted((round(y0), round(y1)))
            draw.rectangle([x0 - before, lo, x0 - before + width - 1, hi - 1], fill=(0, 0, 0))
    cjk = _cjk_font_file() is not None
    photo_mm = (photo.size[0] / SHEET_DPI * MM_PER_INCH, photo.size[1] / SHEET_DPI * MM_PER_INCH)
    left, top, w_mm, h_mm = _label_box(page_mm, placements, photo_mm)
    sheet.paste(_label_image(label, (_px(w_mm), _px(h_mm)), SHEET_DPI, cjk), (_px(left), _px(top)))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=95, subsampling=0, dpi=(SHEET_DPI, SHEET_DPI), optimize=True)
    return out.getvalue()


def _pdf(page_mm: Millimetres, pixels: Pixels, photo_mm: Millimetres, placements: Sequence[tuple[float, float]],
         label: Label) -> bytes:
    import pikepdf
    from pikepdf import Dictionary, Name

    pt = PT_PER_MM
    page_w, page_h = page_mm[0] * pt, page_mm[1] * pt
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(page_w, page_h))
    page = pdf.pages[0]
    height, width = pixels.shape[:2]
    photo = pikepdf.Stream(pdf, zlib.compress(np.ascontiguousarray(pixels).tobytes(), 6))
    photo.Type, photo.Subtype = Name.XObject, Name.Image
    photo.Width, photo.Height, photo.BitsPerComponent = width, height, 8
    photo.ColorSpace, photo.Filter = Name.DeviceRGB, Name.FlateDecode

    cjk = _cjk_font_file() is not None
    left, top, w_mm, h_mm = _label_box(page_mm, placements, photo_mm)
    label_px = (_px(w_mm, LABEL_DPI), _px(h_mm, LABEL_DPI))
    label_image = _label_image(label, label_px, LABEL_DPI, cjk)
    text = pikepdf.Stream(pdf, zlib.compress(label_image.tobytes(), 9))
    text.Type, text.Subtype = Name.XObject, Name.Image
    text.Width, text.Height, text.BitsPerComponent = label_px[0], label_px[1], 8
    text.ColorSpace, text.Filter = Name.DeviceGray, Name.FlateDecode

    def num(v: float) -> str:
        return f"{v:.4f}".rstrip("0").rstrip(".")

    w_pt, h_pt = photo_mm[0] * pt, photo_mm[1] * pt
    ops = []
    for x, y in placements:  # PDF's origin is the bottom-left corner
        ops.append(f"q {num(w_pt)} 0 0 {num(h_pt)} {num(x * pt)} {num(page_h - (y + photo_mm[1]) * pt)} cm /Photo Do Q")
    lw, lh = label_px[0] / LABEL_DPI * MM_PER_INCH * pt, label_px[1] / LABEL_DPI * MM_PER_INCH * pt
    ops.append(f"q {num(lw)} 0 0 {num(lh)} {num(left * pt)} {num(page_h - top * pt - lh)} cm /Label Do Q")
    ops.append(f"q 0 G {num(MARK_WIDTH * pt)} w 0 J")
    for x0, y0, x1, y1 in _marks(placements, photo_mm):
        ops.append(f"{num(x0 * pt)} {num(page_h - y0 * pt)} m {num(x1 * pt)} {num(page_h - y1 * pt)} l S")
    ops.append("Q")
    page.Contents = pdf.make_stream("\n".join(ops).encode("ascii"))
    page.Resources = Dictionary(XObject=Dictionary(Photo=photo, Label=text))
    # ask viewers to print at actual size by default (Acrobat and others honour PrintScaling)
    pdf.Root.ViewerPreferences = Dictionary(PrintScaling=Name("/None"), PickTrayByPDFSize=True)
    if "/Info" in pdf.trailer:
        del pdf.trailer.Info
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True, compress_streams=True)
    return out.getvalue()
