"""The render stage: one capture to every credential's photo, each distinct output made once.

Many of the 184 credentials share one output (same size, framing rules, background, colour,
format and byte window): ``render_key`` names that output and ``render_all`` renders each key
once and hands the same rendition to every credential that shares it. Outputs that differ only
in their file (byte window, format) share their pixels too (``pixel_key``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..caches import memoised
from ..catalogue import PhotoProfile
from ..framing import FaceGeometry, Frame, eye_line_angle, printed_dpi, solve_frame
from ..judge import messages
from .encode import EXTENSIONS, Files, encode
from .pixels import Photo, Source, cut, photo_pixels, replace_background, to_grey

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..decode import Capture


@dataclass(frozen=True)
class Failure:
    code: str
    message_zh: str
    message_en: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en,
                "detail": self.detail}


@dataclass(frozen=True)
class Rendition:
    render_key: str
    credentials: tuple[str, ...]  # every credential this output serves
    data: bytes | None  # None when the photo could not be produced
    format: str
    width: int
    height: int
    dpi: int | None
    quality: int | None
    reached_target: bool
    failures: tuple[Failure, ...] = ()
    frame: Frame | None = None
    background: str | None = None  # the colour put behind the person; None: the capture's own

    @property
    def ok(self) -> bool:
        return self.data is not None and not self.failures

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def bytes(self) -> int:
        return len(self.data) if self.data else 0


_PIXEL_KEYS = ("width", "height", "aspect", "colour", "background_replace")
_FILE_KEYS = ("dpi", "formats", "jpeg_quality_min", "kb_min", "kb_max")


def _digest(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=list).encode()).hexdigest()[:16]


@memoised  # profiles are immutable and hashed by identity; the JSON digest is not free
def pixel_key(profile: PhotoProfile) -> str:
    """Names the pixels ``profile`` asks for (framing, size, background, colour)."""
    spec = {k: getattr(profile, k) for k in _PIXEL_KEYS}
    spec["background"] = profile.background[0] if profile.background_replace else None
    spec["geometry"] = {k: [r.min, r.max] for k, r in sorted(profile.geometry.items())}
    placement = getattr(profile, "placement", None)  # the framing aims at it too
    if placement:
        spec["placement"] = {k: [r.min, r.max] for k, r in sorted(placement.items())}
    return _digest(spec)


@memoised
def render_key(profile: PhotoProfile) -> str:
    """Names the output ``profile`` asks for: equal keys mean identical files from one capture."""
    spec = {k: getattr(profile, k) for k in _FILE_KEYS}
    spec["formats"] = spec["formats"][:1]
    spec["pixels"] = pixel_key(profile)
    return _digest(spec)


def _failure(code: str, detail: str = "") -> Failure:
    text = messages().get(code) or messages()[code.replace("render.", "geometry.", 1)]
    return Failure(code, text["advice_zh"], text["advice_en"], detail)


def _resized(frame: Frame, width: int, profile: PhotoProfile) -> Frame:
    height = profile.height[0] if profile.fixed_size else int(round(width / profile.aspect))
    return replace(frame, width_px=width, height_px=height, scale=width / frame.crop_width)


def _pixels(source: Source, profile: PhotoProfile, frame: Frame, background: str | None) -> tuple[Photo, Files]:
    """The photo's pixels, made once per (pixel key, background, width) and shared by outputs
    that differ only in their file (format, byte window, DPI), with the files already encoded."""
    key = (pixel_key(profile), background, frame.width_px)
    if key not in source.photos:
        if background:
            if frame not in source.cuts:  # pixel sets that differ only in colour share their cut
                source.cuts[frame] = cut(source, frame)
            photo = replace_background(source.cuts[frame], background)
        else:
            photo = photo_pixels(source, frame)
        if profile.colour == "grey":
            photo = to_grey(photo)
        photo.setflags(write=False)
        source.photos[key] = photo, {}
    return source.photos[key]


def _render_one(source: Source, profile: PhotoProfile, key: str, credentials: tuple[str, ...],
                frame: Frame, timings: dict[str, float], reserve: int = 0, background: str | None = None) -> Rendition:
    if not frame.feasible:
        return Rendition(render_key=key, credentials=credentials, data=None, format=profile.formats[0],
                         width=frame.width_px, height=frame.height_px, dpi=profile.dpi, quality=None,
                         reached_target=False, frame=frame, background=background,
                         failures=tuple(_failure(s.code.replace("geometry.", "render.", 1), s.detail)
                                        for s in frame.shortfalls))
    sizes = [frame.width_px]
    if not profile.fixed_size:  # a ranged size may shrink to fit the byte window
        step = max(1, (frame.width_px - profile.width[0]) // 4)
        sizes += list(range(frame.width_px - step, profile.width[0] - 1, -step))[:4] + [profile.width[0]]
    for width in dict.fromkeys(sizes):  # never empty: ``current`` and ``encoded`` are set
        current = _resized(frame, width, profile) if width != frame.width_px else frame
        mark = time.perf_counter()
        photo, files = _pixels(source, profile, current, background)
        timings["render"] = timings.get("render", 0.0) + time.perf_counter() - mark
        mark = time.perf_counter()
        encoded = encode(photo, profile, source.encode_hint, reserve, files, printed_dpi(profile, current.width_px))
        timings["encode"] = timings.get("encode", 0.0) + time.perf_counter() - mark
        if encoded.problem != "render.bytes_over":
            break
    failures: tuple[Failure, ...] = ()
    if encoded.problem:
        kb = (f"{encoded.data and len(encoded.data) / 1024:.1f} KB against "
              f"{profile.kb_min or 0:g}-{profile.kb_max or 0:g} KB")
        failures = (_failure(encoded.problem, kb),)
    return Rendition(render_key=key, credentials=credentials, data=encoded.data, format=encoded.format,
                     width=current.width_px, height=current.height_px, dpi=printed_dpi(profile, current.width_px),
                     quality=encoded.quality,
                     reached_target=encoded.reached_target, failures=failures, frame=current, background=background)


def render_all(capture: Capture, analysis: Analysis, profiles: Sequence[PhotoProfile],
               timings: dict[str, float] | None = None, reserve: Callable[[PhotoProfile], int] | None = None,
               check: Callable[[str], None] | None = None, backgrounds: dict[str, str] | None = None,
               largest: bool = False) -> dict[str, Rendition]:
    """{credential id: rendition} for ``profiles``, each distinct output rendered once.

    ``timings``, if given, accumulates seconds spent in "source" (decoding the pixels the
    renders need), "render" (cut, background, colour) and "encode". ``reserve``, if given,
    maps a profile to bytes to keep free under its maximum (for an embedded C2PA manifest).
    ``check(step)``, if given, is called before each render (a deadline's check).
    ``backgrounds`` ({credential id: colour}, see ``photocore.backgrounds.choose``) overrides the
    first-listed colour of credentials whose background is replaced. ``largest``: profiles that
    accept a range of sizes are made as large as the capture allows (at a DPI that keeps their
    printed size), not at their standard's nominal size.
    """
    check = check or (lambda step: None)
    timings = {} if timings is None else timings
    reserve = reserve or (lambda profile: 0)
    backgrounds = backgrounds or {}
    colour = {p.id: backgrounds.get(p.id, p.background[0]) if p.background_replace else None for p in profiles}
    groups: dict[str, list[PhotoProfile]] = {}
    for profile in profiles:
        extra = reserve(profile)
        chosen = colour[profile.id]
        other = chosen if chosen and chosen != profile.background[0] else None
        groups.setdefault(render_key(profile) + (f"-r{extra}" if extra else "") + (f"-{other}" if other else ""),
                          []).append(profile)
    out: dict[str, Rendition] = {}
    if not analysis.has_face:
        for key, members in groups.items():
            p = members[0]
            r = Rendition(key, tuple(m.id for m in members), None, p.formats[0], p.width[0], p.height[0], p.dpi,
                          None, False, (_failure("render.no_face"),))
            out.update({m.id: r for m in members})
        return out
    face = FaceGeometry.from_analysis(analysis)
    frames = {key: solve_frame(members[0], face, largest) for key, members in groups.items()}
    matted = [frames[key] for key, members in groups.items() if members[0].background_replace]
    mark = time.perf_counter()
    source = Source(capture, analysis, frames.values(), matted, eye_line_angle(analysis),
                    analysis.eye_mid * analysis.scale)
    timings["source"] = timings.get("source", 0.0) + time.perf_counter() - mark
    for key, members in groups.items():
        check(f"rendering {members[0].id}")
        rendition = _render_one(source, members[0], key, tuple(m.id for m in members), frames[key],
                                timings, reserve(members[0]), colour[members[0].id])
        out.update({m.id: rendition for m in members})
    return out


def count_renders(profiles: Iterable[PhotoProfile]) -> int:
    """How many distinct outputs ``profiles`` need."""
    return len({render_key(p) for p in profiles})
