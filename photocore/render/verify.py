"""Check a finished photo against its credential's profile, from its bytes alone.

What an agency's intake would check: the format, pixel size, DPI and byte window, and, by
analysing the photo again, the framing (face and head width, crown-to-chin, crown gap, eye
line, centring, inter-eye distance) within ``TOLERANCE`` of each rule's range. Used by the
round-trip tests and available to integrators to check what they receive.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from ..analysis import analyse
from ..decode import decode
from ..framing import FaceGeometry
from .encode import KB

TOLERANCE = 0.03  # in fractions of the photo's width or height: measuring the photo again is not exact
CROWN_RULES = {"crown_gap", "crown_to_chin"}
# What any ID photo looks like, whatever rules its profile names (``verify(sensible=True)``):
# the whole head inside with a gap above it (GA 461's 7 px of 441 is the tightest rule, 1.6 %),
# room below the chin for the neck and the top of the shoulders, a head neither lost in the
# frame nor filling it, the eyes above the middle (ISO/IEC 19794-5 and INCITS 385 put the eye
# line 50-70 % from the bottom, GA 461 at least 46.9 %) and the face centred. Fractions of the
# photo's height (width for the last two), loose enough for every standard in the catalogue: a
# profile with no vertical rule framed with the crown 36 px from the top of 437 and the chin
# 23 px from the bottom (issue 16) fails on the chin gap.
SENSIBLE = {
    "crown_gap": (0.01, 0.16),
    "chin_gap": (0.07, 0.36),
    "crown_to_chin": (0.50, 0.92),
    "eye_line_from_bottom": (0.42, 0.70),
    "eye_centre_x": (0.45, 0.55),
    "face_width": (0.35, 0.76),
}
_FORMATS = {"JPEG": "jpeg", "PNG": "png", "BMP": "bmp"}


@dataclass(frozen=True)
class Violation:
    rule: str
    value: float | str | None
    expected: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.value} (expected {self.expected})"


def _measured(face: FaceGeometry, width: int, height: int) -> dict[str, float]:
    return {
        "face_width": face.face_width / width,
        "head_width": face.head_width / width,
        "inter_eye": face.inter_eye / width,
        "eye_centre_x": face.eye_x / width,
        "crown_to_chin": (face.chin_y - face.crown_y) / height,
        "crown_gap": face.crown_y / height,
        "chin_gap": (height - face.chin_y) / height,
        "eye_line_from_top": face.eye_y / height,
        "eye_line_from_bottom": (height - face.eye_y) / height,
    }


def verify(data: bytes, profile, *, hair_cropped: bool = False, tolerance: float = TOLERANCE,
           sensible: bool = False) -> list[Violation]:
    """Every way ``data`` misses ``profile`` (empty when it meets it).

    ``hair_cropped``: the photo was framed from the skull because the hair was too tall, so
    the crown rules are not checked (the hair is cut on purpose, as GA 461 allows).
    ``sensible``: also check the head's size and position against ``SENSIBLE``, whatever rules
    the profile names (violations ``sensible.<measure>``).
    """
    out = []
    with Image.open(io.BytesIO(data)) as im:
        name = im.format or ""
        fmt, (width, height), dpi = _FORMATS.get(name, name), im.size, im.info.get("dpi")
        has_exif = bool(im.info.get("exif")) or bool(im.getexif())
    if fmt not in profile.formats:
        out.append(Violation("format", fmt, " or ".join(profile.formats)))
    (w_min, w_max), (h_min, h_max) = profile.width, profile.height
    if not (w_min <= width <= w_max and h_min <= height <= h_max):
        out.append(Violation("size", f"{width}x{height}", f"{w_min}-{w_max} x {h_min}-{h_max}"))
    if profile.dpi and (dpi is None or round(float(dpi[0])) != profile.dpi):
        out.append(Violation("dpi", None if dpi is None else round(float(dpi[0])), str(profile.dpi)))
    if has_exif:
        out.append(Violation("metadata", "EXIF present", "no EXIF"))
    if profile.kb_max and len(data) > profile.kb_max * KB:
        out.append(Violation("bytes", len(data), f"<= {profile.kb_max:g} KB"))
    if profile.kb_min and len(data) < profile.kb_min * KB:
        out.append(Violation("bytes", len(data), f">= {profile.kb_min:g} KB"))
    analysis = analyse(decode(data))
    if not analysis.has_face:
        return out + [Violation("face", None, "one face")]
    measured = _measured(FaceGeometry.from_analysis(analysis), width, height)
    for rule, allowed in profile.geometry.items():
        if hair_cropped and rule in CROWN_RULES:
            continue
        value = measured[rule]
        if not allowed.contains(value, slack=tolerance):
            low = "" if allowed.min is None else f"{allowed.min:.3f}"
            high = "" if allowed.max is None else f"{allowed.max:.3f}"
            out.append(Violation(rule, round(value, 3), f"{low}..{high} (+-{tolerance})"))
    if sensible:
        for rule, (lowest, highest) in SENSIBLE.items():
            if hair_cropped and rule in CROWN_RULES:
                continue
            if not lowest <= measured[rule] <= highest:
                out.append(Violation(f"sensible.{rule}", round(measured[rule], 3), f"{lowest}..{highest}"))
    return out
