"""Judge a capture against one credential's photo profile.

A credential is judged from the same measurements as the master capture, so this is cheap:
- the capture's face and image requirements, with the credential's content rules applied
  (glasses forbidden makes ``glasses.present`` a real check; a background that may not be
  replaced must already be one of the credential's colours; one that is replaced is judged by
  whether the person can be cut out of it cleanly, ``background.cutout``, not by the wall);
- content rules no bundled model can judge (jewellery, visible ears) as ``not_assessed``;
- whether the credential's photo can be cut from this capture (``geometry.*``), from the same
  framing solver the renderer uses;
- ``capture.age`` when the profile limits the photo's age;
- ``clothing.contrast``: the clothing at the shoulders against the colour this credential's photo
  is made on (the chosen background, or the capture's own wall where it is kept), with advice on
  what to wear for that colour (rule in ``profiles/credential.toml``).
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from datetime import datetime

import cv2
import numpy as np

from .backgrounds import colour_name
from .caches import memoised
from .catalogue import PhotoProfile
from .framing import MAX_UPSCALE, FaceGeometry, solve_frame
from .judge import (
    FAIL,
    NOT_ASSESSED,
    PASS,
    Profile,
    Result,
    Rule,
    Verdict,
    _verdict,
    judge,
    load_profile,
    make_verdict,
    messages,
)
from .measures import Measurement
from .measures.clothing import contrast

# Capture rules that a credential replaces with its own: framing by geometry.*, the background
# colour when the credential does not allow replacing the background, and the wall rules when it
# does (background.cutout instead: profiles/replaced-background.toml).
_REPLACED = {"frame.margins"}
GEOMETRY_CODES = ("geometry.margin_top", "geometry.margin_bottom", "geometry.margin_sides", "geometry.resolution")


@memoised
def _measure_rules(profile: PhotoProfile) -> tuple[Profile, tuple]:
    """The capture profile's rules as they apply to this credential, and their codes and
    policies: the only things in them that differ between credentials."""
    content = profile.content
    rules: list[Rule] = []
    # a replaced background is judged by what replacement needs (profiles/replaced-background.toml)
    instead = load_profile("replaced-background") if profile.background_replace else None
    for rule in load_profile("capture").rules:
        if rule.code in _REPLACED:
            continue
        if instead is not None and rule.code in instead.replaces:
            rules.extend(r for r in instead.rules if r not in rules)  # where the wall rules stood
            continue
        if rule.code == "glasses.present":
            forbidden = content.get("glasses") == "forbidden"
            rule = replace(rule, policy=None if forbidden else "allowed",
                           source=rule.source + (f"; {profile.id}: glasses forbidden" if forbidden else ""))
        if rule.code == "background.colour" and not profile.background_replace:
            continue  # judged against the credential's own colours below
        rules.append(rule)
    return Profile(name=profile.id, rules=tuple(rules)), tuple((rule.code, rule.policy) for rule in rules)


@memoised
def _lab(hex_colour: str) -> np.ndarray:
    """CIELAB of a catalogue colour (read-only: cached)."""
    rgb = np.array([[[int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]]], np.uint8)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[0, 0].astype(np.float64)
    out = np.array([lab[0] * 100 / 255, lab[1] - 128, lab[2] - 128])
    out.flags.writeable = False
    return out


# How far below a minimum lightness a measured background may read and still pass: the wall's
# L* is a median over a wall that the light shades by a few units and JPEG rounds (8-bit L*
# steps are 0.4), so 2 L* (about five RGB levels at this lightness) is the measurement's
# uncertainty, not a tolerance. On the 51 London studio walls (L* 76-89) it fails 9 for the
# exit-entry grey (L* < 82.3), where 0.8 failed 16, several of them by rounding (003: 0.04).
LIGHTNESS_SLACK = 2.0


@memoised
def _tints(hex_colour: str) -> np.ndarray:
    """CIELAB of a colour and of its tints towards white (RGB mixes, 1/32 apart): the colours a
    minimum-lightness limit accepts. HSL lightening at a fixed hue and saturation is exactly this
    mix, which is how the exit-entry guide states its grey and light blue (read-only: cached)."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], np.float64)
    steps = np.linspace(0.0, 1.0, 33)[:, None]
    mixes = np.round(rgb + (255.0 - rgb) * steps).astype(np.uint8)[None]
    lab = cv2.cvtColor(mixes, cv2.COLOR_RGB2LAB)[0].astype(np.float64)
    out = np.stack([lab[:, 0] * 100 / 255, lab[:, 1] - 128, lab[:, 2] - 128], axis=1)
    out.flags.writeable = False
    return out


