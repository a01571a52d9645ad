"""Solve a credential's framing from the face: scale, crop window and output size.

Works in fractions of the output photo, so one solver serves fixed and ranged sizes:
``u`` is the output width fraction per capture pixel (so ``face_width * u`` is the face's
share of the photo width) and ``q = u * aspect`` the same for the height. The scale rules
(face or head width, crown-to-chin, inter-eye distance) give an interval for ``u``; the
vertical rules (crown gap, chin gap, eye line) an interval for the crop's top edge; the
solver aims at the middle of each, as the agencies' ranges are centred on their ideal.

Where the rules leave the head's size or height open (the seafarer's passport fixes only the
face width and centring; the 一寸 exams only "head about 2/3"), the profile's ``placement``
says where the standard it follows puts the head (catalogue data with sources: crown gap, chin
gap, eye line, head height). Placement is an aim, never a rule: within what the rules allow the
solver goes to the middle of the points nearest every placement band, and a capture is never
rejected for it. A profile with neither vertical rules nor vertical placement gets
``DEFAULT_CROWN_GAP``; one with neither scale rules nor a head-height placement
``DEFAULT_CROWN_TO_CHIN``.

``check`` uses the frame to say whether a credential's photo can be produced from a capture
(``geometry.*`` codes); the renderer uses the same frame to cut the photo.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from .analysis import Analysis
    from .catalogue import PhotoProfile, Range

# Median proportions of the 51 frontal London faces (see benchmarks/accuracy.py), as
# multiples of the face width at ear level: used to test that a profile can be met at all.
CANONICAL_CROWN_TO_CHIN = 1.684
CANONICAL_CROWN_TO_EYE = 0.514 * CANONICAL_CROWN_TO_CHIN
# Top of the skull above the eyes, in eye-to-chin lengths (0.514 / 0.486, same faces). Used
# when hair piled high makes the crown unusable: GA 461 lets the eye rule win and "very tall
# hair may be cropped", so the frame is then solved from the skull and the hair is cut.
SKULL_ABOVE_EYES = 0.514 / 0.486
CANONICAL_INTER_EYE = 0.462
CANONICAL_HEAD_WIDTH = 1.212

# When a profile has neither a scale rule nor a head-height placement, or neither a vertical
# rule nor a vertical placement, the photo is framed like the common "head about 2/3 of the
# photo" rule with 5-12 % of the height above the crown. A render default, not a catalogue rule:
# it is never judged. Every built-in base without a vertical rule has a placement of its own
# (specs/bases.toml), so this serves integrators' overlays and profiles that set none.
DEFAULT_CROWN_TO_CHIN = (0.62, 0.72)
DEFAULT_CROWN_GAP = (0.05, 0.12)
MAX_UPSCALE = 1.2  # the most a capture may be enlarged to reach the output size
SCALE_RULES = ("face_width", "head_width", "inter_eye", "crown_to_chin")
VERTICAL_RULES = ("crown_gap", "chin_gap", "eye_line_from_top", "eye_line_from_bottom")

Interval: TypeAlias = tuple[float, float]  # (low, high); either end may be infinite


def eye_line_angle(analysis: Analysis) -> float:
    """Angle of the line from the subject's right to left iris, degrees (0 = level)."""
    d = analysis.left_iris - analysis.right_iris
    return math.degrees(math.atan2(float(d[1]), float(d[0])))


