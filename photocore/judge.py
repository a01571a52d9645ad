"""Judge measurements against a profile: cheap comparisons, one verdict per requirement.

A profile is data (``profiles/*.toml``): for each requirement code, the measure it reads, the
kind of comparison, the limit and its source. Judging never runs a model: the measurements
are computed once per capture and every profile is judged from the same ones.

Statuses: "pass", "fail", or "not_assessed" when the measure could not read the capture or the
value lies within the measure's stated uncertainty beyond the limit.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

from .caches import memoised
from .errors import ConfigError
from .measures import Measurement

PASS, FAIL, NOT_ASSESSED = "pass", "fail", "not_assessed"
KINDS = {"abs_max", "max", "min", "range", "equal", "sides"}
# a rule's limit: one number, a (low, high) pair for "range", a number per side for "sides"
Limit = float | tuple[float, float] | dict[str, float]


@dataclass(frozen=True)
class Rule:
    code: str
    measure: str
    kind: str
    limit: Limit  # the shape its kind compares with (_rule checks it)
    source: str
    uncertainty: float = 0.0
    policy: str | None = None
    extra: dict | None = None  # kind-specific bounds, e.g. max_dark_share

    def describe_limit(self) -> str:
        u = f" (±{self.uncertainty:g} uncertainty)" if self.uncertainty else ""
        limit = self.limit
        if self.policy == "allowed":
            return "allowed"
        if isinstance(limit, tuple):  # range
            return f"{limit[0]:g} to {limit[1]:g}"
        if isinstance(limit, dict):  # sides
            return ", ".join(f"{side} >= {value:g}" for side, value in limit.items())
        if self.kind == "abs_max":
            return f"|x| <= {limit:g}{u}"
        if self.kind == "max":
            return f"<= {limit:g}{u}"
        if self.kind == "min":
            return f">= {limit:g}{u}"
        return f"= {limit:g}"  # equal


@dataclass(frozen=True)
class Profile:
    name: str
    rules: tuple[Rule, ...]
    replaces: tuple[str, ...] = ()  # codes of other profiles' rules these rules stand in for


@dataclass(frozen=True)
class Verdict:
    code: str
    status: str
    value: float | None
    limit: str | None
    message_zh: str
    message_en: str

    def to_dict(self) -> dict:
        return {"code": self.code, "status": self.status, "value": self.value, "limit": self.limit,
                "message_zh": self.message_zh, "message_en": self.message_en}


@dataclass(frozen=True)
class Result:
    credential: str
    verdicts: tuple[Verdict, ...]

    @cached_property  # verdicts is a tuple: the answer never changes
    def compliant(self) -> bool:
        """No requirement failed. Not-assessed requirements are listed for the clerk to check."""
        return all(v.status != FAIL for v in self.verdicts)

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == FAIL]

    def to_dict(self) -> dict:
        return {"credential": self.credential, "compliant": self.compliant,
                "requirements": [v.to_dict() for v in self.verdicts]}


_RULE_KEYS = {"code", "measure", "kind", "limit", "source", "uncertainty", "policy"}


def _rule(entry: dict, where: str) -> Rule:
    for key in ("code", "measure", "kind", "limit", "source"):
        if key not in entry:
            raise ConfigError(f"{where}: rule is missing {key!r}", code="config.missing_key")
    if entry["kind"] not in KINDS:
        raise ConfigError(f"{where}: rule {entry['code']}: unknown kind {entry['kind']!r}", code="config.invalid")
    extra = {k: v for k, v in entry.items() if k not in _RULE_KEYS}
    return Rule(code=entry["code"], measure=entry["measure"], kind=entry["kind"], limit=_limit(entry, where),
                source=entry["source"], uncertainty=float(entry.get("uncertainty", 0.0)),
                policy=entry.get("policy"), extra=extra)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _limit(entry: dict, where: str) -> Limit:
    """The rule's limit in its kind's shape: a (low, high) pair for "range", a table of numbers
    for "sides", one number for the others."""
    kind, limit = entry["kind"], entry["limit"]
    if kind == "range":
        if isinstance(limit, list) and len(limit) == 2 and all(_number(v) for v in limit):
            return (limit[0], limit[1])
    elif kind == "sides":
        if isinstance(limit, dict) and all(_number(v) for v in limit.values()):
            return limit
    elif _number(limit):
        return limit
    raise ConfigError(f"{where}: rule {entry['code']}: limit {limit!r} does not fit kind {kind!r}",
                      code="config.invalid")


@memoised
def load_profile(name: str = "capture") -> Profile:
    """A profile shipped in ``photocore/profiles``."""
    from .measures import REGISTRY
    path = resources.files("photocore.profiles").joinpath(f"{name}.toml")
    if not path.is_file():
        raise ConfigError(f"unknown profile {name!r}", code="config.unknown_profile")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = tuple(_rule(entry, f"{name}.toml rule {i + 1}") for i, entry in enumerate(data.get("rule", [])))
    for rule in rules:
        if rule.measure not in REGISTRY:
            raise ConfigError(f"{name}.toml: rule {rule.code} reads unknown measure {rule.measure!r}",
                              code="config.unknown_measure")
        if rule.code not in messages():
            raise ConfigError(f"{name}.toml: rule {rule.code} has no messages", code="config.missing_message")
    return Profile(name=data.get("name", name), rules=rules, replaces=tuple(data.get("replaces", ())))


@memoised
def messages() -> dict:
    text = resources.files("photocore.profiles").joinpath("messages.toml").read_text(encoding="utf-8")
    flat = {}
    for group, entries in tomllib.loads(text).items():
        for name, value in entries.items():
            flat[f"{group}.{name}"] = value
    return flat


def _beyond(rule: Rule, value: float) -> float:
    """How far ``value`` lies beyond the rule's limit (<= 0 means within)."""
    limit = rule.limit
    if isinstance(limit, tuple):  # range
        low, high = limit
        return max(low - value, value - high)
    if isinstance(limit, dict):  # sides: judged side by side in _assess
        raise AssertionError(rule.kind)
    if rule.kind == "abs_max":
        return abs(value) - limit
    if rule.kind == "max":
        return value - limit
    if rule.kind == "min":
        return limit - value
    if rule.kind == "equal":
        return abs(value - limit)
    raise AssertionError(rule.kind)