def _background_distance(profile: PhotoProfile, seen: np.ndarray, tolerance: float) -> float:
    """CIE76 distance from the nearest accepted colour. A minimum-lightness colour accepts itself
    and its lighter tints (within the tolerance); anything darker than it is out whatever the
    tolerance, and reads as the tolerance plus the shortfall in L*."""
    distances = []
    for colour in profile.background:
        if colour in profile.background_min_lightness:
            tints = _tints(colour)
            along = float(np.min(np.linalg.norm(tints - seen, axis=1)))
            shortfall = float(tints[0, 0] - seen[0]) - LIGHTNESS_SLACK
            distances.append(along if shortfall <= 0 else max(along, tolerance + shortfall))
        else:
            distances.append(float(np.linalg.norm(seen - _lab(colour))))
    return min(distances)


def _background_verdict(profile: PhotoProfile, m: Measurement) -> Verdict:
    """The capture's own background against the credential's colours (no replacement allowed)."""
    tolerance = profile.background_tolerance if profile.background_tolerance is not None else 10.0
    centres = [c for c in profile.background if c not in profile.background_min_lightness]
    limit = f"within {tolerance:g} of {', '.join(centres)}" if centres else ""
    if profile.background_min_lightness:
        limit += ("; " if limit else "") + f"{', '.join(profile.background_min_lightness)} or lighter"
    if not m.assessed:
        return make_verdict("background.colour", NOT_ASSESSED, None, limit, m.reason)
    seen = np.array([m.value, m.details["a"], m.details["b"]])
    distance = _background_distance(profile, seen, tolerance)
    return make_verdict("background.colour", PASS if distance <= tolerance else FAIL, round(distance, 1), limit)


def _geometry_verdicts(profile: PhotoProfile, analysis, face: FaceGeometry | None = None) -> list[Verdict]:
    if not analysis.has_face:
        return [make_verdict(code, NOT_ASSESSED, None, None, "no face was found") for code in GEOMETRY_CODES]
    frame = solve_frame(profile, face or FaceGeometry.from_analysis(analysis))
    by_code = {s.code: s for s in frame.shortfalls}
    if "geometry.rules" in by_code:
        return [make_verdict("geometry.rules", FAIL, None, by_code["geometry.rules"].detail)]
    verdicts = []
    value: float | None
    for code in GEOMETRY_CODES:
        short = by_code.get(code)
        if code == "geometry.resolution":
            value = round(frame.scale, 3)
            limit = f"enlargement <= {MAX_UPSCALE:g}x for {frame.width_px}x{frame.height_px} px"
        else:
            value = 0.0 if short is None else (None if math.isinf(short.amount) else round(short.amount, 1))
            limit = "0 px missing"
        verdicts.append(make_verdict(code, FAIL if short else PASS, value, limit))
    return verdicts


def _age_verdict(profile: PhotoProfile, captured_at: datetime | None, now: datetime | None) -> Verdict | None:
    if profile.max_age_days is None:
        return None
    limit = f"<= {profile.max_age_days} days"
    if captured_at is None:
        return make_verdict("capture.age", NOT_ASSESSED, None, limit, "the capture time is unknown")
    now = now or (datetime.now(captured_at.tzinfo) if captured_at.tzinfo else datetime.now())
    days = (now - captured_at).total_seconds() / 86400
    return make_verdict("capture.age", PASS if days <= profile.max_age_days else FAIL, round(days, 1), limit)


@memoised  # profiles are immutable and hashed by identity
def judge_key(profile: PhotoProfile) -> tuple:
    """Everything a credential's verdicts depend on: equal keys, equal verdicts."""
    geometry = tuple(sorted((k, r.min, r.max) for k, r in profile.geometry.items()))
    geometry += tuple(sorted((f"placement.{k}", r.min, r.max) for k, r in profile.placement.items()))
    return (profile.width, profile.height, profile.aspect, geometry, tuple(sorted(profile.content.items())),
            profile.background_replace, profile.background if not profile.background_replace else None,
            profile.background_tolerance if not profile.background_replace else None, profile.max_age_days,
            profile.background_min_lightness if not profile.background_replace else None)


_KEY_NUMBERS: dict[tuple, int] = {}  # judge keys numbered in order of first use; never reused
_KEY_NUMBERS_LOCK = threading.Lock()  # threads checking at once must not give two keys one number


def _number(key: tuple) -> int:
    with _KEY_NUMBERS_LOCK:
        return _KEY_NUMBERS.setdefault(key, len(_KEY_NUMBERS))


@memoised
def _key_numbers(profile: PhotoProfile) -> tuple[int, int]:
    """Small numbers for the profile's ``judge_key`` and for the part of it the frame depends on
    (size, aspect, geometry): cheaper to hash for every credential than the keys."""
    key = judge_key(profile)
    return _number(key), _number(("frame",) + key[:4])


def _hex(lab) -> str:
    """#RRGGBB of an (L*, a*, b*) colour."""
    pixel = np.array([[[lab[0] * 255 / 100, lab[1] + 128, lab[2] + 128]]]).clip(0, 255).round().astype(np.uint8)
    r, g, b = cv2.cvtColor(pixel, cv2.COLOR_LAB2RGB)[0, 0]
    return f"#{r:02X}{g:02X}{b:02X}"