@dataclass(frozen=True)
class FaceGeometry:
    """The face as framing sees it, in capture pixels (full resolution)."""

    face_width: float
    head_width: float
    inter_eye: float
    crown_y: float
    eye_y: float
    chin_y: float
    eye_x: float
    image_width: float = math.inf
    image_height: float = math.inf
    crown_inside: bool = True

    @property
    def skull_y(self) -> float:
        """Where the top of the head would be without hair volume, from the eyes and chin."""
        return self.eye_y - SKULL_ABOVE_EYES * (self.chin_y - self.eye_y)

    def without_hair(self, crown: bool, width: bool) -> FaceGeometry:
        """The head as if hair added no height (crown) or width: skull and ears only."""
        if not crown and not width:
            return self  # frozen: the same head
        return replace(self, crown_y=self.skull_y if crown else self.crown_y, crown_inside=self.crown_inside or crown,
                       head_width=CANONICAL_HEAD_WIDTH * self.face_width if width else self.head_width)

    @classmethod
    def from_analysis(cls, analysis: Analysis) -> FaceGeometry:
        """The face with its eyes levelled (rotated about the eye midpoint), in capture pixels.

        Rendering levels the eyes before cutting, so the frame is solved in that levelled
        view; lengths do not change, vertical positions of crown and chin do a little.
        """
        s = analysis.scale
        (crown_x, crown_y), inside = analysis.crown
        cx, cy = (float(v) for v in analysis.eye_mid)
        theta = -math.radians(eye_line_angle(analysis))

        def levelled_y(x: float, y: float) -> float:
            return cy + math.sin(theta) * (x - cx) + math.cos(theta) * (y - cy)

        chin = analysis.chin
        return cls(face_width=analysis.face_width * s, head_width=analysis.head_width * s,
                   inter_eye=analysis.inter_eye * s, crown_y=levelled_y(crown_x, crown_y) * s, eye_y=cy * s,
                   chin_y=levelled_y(float(chin[0]), float(chin[1])) * s, eye_x=cx * s,
                   image_width=float(analysis.full_size[0]), image_height=float(analysis.full_size[1]),
                   crown_inside=inside)

    @classmethod
    def canonical(cls) -> FaceGeometry:
        return cls(face_width=1.0, head_width=CANONICAL_HEAD_WIDTH, inter_eye=CANONICAL_INTER_EYE,
                   crown_y=0.0, eye_y=CANONICAL_CROWN_TO_EYE, chin_y=CANONICAL_CROWN_TO_CHIN, eye_x=0.0)


@dataclass(frozen=True)
class Shortfall:
    code: str  # geometry.margin_top | margin_bottom | margin_sides | resolution | rules
    amount: float  # capture pixels missing (margins), the upscale factor (resolution)
    detail: str


@dataclass(frozen=True)
class Frame:
    width_px: int
    height_px: int
    scale: float  # output pixels per capture pixel
    left: float  # crop window in capture pixels
    top: float
    crop_width: float
    crop_height: float
    shortfalls: tuple[Shortfall, ...] = field(default=())
    hair_cropped: bool = False  # framed from the skull: hair above it may be cut off


    @property
    def feasible(self) -> bool:
        return not self.shortfalls


def _intersect(intervals: Collection[Interval]) -> Interval | None:
    low = max((i[0] for i in intervals), default=-math.inf)
    high = min((i[1] for i in intervals), default=math.inf)
    return (low, high) if low <= high else None


def _middle(interval: Interval, fallback: float) -> float:
    low, high = interval
    if math.isinf(low) and math.isinf(high):
        return fallback
    if math.isinf(low):
        return min(high, fallback)
    if math.isinf(high):
        return max(low, fallback)
    return (low + high) / 2


def _aim(hard: Interval, soft: Sequence[Interval], fallback: float) -> float:
    """The middle of the points of ``hard`` nearest to all the ``soft`` intervals together
    (least total distance): the middle of their overlap when they overlap, the middle of the gap
    between two that do not, the end of ``hard`` nearest to them when they lie beyond it."""
    if not soft:
        return _middle(hard, fallback)
    low, high = hard
    if len(soft) == 1:  # one band: the middle of its overlap with ``hard``, else the nearer end
        a, b = soft[0]
        if a > high or b < low:
            return high if a > high else low
        return _middle((max(a, low), min(b, high)), fallback)
    # The total distance is convex and piecewise linear, bending only at the bands' ends: the
    # nearest points are one interval, between two of those ends (or of hard's).
    points = [p if low <= p <= high else (low if p < low else high)
              for band in soft for p in band if -math.inf < p < math.inf]
    points += [p for p in hard if -math.inf < p < math.inf]
    if not points:
        return _middle(hard, fallback)
    costs = []
    for p in points:
        cost = 0.0
        for a, b in soft:
            if p < a:
                cost += a - p
            elif p > b:
                cost += p - b
        costs.append(cost)
    best = min(costs) + 1e-9 * max(abs(points[0]), abs(points[-1]))
    near = [p for p, c in zip(points, costs, strict=True) if c <= best]
    return (min(near) + max(near)) / 2


def _head_height(profile: PhotoProfile, face: FaceGeometry, r: tuple[float | None, float | None]) -> Interval:
    """u interval (photo-width fraction per capture px) giving a crown-to-chin share in ``r``."""
    length = (face.chin_y - face.crown_y) * profile.aspect
    low, high = r
    return ((low or 0.0) / length, (high if high is not None else math.inf) / length)