# Second limits some rules carry besides the main one: (detail read, comparison, shown as).
_EXTRA_LIMITS = {"max_dark_share": ("dark_share", "max", "dark share"),
                 "max_bright_share": ("bright_share", "max", "bright share"),
                 "min_image_p99": ("image_p99", "min", "brightest 1%"),
                 "max_chroma": ("chroma", "max", "chroma")}


def _assess(rule: Rule, m: Measurement) -> tuple[str, float | None, str]:
    """(status, value, limit) of the part that decides: a failed verdict shows the value and the
    limit of what failed (a clipped share, the chroma, a short margin), not the main value."""
    limit = rule.describe_limit()
    extra = rule.extra or {}
    if isinstance(rule.limit, dict):  # sides
        short = [(m.details.get(side, 0.0), side, need) for side, need in rule.limit.items()
                 if m.details.get(side, 0.0) < need]
        if short:
            value, side, need = min(short, key=lambda s: s[0] - s[2])
            return FAIL, round(value, 3), f"{side} >= {need:g}"
        if not m.details.get("crown_inside", True):
            return FAIL, m.value, "crown inside the frame"
        return PASS, m.value, limit
    if rule.code == "image.colour" and m.details.get("greyscale"):
        return FAIL, m.value, "a colour photo, not greyscale"
    if m.value is None:  # _verdict judges only assessed measurements
        raise AssertionError(rule.code)
    beyond = _beyond(rule, m.value)
    if beyond > rule.uncertainty:
        return FAIL, m.value, limit
    for key, (detail, kind, label) in _EXTRA_LIMITS.items():
        bound, seen = extra.get(key), m.details.get(detail)
        if bound is not None and seen is not None and (seen > bound if kind == "max" else seen < bound):
            return FAIL, round(float(seen), 3), f"{label} {'<=' if kind == 'max' else '>='} {bound:g}"
    return (PASS if beyond <= 0 else NOT_ASSESSED), m.value, limit


@memoised
def _texts(code: str, status: str, assessed: bool) -> tuple[str, str]:
    """The clerk's (Chinese, English) messages for a verdict, looked up once (make_verdict adds any reason)."""
    text = messages()[code]
    if status == FAIL:
        return text["advice_zh"], text["advice_en"]
    if status == NOT_ASSESSED and not assessed:
        return (f"无法自动判断，请人工核对：{text['title_zh']}",
                f"Cannot be judged automatically, please check by eye: {text['title_en']}")
    if status == NOT_ASSESSED:
        return (f"接近限值，无法可靠判断，请人工核对：{text['title_zh']}",
                f"Too close to the limit to judge reliably, please check by eye: {text['title_en']}")
    return text["title_zh"], text["title_en"]


def make_verdict(code: str, status: str, value: float | None, limit: str | None, reason: str | None = None) -> Verdict:
    """A verdict with the clerk's messages for ``code`` and ``status``."""
    if status != FAIL and status != NOT_ASSESSED:
        status = PASS
    zh, en = _texts(code, status, value is not None)
    if status == NOT_ASSESSED and value is None and reason:
        en = f"{en}. ({reason})"
    return Verdict(code, status, value, limit, zh, en)


def _verdict(rule: Rule, m: Measurement) -> Verdict:
    limit = rule.describe_limit()
    if rule.code == "face.count" and (not m.assessed or m.value == 0):
        text = messages()[rule.code]
        return Verdict(rule.code, FAIL, m.value, limit, text["none_zh"], text["none_en"])
    if not m.assessed:
        return make_verdict(rule.code, NOT_ASSESSED, None, limit, m.reason)
    if rule.policy == "allowed":  # report what was seen
        return make_verdict(rule.code, PASS, m.value, limit)
    return make_verdict(rule.code, *_assess(rule, m))


def judge(measurements: dict[str, Measurement], profile: Profile, credential: str = "capture",
          memo: dict | None = None) -> Result:
    """Compare the capture's measurements with every rule of ``profile``.

    ``memo``, kept for one capture, lets profiles that share rules judge each rule once.
    """
    if memo is None:
        return Result(credential, tuple(_verdict(rule, measurements[rule.measure]) for rule in profile.rules))
    verdicts = []
    for rule in profile.rules:
        seen = memo.get(id(rule))
        if seen is None or seen[0] is not rule:  # the rule is kept with its verdict, so its id stays its own
            seen = memo[id(rule)] = (rule, _verdict(rule, measurements[rule.measure]))
        verdicts.append(seen[1])
    return Result(credential, tuple(verdicts))