def _clothing_verdict(profile: PhotoProfile, measurements: dict[str, Measurement], background: str | None,
                      shared: dict) -> Verdict:
    """The clothing at the shoulders against the colour this photo is made on: the chosen colour
    (else the first listed) where the background is replaced, the capture's own wall where not.
    Judged once per colour; the advice says what to wear against that colour."""
    colour = (background or profile.background[0]) if profile.background_replace else None
    key = ("clothing", colour)  # None: the capture's own wall
    if key not in shared:
        seen: np.ndarray | None
        if colour is not None:
            seen, where = _lab(colour), colour
        else:
            wall = measurements["background_colour"]
            seen = np.array([wall.value, wall.details["a"], wall.details["b"]]) if wall.assessed else None
            colour, where = (_hex(seen) if wall.assessed else None), "the capture's background"
        (rule,) = load_profile("credential").rules
        m = measurements["clothing"]
        if m.assessed and seen is None:
            m = replace(m, value=None, reason="the capture's background could not be measured")
        elif m.assessed:
            m = replace(m, value=contrast(m, seen))
        verdict = _verdict(replace(rule, policy=None), m)
        shown = f"{where} ({colour})" if colour and where != colour else where
        verdict = replace(verdict, limit=f"{verdict.limit} from {shown}")
        if verdict.status == FAIL:
            assert colour is not None  # a contrast failed, so it was measured against a known colour
            text = messages()[rule.code]
            name = colour_name(colour)
            zh, en = text.get(f"{name}_zh", text["advice_zh"]), text.get(f"{name}_en", text["advice_en"])
            if rule.policy == "advise":  # the clerk decides (credential.toml says why)
                verdict = replace(verdict, status=NOT_ASSESSED, message_zh=f"请人工核对：{zh}",
                                  message_en=f"Check by eye: {en}")
            else:
                verdict = replace(verdict, message_zh=zh, message_en=en)
        shared[key] = verdict
    return shared[key]


def judge_credentials(measurements: dict[str, Measurement], analysis, profiles, captured_at=None,
                      now: datetime | None = None, backgrounds: dict | None = None) -> dict[str, Result]:
    """{credential id: result}, judging each distinct set of rules once (many credentials share one).
    ``backgrounds``: {credential id: colour} chosen for this run (``backgrounds.choose``); a
    credential not in it is judged on its first listed colour."""
    done: dict[tuple, tuple] = {}  # verdicts by judge key and background colour
    shared: dict[tuple, tuple] = {}  # measure verdicts by rule set: the 184 credentials need a handful
    face = FaceGeometry.from_analysis(analysis) if analysis.has_face else None
    backgrounds = backgrounds or {}
    out = {}
    for profile in profiles:
        colour = backgrounds.get(profile.id) or (profile.background[0] if profile.background_replace else None)
        key = (_key_numbers(profile)[0], colour)
        verdicts = done.get(key)
        if verdicts is None:
            verdicts = done[key] = judge_credential(measurements, analysis, profile, captured_at, now,
                                                    shared=shared, face=face, background=colour).verdicts
        out[profile.id] = Result(profile.id, verdicts)
    return out


def judge_credential(measurements: dict[str, Measurement], analysis, profile: PhotoProfile,
                     captured_at: datetime | None = None, now: datetime | None = None, *,
                     shared: dict | None = None, face: FaceGeometry | None = None,
                     background: str | None = None) -> Result:
    """Every requirement of ``profile`` for this capture, from the shared measurements.
    ``shared`` and ``face`` let callers judging many credentials reuse what they have in common;
    ``background`` is the colour chosen for the photo (default: the first the profile lists)."""
    rules, rule_set = _measure_rules(profile)
    shared = {} if shared is None else shared
    if rule_set not in shared:  # rule sets differ in a rule or two: each rule is judged once
        shared[rule_set] = judge(measurements, rules, memo=shared.setdefault("rules", {})).verdicts
    verdicts = list(shared[rule_set])
    if not profile.background_replace:
        verdicts.append(_background_verdict(profile, measurements["background_colour"]))
    content = profile.content
    if content.get("jewellery") == "forbidden":
        verdicts.append(make_verdict("jewellery.absent", NOT_ASSESSED, None, "forbidden",
                                     "no bundled model finds earrings or necklaces"))
    if content.get("ears_visible"):
        verdicts.append(make_verdict("ears.visible", NOT_ASSESSED, None, "required",
                                     "no bundled model tells whether hair covers the ears"))
    frame_key = ("frame", _key_numbers(profile)[1])  # credentials of one size and geometry share a frame
    if frame_key not in shared:
        shared[frame_key] = tuple(_geometry_verdicts(profile, analysis, face))
    verdicts.extend(shared[frame_key])
    age = _age_verdict(profile, captured_at or analysis.captured_at, now)
    if age:
        verdicts.append(age)
    verdicts.append(_clothing_verdict(profile, measurements, background, shared))
    return Result(profile.id, tuple(verdicts))