def _scale_intervals(profile: PhotoProfile, face: FaceGeometry) -> tuple[dict[str, Interval], Interval | None]:
    """Intervals of u (photo-width fraction per capture px), one per scale rule, and the
    placement's head height as a soft interval (or None)."""
    measured = {"face_width": face.face_width, "head_width": face.head_width, "inter_eye": face.inter_eye}
    out = {}
    for rule in SCALE_RULES:
        r = profile.geometry.get(rule)
        if r is None:
            continue
        if rule == "crown_to_chin":  # a height fraction: u = fraction / (length * aspect)
            out[rule] = _head_height(profile, face, (r.min, r.max))
            continue
        length = measured[rule]
        out[rule] = ((r.min or 0.0) / length, (r.max if r.max is not None else math.inf) / length)
    placed = _placement(profile).get("crown_to_chin")
    soft = _head_height(profile, face, (placed.min, placed.max)) if placed is not None else None
    if not out:  # nothing to obey: the placement (or the default) is all there is
        out["placement crown_to_chin" if soft else "default crown_to_chin"] = soft or _head_height(
            profile, face, DEFAULT_CROWN_TO_CHIN)
        soft = None
    return out, soft


def _placement(profile: PhotoProfile) -> dict[str, Range]:
    return getattr(profile, "placement", None) or {}


def _top_intervals(profile: PhotoProfile, face: FaceGeometry, q: float) -> tuple[dict[str, Interval], list[Interval]]:
    """Intervals of the crop's top edge (capture px) for the vertical rules at height fraction q
    per px, and the placement's (or the default's) soft intervals."""
    g = profile.geometry

    def band(r: Range, y: float, from_bottom: bool) -> Interval:
        low, high = (r.min or 0.0), (r.max if r.max is not None else 1.0)
        if from_bottom:  # 1 - (y - top) q in [low, high]
            return (y - (1 - low) / q, y - (1 - high) / q)
        return (y - high / q, y - low / q)  # (y - top) q in [low, high]

    where = {"crown_gap": (face.crown_y, False), "chin_gap": (face.chin_y, True),
             "eye_line_from_top": (face.eye_y, False), "eye_line_from_bottom": (face.eye_y, True)}
    out = {rule: band(g[rule], *where[rule]) for rule in VERTICAL_RULES if rule in g}
    placement = _placement(profile)
    soft = [band(placement[rule], *where[rule]) for rule in VERTICAL_RULES if rule in placement]
    if not out and not soft:
        low, high = DEFAULT_CROWN_GAP
        soft = [(face.crown_y - high / q, face.crown_y - low / q)]
    out["head inside the photo"] = (face.chin_y - 1 / q, face.crown_y)
    return out, soft


def _left_interval(profile: PhotoProfile, face: FaceGeometry, u: float) -> Interval:
    r = profile.geometry.get("eye_centre_x")
    if r is None:
        return (-math.inf, math.inf)
    low, high = (r.min or 0.0), (r.max if r.max is not None else 1.0)
    return (face.eye_x - high / u, face.eye_x - low / u)


def _candidates(u_range: Interval, u_mid: float) -> Iterator[float]:
    """The middle first, then 41 steps across the range, nearest the middle first.

    The middle nearly always works, so with finite numbers (the middle then sorts first)
    the steps are only built and sorted when it does not.
    """
    finite = math.isfinite(u_range[0]) and math.isfinite(u_range[1]) and math.isfinite(u_mid)
    if finite:
        yield u_mid
    steps = [u_mid] + [u_range[0] + (u_range[1] - u_range[0]) * i / 40 for i in range(41)]
    steps.sort(key=lambda u: abs(u - u_mid))
    yield from steps[1:] if finite else steps


def _solve(profile: PhotoProfile, face: FaceGeometry) -> tuple[tuple[float, float, float] | None, str | None]:
    """(u, top, left) meeting every rule, aiming at the middle and the placement; or (None, reason)."""
    scale, soft_scale = _scale_intervals(profile, face)
    u_range = _intersect(scale.values())
    if u_range is None:
        return None, "the size rules contradict each other: " + ", ".join(sorted(scale))
    u_mid = _aim(u_range, [soft_scale] if soft_scale else [], u_range[0])
    last = None
    # Try the aim first, then step outwards until the vertical rules can be met too.
    for u in _candidates(u_range, u_mid):
        q = u * profile.aspect
        tops, soft = _top_intervals(profile, face, q)
        top_range = _intersect(tops.values())
        if top_range is None:
            last = tops
            continue
        top = _aim(top_range, soft, face.crown_y - 0.08 / q)
        left_range = _left_interval(profile, face, u)
        if left_range[0] > left_range[1]:
            continue
        left = min(max(face.eye_x - 0.5 / u, left_range[0]), left_range[1])
        return (u, top, left), None
    return None, "the size and vertical rules cannot hold together: " + ", ".join(sorted(last or {}))


