"""The curves that turn a measure's value into its 0-100 quality score (higher is better).

Each measure's table in ``profiles/measures.toml`` names one kind below and gives its
parameters; each kind is written once, here, as a function of its parameters that returns the
curve. A curve reads the measure's value, or with ``input = "name"`` a number the measure
reports for its score (``Reading.inputs``). The score is the curve rounded and kept within 0-100.

The arithmetic of each kind is the one the measures used before their curves became data,
operation for operation: a value whose score lies on a half (12.5) rounds the same way.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError

Curve = Callable[[float], float]
Score = Callable[[float, Mapping[str, float]], int]  # (value, the measure's inputs) -> 0-100
Point = tuple[float, float]  # (value, score)


def iso_sigmoid(x: float, x0: float, w: float) -> float:
    """ISO/IEC 29794-5's S(x; x0, w)."""
    z = (x0 - x) / w
    if z > 700:
        return 0.0
    return 1.0 / (1.0 + math.exp(z))


def ramp(*, start: Point, end: Point) -> Curve:
    """A straight line from ``start`` to ``end``, flat beyond them."""
    (v0, s0), (v1, s1) = start, end

    def curve(x: float) -> float:
        t = (x - v0) / (v1 - v0)
        t = 0.0 if t < 0 else 1.0 if t > 1 else t  # a NaN stays NaN
        return s0 * (1 - t) + s1 * t
    return curve


def line(*, through: Point, slope: float) -> Curve:
    """The line through ``through`` with ``slope`` (score per unit of the value)."""
    v0, s0 = through
    return lambda x: s0 + slope * (x - v0)


def sigmoid_term(*, x0: float, w: float, falling: bool = False, distance_from: float | None = None) -> Curve:
    """S(x; x0, w), or 1 - S when ``falling``; of |x - distance_from| when that is given."""
    def term(x: float) -> float:
        if distance_from is not None:
            x = abs(x - distance_from)
        s = iso_sigmoid(x, x0, w)
        return 1 - s if falling else s
    return term


def sigmoid(*, x0: float, w: float, scale: float = 100, falling: bool = False,
            distance_from: float | None = None) -> Curve:
    """ISO/IEC 29794-5's ``scale`` x S(x; x0, w), or x (1 - S)."""
    term = sigmoid_term(x0=x0, w=w, falling=falling, distance_from=distance_from)
    return lambda x: scale * term(x)


def reciprocal(*, offset: float) -> Curve:
    """1 / (x + offset): 100 at 0 for offset 0.01, halved by each further 0.01."""
    return lambda x: 1 / (x + offset)


def power(*, exponent: float, scale: float = 100) -> Curve:
    """``scale`` x x ** ``exponent``."""
    return lambda x: scale * x ** exponent


def cosine_squared() -> Curve:
    """100 x cos² of an angle in degrees (0 beyond 90°): OFIQ's head-pose mapping."""
    return lambda x: 100 * max(0.0, math.cos(math.radians(x))) ** 2


def sine_peak(*, k: float) -> Curve:
    """100 sin(pi kx / (kx + 1)): 0 at 0, best at x = 1/k, falling beyond (OFIQ's luminance
    variance, k = 60)."""
    return lambda x: 100 * math.sin(math.pi * k * x / (k * x + 1))


KINDS: dict[str, Callable[..., Curve]] = {f.__name__: f for f in (ramp, line, sigmoid, reciprocal, power,
                                                                  cosine_squared, sine_peak)}
NONE = "none"  # the kind of a measure that never gives a value, so has no score


def clamp_score(q: float) -> int:
    return int(min(100, max(0, round(q))))


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_PAIR = ("a [value, score] pair", lambda v: isinstance(v, list) and len(v) == 2 and all(map(_number, v)))
# What each parameter must be, if not a number (the kinds use these names only).
_PARAMETERS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "start": _PAIR, "end": _PAIR, "through": _PAIR,
    "input": ("a name", lambda v: isinstance(v, str)),
    "falling": ("true or false", lambda v: isinstance(v, bool)),
    "times": ("a list of tables", lambda v: isinstance(v, list) and all(isinstance(t, dict) for t in v)),
}
_NUMBER = ("a number", _number)


def _arguments(kind: Callable[..., Curve], params: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``params`` checked against ``kind``'s keyword parameters (names, presence, types)."""
    accepted = inspect.signature(kind).parameters
    for name in params:
        if name not in accepted:
            raise ConfigError(f"{where}: unknown parameter {name!r} (takes {', '.join(accepted) or 'none'})",
                              code="config.invalid")
    for name, p in accepted.items():
        if name not in params:
            if p.default is inspect.Parameter.empty:
                raise ConfigError(f"{where}: missing parameter {name!r}", code="config.missing_key")
            continue
        _check(name, params[name], where)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def _check(name: str, value: object, where: str) -> None:
    what, valid = _PARAMETERS.get(name, _NUMBER)
    if not valid(value):
        raise ConfigError(f"{where}: {name} must be {what}, not {value!r}", code="config.invalid")


def _reader(params: dict[str, Any], where: str) -> Callable[[float, Mapping[str, float]], float]:
    """What a curve reads, taking ``input`` out of ``params``: the value, or the named input."""
    name = params.pop("input", None)
    if name is None:
        return lambda value, inputs: value
    _check("input", name, where)
    return lambda value, inputs: inputs[name]


def score_mapping(spec: Mapping[str, Any], where: str) -> Score | None:
    """The score ``spec`` (a measure's ``score`` table) describes, checked; None for kind "none".

    ``times`` multiplies the curve by further sigmoid terms, each reading its own ``input``."""
    params = dict(spec)
    if "kind" not in params:
        raise ConfigError(f"{where}: missing 'kind'", code="config.missing_key")
    kind = params.pop("kind")
    if kind == NONE:
        if params:
            raise ConfigError(f"{where}: kind {NONE!r} takes no parameters", code="config.invalid")
        return None
    if kind not in KINDS:
        raise ConfigError(f"{where}: unknown kind {kind!r} (one of {', '.join([*KINDS, NONE])})",
                          code="config.invalid")
    read = _reader(params, where)
    _check("times", params.get("times", []), where)
    terms = []
    for i, table in enumerate(params.pop("times", [])):
        table, at = dict(table), f"{where}.times[{i}]"
        terms.append((_reader(table, at), sigmoid_term(**_arguments(sigmoid_term, table, at))))
    curve = KINDS[kind](**_arguments(KINDS[kind], params, where))

    def score(value: float, inputs: Mapping[str, float]) -> int:
        q = curve(read(value, inputs))
        for term_read, term in terms:
            q = q * term(term_read(value, inputs))
        return clamp_score(q)
    return score
