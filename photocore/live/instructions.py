"""What to say now: instruction codes, their rank, their texts, and the live limits.

Why ranked: a person in front of a camera can follow one instruction at a time, and some
must come first (nobody can "open your eyes" for a camera that sees no face; centring comes
before the small corrections of pose). ``RANK`` is that order; a session sorts what fails
by it, so ``instructions[0]`` is the one to speak.

Why the limits come from the capture profile: a frame the live session calls compliant
should pass the full check that runs on the chosen frame. Each live requirement names the
profile rule it mirrors (``photocore/profiles/capture.toml``) and takes that rule's limit:
where the rule has an uncertainty band (beyond the limit by less than it is "not assessed",
not a failure), the live limit is the middle of the band; elsewhere it is the limit made 5 %
stricter, because tracked landmarks differ slightly from a still analysis of the same frame.
Texts live with the clerk's other messages, in ``photocore/profiles/messages.toml``
(``[live.*]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..caches import memoised
from ..judge import Rule, Verdict, load_profile, messages

# Most important first: camera problems, who is in view, distance and position, pose, eyes
# and mouth, light, what the full check refused, then stillness and the capture itself.
RANK = (
    "live.frame_too_small", "live.camera_dark", "live.camera_frozen", "live.camera_unstable",
    "live.no_face", "live.no_face_long", "live.several_faces",
    "live.move_back", "live.move_closer", "live.centre_face",
    "live.look_straight", "live.chin_down", "live.chin_up", "live.head_level",
    "live.remove_tinted_glasses", "live.eyes_hidden", "live.open_eyes", "live.close_mouth",
    "live.neutral_expression", "live.glasses_glare",
    "live.too_dark", "live.too_bright", "live.uneven_light",
    "live.check_failed", "live.keep_still", "live.hold_still_capturing", "live.captured",
)
_ORDER = {code: i for i, code in enumerate(RANK)}

STRICTER = 0.05  # live limits without an uncertainty band are this much stricter than the profile's


@dataclass(frozen=True)
class Instruction:
    """One thing to say. ``direction`` (left/right/up/down, from the person's side) for centre_face;
    ``requirement``: for ``live.check_failed``, the code of the full check's failed requirement."""

    code: str
    message_zh: str
    message_en: str
    direction: str | None = None
    requirement: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en}
        if self.direction:
            out["direction"] = self.direction
        if self.requirement:
            out["requirement"] = self.requirement
        return out


def instruction(code: str, direction: str | None = None) -> Instruction:
    text = messages()[code]
    key = direction or "advice"
    return Instruction(code, text[f"{key}_zh"], text[f"{key}_en"], direction)


def check_failed(verdict: Verdict) -> Instruction:
    """The full check refused the chosen frame: say its first failed requirement."""
    text = messages()["live.check_failed"]
    return Instruction("live.check_failed", text["advice_zh"] + verdict.message_zh,
                       text["advice_en"] + verdict.message_en, requirement=verdict.code)


def ranked(instructions: list[Instruction]) -> tuple[Instruction, ...]:
    """Most important first; one instruction per code."""
    seen: dict[str, Instruction] = {}
    for item in instructions:
        seen.setdefault(item.code, item)
    return tuple(sorted(seen.values(), key=lambda i: _ORDER.get(i.code, len(RANK))))


@dataclass(frozen=True)
class LiveLimit:
    """One live requirement: the measure it reads, its bound(s), and the profile rule it mirrors."""

    rule: str
    measure: str
    kind: str  # "min", "max" or "abs_max"
    limit: float


def _live_limit(rule: Rule) -> float:
    if not isinstance(rule.limit, int | float):
        raise TypeError(f"{rule.code}: a live limit mirrors a rule with one number, not {rule.limit!r}")
    limit = float(rule.limit)
    if rule.uncertainty:
        return limit + rule.uncertainty / 2 if rule.kind in ("abs_max", "max") else limit - rule.uncertainty / 2
    return limit * (1 - STRICTER) if rule.kind in ("abs_max", "max") else limit * (1 + STRICTER)


# live code -> the capture profile's rule it mirrors
_MIRRORS = {
    "live.move_closer": "face.size",
    "live.look_straight": "pose.yaw",
    "live.chin": "pose.pitch",  # chin_down or chin_up by the sign of the pitch
    "live.head_level": "pose.roll",
    "live.open_eyes": "eyes.open",
    "live.eyes_hidden": "eyes.visible",
    "live.close_mouth": "mouth.closed",
    "live.neutral_expression": "expression.neutral",
    "live.remove_tinted_glasses": "glasses.tinted",
    "live.glasses_glare": "glasses.glare",
    "live.uneven_light": "lighting.uniform",
    "live.keep_still": "image.sharpness",  # a blurred face is nearly always a moving one
}


@memoised
def live_limits(profile: str = "capture") -> dict[str, LiveLimit]:
    """The live requirements with their limits, read from ``profile``'s rules."""
    rules = {r.code: r for r in load_profile(profile).rules}
    out = {code: LiveLimit(rule, rules[rule].measure, rules[rule].kind, _live_limit(rules[rule]))
           for code, rule in _MIRRORS.items() if rule in rules}
    return out


@memoised
def exposure_limits(profile: str = "capture") -> dict[str, float]:
    """Face grey range, clipped shares and image 99th percentile of ``image.exposure``, 5 % stricter."""
    rule = {r.code: r for r in load_profile(profile).rules}["image.exposure"]
    if not isinstance(rule.limit, tuple | list):
        raise TypeError(f"image.exposure is a range, not {rule.limit!r}")
    low, high = rule.limit
    extra = rule.extra or {}
    return {"low": low * (1 + STRICTER), "high": high * (1 - STRICTER),
            "max_dark_share": extra.get("max_dark_share", 1.0) * (1 - STRICTER),
            "max_bright_share": extra.get("max_bright_share", 1.0) * (1 - STRICTER),
            "min_image_p99": extra.get("min_image_p99", 0.0) * (1 + STRICTER)}


@memoised
def margin_limits(profile: str = "capture") -> dict[str, float]:
    """Room needed around the head (``frame.margins``), in eye-to-chin lengths."""
    rule = {r.code: r for r in load_profile(profile).rules}["frame.margins"]
    if not isinstance(rule.limit, dict):
        raise TypeError(f"frame.margins has a limit per side, not {rule.limit!r}")
    return {side: float(v) for side, v in rule.limit.items()}