def unsatisfiable_reason(profile: PhotoProfile) -> str | None:
    """Why no framing of a typical face meets all of ``profile``'s geometry at once, or None."""
    solved, reason = _solve(profile, FaceGeometry.canonical())
    return reason if solved is None else None


def nominal_width(profile: PhotoProfile) -> int:
    """The width a ranged profile is made at: the standard's printed size at its DPI (a 30 mm
    photo at 300 dpi is 354 px, whatever larger file the agency also accepts), else the largest."""
    w_min, w_max = profile.width
    if profile.width_mm and profile.dpi:
        return min(w_max, max(w_min, round(profile.width_mm * profile.dpi / 25.4)))
    return w_max


def printed_dpi(profile: PhotoProfile, width_px: int) -> int | None:
    """The DPI at which ``width_px`` prints at the profile's millimetres: the profile's own at its
    nominal size, more for a larger file (so a 480 px passport photo says 406 dpi, 30 mm)."""
    if not profile.width_mm or not profile.dpi or width_px == nominal_width(profile):
        return profile.dpi
    return round(width_px * 25.4 / profile.width_mm)


def solve_frame(profile: PhotoProfile, face: FaceGeometry, largest: bool = False) -> Frame:
    """The frame for ``profile`` from this capture's face, with what the capture lacks, if anything.

    The crown and head width from the person mask are tried first. If the crown is cut off,
    or hair piled high or wide makes the rules unmeetable or pushes the frame past the
    capture's edge, the frame is solved as if the hair added nothing (skull and ears only)
    and the hair may be cut, as GA 461 allows ("the eye rule wins"). ``largest``: a ranged
    profile is made as large as the capture allows, not at its nominal size.
    """
    first, reason = None, None
    for crown, width in ((False, False), (True, False), (False, True), (True, True)):
        if crown and face.skull_y <= face.crown_y:
            continue
        variant = face.without_hair(crown, width)
        if not variant.crown_inside:
            continue
        solved, why = _solve(profile, variant)
        reason = reason or why
        if solved is None:
            continue
        frame = _frame(profile, variant, *solved, hair_cropped=crown, largest=largest)
        if frame.feasible:
            return frame
        first = first or frame
    if first is not None:
        return first
    if not face.crown_inside and face.skull_y <= face.crown_y:
        return Frame(profile.width[0], profile.height[0], 0.0, 0.0, 0.0, 0.0, 0.0,
                     (Shortfall("geometry.margin_top", math.inf, "the crown is cut off by the top edge"),))
    # this face's proportions fall outside what the rules allow together
    return Frame(profile.width[0], profile.height[0], 0.0, 0.0, 0.0, 0.0, 0.0,
                 (Shortfall("geometry.rules", 0.0, reason or "no framing of this face meets the rules"),))


def _frame(profile: PhotoProfile, face: FaceGeometry, u: float, top: float, left: float, hair_cropped: bool,
           largest: bool = False) -> Frame:
    """The output size, scale and crop for a solved framing, and what the capture lacks for it."""
    (w_min, w_max) = profile.width
    crop_width = 1.0 / u
    target = w_max if largest else nominal_width(profile)
    width = int(min(max(math.floor(crop_width), w_min), target))  # never upscaled to get there
    if profile.fixed_size:
        height = profile.height[0]
    else:
        height = int(min(max(round(width / profile.aspect), profile.height[0]), profile.height[1]))
    scale = width * u
    crop_height = height / scale
    shortfalls = []
    slack = 1.0
    if top < -slack:
        shortfalls.append(Shortfall("geometry.margin_top", -top, f"{-top:.0f} px more above the crown needed"))
    bottom = top + crop_height - face.image_height
    if bottom > slack:
        shortfalls.append(Shortfall("geometry.margin_bottom", bottom, f"{bottom:.0f} px more below the chin needed"))
    sides = max(-left, left + crop_width - face.image_width)
    if sides > slack:
        shortfalls.append(Shortfall("geometry.margin_sides", sides, f"{sides:.0f} px more beside the head needed"))
    if scale > MAX_UPSCALE:
        shortfalls.append(Shortfall("geometry.resolution", scale,
                                    f"the face would be enlarged {scale:.2f}x (at most {MAX_UPSCALE}x)"))
    return Frame(width, height, scale, left, top, crop_width, crop_height, tuple(shortfalls), hair_cropped)
